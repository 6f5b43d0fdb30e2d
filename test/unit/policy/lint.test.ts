/**
 * `policy check` finds rules and identity entries that can never decide
 * anything (errors, so `serve` refuses them too) and likely mistakes
 * (warnings). Coverage between patterns is exact; tested directly below.
 */
import { describe, expect, it } from 'vitest'
import { checkPolicy, loadPolicy } from '../../../src/policy/index.js'
import { covers, overlaps } from '../../../src/policy/pattern-algebra.js'
import { parseRule } from '../../../src/policy/rules.js'

const report = (text: string): string[] =>
  checkPolicy({ file: 'p.yaml', text }).diagnostics.map((d) => `${d.line}:${d.col} ${d.code}${d.severity === 'warning' ? ' (warning)' : ''} ${d.message}`)
const oneTeam = (lists: string): string => `version: 1\nidentities:\n  - match: { ou: t }\n    teams: [t]\nteams:\n  t:\n${lists}`

describe('unreachable rules (errors)', () => {
  it('an allow rule fully covered by a deny of the same team', () => {
    expect(report(oneTeam('    allow: ["POST /containers/{id}/exec"]\n    deny: ["POST /containers/**"]\n'))).toEqual([
      '7:13 DG_POLICY_UNREACHABLE allow rule "POST /containers/{id}/exec" in team \'t\' can never allow anything: "POST /containers/**" at line 8 denies all of it'
    ])
  })

  it('a duplicate allow rule, and a narrower repeat of an earlier one', () => {
    expect(report(oneTeam('    allow:\n      - "GET /containers/json"\n      - "GET /containers/**"\n      - "GET /containers/json"\n'))).toEqual([
      '10:9 DG_POLICY_UNREACHABLE allow rule "GET /containers/json" in team \'t\' can never decide: "GET /containers/json" at line 8 already allows all of it'
    ])
    expect(report(oneTeam('    allow: ["* /**", "GET /_ping"]\n'))).toEqual([
      '7:22 DG_POLICY_UNREACHABLE allow rule "GET /_ping" in team \'t\' can never decide: "* /**" at line 7 already allows all of it'
    ])
  })

  it('a rule already included by an earlier group entry, and a group wholly covered by a deny', () => {
    expect(report(oneTeam('    allow: ["@read-only", "GET /images/library/nginx/json"]\n'))[0]).toMatch(/^7:27 DG_POLICY_UNREACHABLE allow rule "GET \/images\/library\/nginx\/json" .*"GET \/images\/\*\*\/json" \(from @read-only\) at line 7/)
    expect(report(oneTeam('    allow: ["@exec"]\n    deny: ["* /**"]\n'))[0]).toMatch(/^7:13 DG_POLICY_UNREACHABLE allow group @exec in team 't' can never allow anything/)
  })

  it('a deny rule repeated', () => {
    expect(report(oneTeam('    allow: ["* /**"]\n    deny: ["POST /containers/**", "POST /containers/create"]\n'))).toEqual([
      '8:35 DG_POLICY_UNREACHABLE deny rule "POST /containers/create" in team \'t\' can never decide: "POST /containers/**" at line 8 already denies all of it'
    ])
  })

  it('does not flag overlapping groups, or a rule only partly covered', () => {
    expect(report(oneTeam('    allow: ["@read-only", "@containers-run", "@exec", "GET /containers/**"]\n    deny: ["GET /containers/{id}/logs"]\n'))).toEqual([])
  })

  it('makes loading fail, so serve refuses the policy too', () => {
    expect(loadPolicy({ file: 'p.yaml', text: oneTeam('    allow: ["GET /_ping", "GET /_ping"]\n') }).ok).toBe(false)
  })
})

