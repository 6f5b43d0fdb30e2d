/**
 * Loading the parts of a policy that issue 3 adds: `containers:` settings,
 * `mode:`, and `@group` entries. Every mistake is reported at its place.
 */
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { GROUPS, loadPolicy, parseRule } from '../../../src/policy/index.js'
import { policyFrom } from '../../support/judge.js'

const problems = (text: string): string[] => {
  const result = loadPolicy({ file: 'p.yaml', text })
  return result.ok ? [] : result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}
const team = (body: string): string => `version: 1\nidentities:\n  - match: { ou: t }\n    teams: [t]\nteams:\n  t:\n${body}`

describe('containers settings', () => {
  it('accepts unrestricted, the mapping form, and nothing (the safe defaults)', () => {
    expect(problems(team('    containers: unrestricted\n'))).toEqual([])
    expect(problems(team('    containers:\n      privileged: true\n      hostNamespaces: false\n      capAdd: [NET_ADMIN, cap_sys_ptrace, ALL]\n      devices: true\n      unconfined: false\n      bindMounts: ["/srv/**", "/home/*/cache", "/"]\n'))).toEqual([])
    const defaults = policyFrom(team('    allow: []\n')).compiledTeams[0]?.containers
    expect(defaults).toMatchObject({ unrestricted: false, privileged: false, hostNamespaces: false, devices: false, unconfined: false, capAdd: [], bindMounts: [] })
  })

  it('reports a misspelt setting with the valid ones, and wrong types, at their place', () => {
    expect(problems(team('    containers:\n      priviliged: true\n      devices: "yes"\n'))).toEqual([
      "8:7 DG_UNKNOWN_KEY unknown key 'priviliged' in teams.t.containers; valid keys: privileged, hostNamespaces, capAdd, devices, unconfined, bindMounts, images, requireDigest, resources (did you mean 'privileged'?)",
      "9:16 DG_WRONG_TYPE 'teams.t.containers.devices' must be true or false (may give containers host devices), got a string"
    ])
  })

  it('refuses any other word than unrestricted', () => {
    expect(problems(team('    containers: restricted\n'))).toEqual([
      '7:17 DG_BAD_VALUE containers must be unrestricted or a mapping of settings (privileged, hostNamespaces, capAdd, devices, unconfined, bindMounts, images, requireDigest, resources), got "restricted"'
    ])
  })

  it('refuses unknown capabilities with a suggestion', () => {
    expect(problems(team('    containers:\n      capAdd: [NET_ADMN]\n'))).toEqual([
      "8:16 DG_BAD_VALUE unknown capability 'NET_ADMN' (did you mean 'NET_ADMIN'?); names are like NET_ADMIN or CAP_NET_ADMIN, or ALL"
    ])
  })

  it('refuses bind-mount patterns that are relative or not clean', () => {
    expect(problems(team('    containers:\n      bindMounts: [srv/ci, "/srv/../etc", "/srv/ci/", "/a/b**"]\n'))).toEqual([
      '8:20 DG_BAD_VALUE bind-mount pattern "srv/ci" must be an absolute host path like /srv/ci/**',
      '8:28 DG_BAD_VALUE bind-mount pattern "/srv/../etc" is not a clean path (no //, . or .. segments, no trailing /); write /etc',
      '8:43 DG_BAD_VALUE bind-mount pattern "/srv/ci/" is not a clean path (no //, . or .. segments, no trailing /); write /srv/ci',
      '8:55 DG_BAD_VALUE \'**\' must be a whole segment in bind-mount pattern "/a/b**"'
    ])
  })
})

describe('modes', () => {
  it('defaults to enforce; a team inherits the top-level mode unless it sets its own', () => {
    const policy = policyFrom('version: 1\nmode: audit\nidentities:\n  - match: { ou: t }\n    teams: [a, b]\nteams:\n  a: {}\n  b:\n    mode: enforce\n')
    expect(policy.mode).toBe('audit')
    expect(policy.compiledTeams.map((t) => `${t.name}:${t.mode}`)).toEqual(['a:audit', 'b:enforce'])
    expect(policyFrom(team('    allow: []\n')).mode).toBe('enforce')
  })

  it('refuses other modes', () => {
    expect(problems(team('    mode: dry-run\n'))).toEqual(['7:11 DG_BAD_VALUE mode must be enforce or audit, got "dry-run"'])
  })
})

describe('groups', () => {
  it('expands a group in place, each rule keeping the entry position and the group name', () => {
    const rules = policyFrom(team('    allow: ["@exec"]\n')).rules
    expect(rules.map((r) => `${r.line}:${r.col} ${r.text} ${r.group ?? ''}`)).toEqual(GROUPS['@exec']?.rules.map((text) => `7:13 ${text} @exec`))
  })

  it('refuses an unknown group, listing the groups and a close match', () => {
    expect(problems(team('    allow: ["@readonly"]\n'))).toEqual([
      "7:13 DG_POLICY_BAD_RULE unknown group '@readonly'; groups: @ping, @read-only, @containers-run, @exec (did you mean '@read-only'?)"
    ])
  })

  it('every built-in expansion is a valid rule', () => {
    for (const [name, group] of Object.entries(GROUPS)) {
      for (const rule of group.rules) expect(parseRule(rule).ok, `${name}: ${rule}`).toBe(true)
    }
  })

  it('docs/policy.md documents every group with its exact expansion', () => {
    const policyDoc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'policy.md'), 'utf8')
    for (const [name, group] of Object.entries(GROUPS)) {
      const row = policyDoc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`))
      expect(row, `docs/policy.md lacks a row for ${name}`).toBeDefined()
      const documented = [...(row?.split('|')[2] ?? '').matchAll(/`([^`]+)`/g)].map((m) => m[1])
      expect(documented, name).toEqual(group.rules)
    }
  })

  it('@read-only reads no file or stream contents and changes nothing', () => {
    const rules = GROUPS['@read-only']?.rules ?? []
    expect(rules.every((r) => /^(GET|GET,HEAD) /.test(r))).toBe(true)
    expect(rules.join('\n')).not.toMatch(/archive|export|logs|attach|\/get\b|\/configs/)
  })
})

describe('the example policies in policies/', () => {
  const dir = join(import.meta.dirname, '..', '..', '..', 'policies')
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    it(`${name} loads with no errors and no warnings`, () => {
      const policy = policyFrom(readFileSync(join(dir, name), 'utf8'))
      expect(policy.warnings).toEqual([])
    })
  }
})
