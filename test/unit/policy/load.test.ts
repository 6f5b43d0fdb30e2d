import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { loadPolicy, type Policy } from '../../../src/policy/index.js'

const fixture = (name: string): { file: string; text: string } =>
  ({ file: `test/fixtures/policy/${name}`, text: readFileSync(new URL(`../../fixtures/policy/${name}`, import.meta.url), 'utf8') })

function loaded (file: string, text: string): Policy {
  const result = loadPolicy({ file, text })
  if (!result.ok) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'))
  return result.value
}

/** Diagnostics as `LINE:COL CODE message` for a policy text. */
function problems (text: string): string[] {
  const result = loadPolicy({ file: 'p.yaml', text })
  return result.ok ? [] : result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}

const withRule = (rule: string): string =>
  `version: 1\nidentities: []\nteams:\n  t:\n    allow:\n      - ${JSON.stringify(rule)}\n`

describe('loadPolicy: valid policies', () => {
  it('loads the documented example with teams and rule positions', () => {
    const { file, text } = fixture('example.yaml')
    const policy = loaded(file, text)
    expect(policy.file).toBe(file)
    expect(policy.teams).toEqual(['platform', 'ci'])
    expect(policy.rules.map((r) => `${r.line}:${r.col} ${r.team} ${r.effect} ${r.text}`)).toEqual([
      '10:13 platform allow * /**',
      '13:9 ci allow GET,HEAD /_ping',
      '14:9 ci allow GET /containers/json',
      '15:9 ci allow POST /containers/{id}/start',
      '17:9 ci deny POST /containers/{id}/exec'
    ])
  })

  it('loads the shipped development policy without errors', () => {
    const text = readFileSync(new URL('../../../policies/default.yaml', import.meta.url), 'utf8')
    const policy = loaded('policies/default.yaml', text)
    expect(policy.teams).toEqual(['platform', 'readonly'])
    const readonlyRules = policy.rules.filter((r) => r.team === 'readonly').map((r) => r.text)
    expect(readonlyRules).toContain('GET,HEAD /_ping')
    // Read-only means metadata, never file or stream contents.
    expect(readonlyRules.join('\n')).not.toMatch(/archive|export|logs|\/get\b|attach|exec/)
  })

  it('is deeply frozen', () => {
    const { file, text } = fixture('example.yaml')
    const policy = loaded(file, text)
    expect(Object.isFrozen(policy)).toBe(true)
    expect(Object.isFrozen(policy.rules[0])).toBe(true)
    expect(Object.isFrozen(policy.identities[0]?.match)).toBe(true)
    expect(Object.isFrozen(policy.compiledTeams[1]?.deny[0]?.segments)).toBe(true)
  })

  it('accepts an empty policy (which then denies everything)', () => {
    expect(problems('version: 1\nidentities: []\nteams: {}\n')).toEqual([])
  })

  it('accepts a team with neither allow nor deny, and an identity with no teams', () => {
    expect(problems('version: 1\nidentities:\n  - match: { cn: blocked }\n    teams: []\nteams:\n  idle: {}\n')).toEqual([])
  })

  it('accepts every valid rule form', () => {
    for (const rule of ['* /**', 'GET /_ping', 'GET,HEAD,POST,PUT,DELETE,PATCH,OPTIONS /x', 'POST /containers/{id}/start',
      'GET /containers/*/json', 'GET /containers/**', "GET /images/a-b_c.d~e!$&'()+,=:@/json", 'GET /x/{_a1}/y',
      'GET /images/**/json', 'GET /**/json', 'DELETE /plugins/**/x/{id}']) {
      expect(problems(withRule(rule)), rule).toEqual([])
    }
  })
})