describe('shadowed identity entries (errors)', () => {
  const identities = (entries: string): string[] =>
    report(`version: 1\nidentities:\n${entries}teams:\n  a: { allow: ["GET /_ping"] }\n  b: { allow: ["GET /_ping"] }\n`)

  it('an entry matching a superset comes first', () => {
    expect(identities('  - match: { ou: ci }\n    teams: [a]\n  - match: { ou: ci, cn: "ci-runner-*" }\n    teams: [b]\n')).toEqual([
      '5:5 DG_POLICY_UNREACHABLE identity entry never matches: the entry at line 3 matches every certificate this one does, and the first match wins (put the narrower entry first)'
    ])
    expect(identities('  - match: { cn: "ci-*" }\n    teams: [a]\n  - match: { cn: "ci-runner-*" }\n    teams: [b]\n')).toHaveLength(1)
    expect(identities('  - match: { cn: "*" }\n    teams: [a]\n  - match: { ou: x }\n    teams: [b]\n')).toHaveLength(0)
    expect(identities('  - match: { cn: "*" }\n    teams: [a]\n  - match: { cn: alice }\n    teams: [b]\n')).toHaveLength(1)
  })

  it('the narrower entry first is fine', () => {
    expect(identities('  - match: { ou: ci, cn: "ci-runner-*" }\n    teams: [b]\n  - match: { ou: ci }\n    teams: [a]\n')).toEqual([])
  })
})

describe('warnings', () => {
  it('a deny rule on a hijack-only endpoint, with the advice to deny exec create', () => {
    expect(report(oneTeam('    allow: ["POST /exec/**"]\n    deny: ["POST /exec/{id}/start"]\n'))).toEqual([
      '8:12 DG_POLICY_HIJACK_DENY (warning) deny rule "POST /exec/{id}/start" refuses a hijacked (upgraded) request: the docker CLI prints only "unable to upgrade to tcp, received 403", not the reason; deny POST /containers/{id}/exec (exec create) instead'
    ])
  })

  it('no hijack warning for an entry that also refuses ordinary requests', () => {
    expect(report(oneTeam('    allow: ["* /**"]\n    deny: ["@exec"]\n'))).toEqual([])
  })

  it('a deny rule that removes nothing its team allows', () => {
    expect(report(oneTeam('    allow: ["GET /_ping"]\n    deny: ["POST /containers/{id}/exec"]\n'))[0]).toMatch(/^8:12 DG_POLICY_DENY_UNUSED \(warning\) deny rule "POST \/containers\/\{id\}\/exec" removes nothing: team 't' allows none of it/)
  })

  it('a team no identity uses', () => {
    expect(report('version: 1\nidentities: []\nteams:\n  lonely: {}\n')).toEqual([
      "4:3 DG_POLICY_TEAM_UNUSED (warning) team 'lonely' is given to no identity, so its rules never apply"
    ])
  })

  it('do not stop a policy from loading', () => {
    const result = loadPolicy({ file: 'p.yaml', text: 'version: 1\nidentities: []\nteams:\n  lonely: {}\n' })
    expect(result.ok && result.value.warnings.map((w) => w.code)).toEqual(['DG_POLICY_TEAM_UNUSED'])
  })
})

describe('pattern coverage and overlap', () => {
  const rule = (text: string): Exclude<ReturnType<typeof parseRule>, { ok: false }> => {
    const parsed = parseRule(text)
    if (!parsed.ok) throw new Error(parsed.problem)
    return parsed
  }
  it.each([
    ['* /**', 'GET /_ping', true],
    ['GET /containers/**', 'GET /containers', true],
    ['GET /containers/*', 'GET /containers/{id}', true],
    ['GET /containers/{id}', 'GET /containers/json', true],
    ['GET /containers/json', 'GET /containers/{id}', false],
    ['GET /images/**/json', 'GET /images/{name}/json', true],
    ['GET /images/**/json', 'GET /images/**/history', false],
    ['GET /x/*/**', 'GET /x/**', false],
    ['GET /x/**', 'GET /x/*/**', true],
    ['GET /**/json', 'GET /a/**/b/json', true],
    ['GET,HEAD /_ping', 'HEAD /_ping', true],
    ['GET /_ping', 'GET,HEAD /_ping', false]
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(covers(rule(outer), rule(inner))).toBe(expected)
  })

  it.each([
    ['GET /containers/{id}/json', 'GET /containers/json/**', true],
    ['GET /images/**/json', 'GET /images/get', false],
    ['GET /a/**/c', 'GET /a/b/**', true],
    ['POST /x', 'GET /x', false],
    ['GET /a/b', 'GET /a/c', false]
  ])('%s overlaps %s: %s', (a, b, expected) => {
    expect(overlaps(rule(a), rule(b))).toBe(expected)
    expect(overlaps(rule(b), rule(a))).toBe(expected)
  })
})