describe('loadPolicy: every problem at once, at its place', () => {
  it('reports all mistakes of a file in one load, sorted by position', () => {
    const { file, text } = fixture('many-errors.yaml')
    const result = loadPolicy({ file, text })
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code}`)).toEqual([
      '3:1 DG_UNKNOWN_KEY', // identitys
      '5:12 DG_POLICY_BAD_MATCH', // match: {}
      '7:26 DG_UNKNOWN_KEY', // email
      '8:17 DG_POLICY_UNKNOWN_TEAM', // platfrom
      '11:13 DG_POLICY_BAD_RULE', // get
      '13:5 DG_UNKNOWN_KEY', // alow
      '15:9 DG_POLICY_BAD_RULE', // two spaces
      '16:9 DG_POLICY_BAD_RULE', // version in rule
      '17:9 DG_POLICY_BAD_RULE', // trailing slash
      '19:9 DG_WRONG_TYPE' // 42
    ])
    expect(result.diagnostics.every((d) => d.file === file)).toBe(true)
  })

  it('explains an unknown key with the valid keys and a suggestion', () => {
    expect(problems('version: 1\nidentities: []\nteams:\n  t:\n    alow: []\n')).toEqual([
      "5:5 DG_UNKNOWN_KEY unknown key 'alow' in teams.t; valid keys: allow, deny, mode, containers, audit, ownership, quota (did you mean 'allow'?)"
    ])
  })

  it('requires version, identities and teams', () => {
    expect(problems('version: 1\n')).toEqual([
      "1:1 DG_MISSING_KEY missing required key 'identities' at the top level",
      "1:1 DG_MISSING_KEY missing required key 'teams' at the top level"
    ])
  })

  it('refuses other versions as a bad value and non-numbers as a wrong type', () => {
    expect(problems('version: 2\nidentities: []\nteams: {}\n')).toEqual([
      '1:10 DG_BAD_VALUE unsupported policy version 2; this dockgate reads version: 1'
    ])
    expect(problems('version: "1"\nidentities: []\nteams: {}\n')[0]).toMatch(/^1:10 DG_WRONG_TYPE 'version' must be the number 1, got a string$/)
  })

  it('refuses an empty match and says how to match everything on purpose', () => {
    expect(problems('version: 1\nidentities:\n  - match: {}\n    teams: []\nteams: {}\n')).toEqual([
      '3:12 DG_POLICY_BAD_MATCH match names no field; use cn: "*" to match every certificate on purpose'
    ])
  })

  it('refuses an empty match value', () => {
    expect(problems('version: 1\nidentities:\n  - match: { ou: "" }\n    teams: []\nteams: {}\n')[0])
      .toContain('DG_POLICY_BAD_MATCH ou: "" matches no certificate')
  })

  it('names an unknown team at its position, listing defined teams and the close match', () => {
    expect(problems('version: 1\nidentities:\n  - match: { ou: p }\n    teams: [ci, platfrom]\nteams:\n  ci: {}\n  platform: {}\n')).toEqual([
      "4:17 DG_POLICY_UNKNOWN_TEAM unknown team 'platfrom'; defined teams: ci, platform (did you mean 'platform'?)"
    ])
  })

  it('refuses team names that would be ambiguous in messages', () => {
    expect(problems('version: 1\nidentities: []\nteams:\n  "a, b": {}\n')[0]).toMatch(/^4:3 DG_BAD_VALUE team name 'a, b'/)
  })

  it('refuses the empty document and non-mapping documents', () => {
    expect(problems('')[0]).toContain('DG_WRONG_TYPE the document must be a mapping')
    expect(problems('- a\n')[0]).toContain('DG_WRONG_TYPE the document must be a mapping')
  })

  it('stops at YAML syntax errors instead of piling schema errors on top', () => {
    const found = problems('version: 7\nidentities: [\n')
    expect(found.length).toBeGreaterThan(0)
    expect(found.every((line) => line.includes('DG_YAML_SYNTAX'))).toBe(true)
  })

  it('reports duplicate keys together with every other problem (the document is whole), and does not load', () => {
    const text = 'version: 1\nversion: 1\nidentities:\n  - match: { ou: a }\n    teams: [nobody]\nteams:\n  a:\n    allow: ["GIT /**"]\n    allow: []\n'
    const found = problems(text)
    expect(found[0]).toBe("2:1 DG_YAML_DUPLICATE_KEY key 'version' (first at line 1) appears twice in the same mapping; YAML would silently keep only one of them")
    expect(found.some((line) => line.startsWith('9:5 DG_YAML_DUPLICATE_KEY'))).toBe(true)
    expect(found.some((line) => line.includes('nobody'))).toBe(true)
    expect(loadPolicy({ file: 'p.yaml', text }).ok).toBe(false)
  })
})

describe('loadPolicy: rule syntax errors say what would be valid', () => {
  const ruleProblem = (rule: string): string => {
    const found = problems(withRule(rule))
    expect(found, rule).toHaveLength(1)
    expect(found[0], rule).toMatch(/^6:9 DG_POLICY_BAD_RULE /)
    return found[0] ?? ''
  }

  it.each([
    ['GET  /_ping', 'separated by exactly one space'],
    ['GET\t/_ping', 'separated by exactly one space'],
    [' GET /_ping', 'separated by exactly one space'],
    ['GET /_ping extra', 'separated by exactly one space'],
    ['GET', 'separated by exactly one space'],
    ['get /_ping', 'methods are upper-case: write GET, not get'],
    ['FETCH /_ping', "unknown method 'FETCH'"],
    ['*,GET /_ping', "'*' already means every method"],
    ['GET,* /_ping', "'*' already means every method"],
    ['GET,GET /_ping', 'method GET is listed twice'],
    ['GET, /_ping', 'empty method in "GET,"'],
    ['GET,,HEAD /_ping', 'empty method'],
    ['GET _ping', 'must start with /'],
    ['GET /', 'use /** to match every path'],
    ['GET /containers/', 'trailing slash'],
    ['GET /containers//json', 'empty segment (//)'],
    ['GET /**/x/**', "only one '**' per path"],
    ['GET /x**/json', "'*' must be a whole segment"],
    ['GET /containers/{1id}/json', "bad parameter '{1id}'"],
    ['GET /containers/{id/json', "'{' and '}' may only wrap a whole segment"],
    ['GET /containers/{}/json', "bad parameter '{}'"],
    ['GET /containers/x{id}/json', "'{' and '}' may only wrap a whole segment"],
    ['GET /containers/abc*/json', "'*' must be a whole segment"],
    ['GET /containers/../exec', "'..' segments never reach a rule"],
    ['GET /containers/./json', "'.' segments never reach a rule"],
    ['GET /containers/%2e/json', 'no percent-encoding in rules'],
    ['GET /containers/a;b', 'cannot appear in a canonical request path'],
    ['GET /containers/a\\b', 'cannot appear in a canonical request path'],
    ['GET /v1.41/containers/json', 'rules never name the API version'],
    ['GET /v1/containers/json', 'rules never name the API version']
  ])('%j', (rule, expected) => {
    expect(ruleProblem(rule)).toContain(expected)
  })

  it('quotes the rule in the message', () => {
    expect(ruleProblem('get /_ping')).toContain('bad rule "get /_ping":')
  })
})
