import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { canonicalize, decide, loadPolicy, matchIdentity, type CanonicalTarget, type Decision, type Policy, type Principal } from '../../../src/policy/index.js'

function policyFrom (text: string): Policy {
  const result = loadPolicy({ file: 'p.yaml', text })
  if (!result.ok) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'))
  return result.value
}

function principal (fields: Partial<Principal>): Principal {
  return { subject: 'CN=someone', cn: [], ou: [], o: [], sanDns: [], sanUri: [], sanEmail: [], ...fields }
}

function target (raw: string): CanonicalTarget {
  const result = canonicalize(raw)
  if (!result.ok) throw new Error(result.reason)
  return result.target
}

const example = policyFrom(readFileSync(new URL('../../fixtures/policy/example.yaml', import.meta.url), 'utf8'))
const ciRunner = principal({ subject: 'CN=ci-runner-7,O=acme', cn: ['ci-runner-7'], o: ['acme'] })
const platformAdmin = principal({ subject: 'CN=alice,OU=platform', cn: ['alice'], ou: ['platform'] })

const judge = (policy: Policy, who: Principal, method: string, raw: string): Decision => decide(policy, who, method, target(raw))
const verdict = (policy: Policy, who: Principal, method: string, raw: string): string => {
  const d = judge(policy, who, method, raw)
  return d.allowed ? `allow ${d.team}: ${d.rule.text}` : `deny ${d.rule?.text ?? '(default)'}: ${d.refusal.message}`
}

describe('decide: the documented example', () => {
  it('lets a platform certificate do anything', () => {
    expect(verdict(example, platformAdmin, 'POST', '/v1.41/containers/abc/exec')).toBe('allow platform: * /**')
    expect(verdict(example, platformAdmin, 'DELETE', '/images/x')).toBe('allow platform: * /**')
  })

  it('lets a CI runner ping with GET and HEAD, and names the allowing rule and its place', () => {
    const decision = judge(example, ciRunner, 'HEAD', '/_ping')
    expect(decision).toMatchObject({ allowed: true, team: 'ci', rule: { text: 'GET,HEAD /_ping', line: 13, col: 9, effect: 'allow' } })
    expect(decision.identity).toEqual({ index: 1, line: 6, teams: ['ci'] })
  })

  it('matches rules against the path without the API version', () => {
    expect(verdict(example, ciRunner, 'POST', '/v1.41/containers/abc/start')).toBe('allow ci: POST /containers/{id}/start')
    expect(verdict(example, ciRunner, 'POST', '/containers/abc/start')).toBe('allow ci: POST /containers/{id}/start')
  })

  it('refuses what only the deny rule mentions, naming the deny rule', () => {
    expect(verdict(example, ciRunner, 'POST', '/v1.41/containers/abc/exec?x=1'))
      .toBe('deny POST /containers/{id}/exec: dockgate: ci may not POST /containers/abc/exec')
  })

  it('refuses by default, with no rule, when nothing matches', () => {
    const decision = judge(example, ciRunner, 'DELETE', '/containers/abc')
    expect(decision).toMatchObject({ allowed: false, rule: null, refusal: { code: 'DG_DENIED', status: 403 } })
  })

  it('does not let GET imply HEAD, nor match a different method', () => {
    expect(judge(example, ciRunner, 'HEAD', '/containers/json').allowed).toBe(false)
    expect(judge(example, ciRunner, 'POST', '/containers/json').allowed).toBe(false)
  })

  it('treats an upper-case path as a different literal', () => {
    expect(judge(example, ciRunner, 'GET', '/CONTAINERS/json').allowed).toBe(false)
  })

  it('refuses a certificate no identity matches, escaping its subject', () => {
    const stranger = principal({ subject: 'CN=evil\n200 OK\u0000\u202e', cn: ['evil'] })
    const decision = judge(example, stranger, 'GET', '/_ping')
    expect(decision).toEqual({
      allowed: false,
      identity: null,
      rule: null,
      refusal: { code: 'DG_NO_IDENTITY', status: 403, message: 'dockgate: certificate CN=evil\\n200 OK\\x00\\u202e matches no identity in the policy' }
    })
    expect(matchIdentity(example, stranger)).toBeNull()
  })
})

describe('decide: path patterns', () => {
  const policy = policyFrom([
    'version: 1',
    'identities:',
    '  - match: { cn: "*" }',
    '    teams: [t]',
    'teams:',
    '  t:',
    '    allow:',
    '      - "GET /containers/**"',
    '      - "GET /images/*/json"',
    '      - "GET,HEAD /_ping"'
  ].join('\n'))
  const anyone = principal({ cn: ['x'] })
  const allowed = (raw: string): boolean => judge(policy, anyone, 'GET', raw).allowed

  it('** matches zero or more trailing segments, so /containers/** covers /containers itself', () => {
    expect(allowed('/containers')).toBe(true)
    expect(allowed('/containers/json')).toBe(true)
    expect(allowed('/containers/a/attach/ws')).toBe(true)
    expect(allowed('/containersx')).toBe(false)
  })

  it('* and {name} match exactly one segment', () => {
    expect(allowed('/images/nginx/json')).toBe(true)
    expect(allowed('/images/library/nginx/json')).toBe(false)
    expect(allowed('/images/json')).toBe(false)
  })

  it('a literal path matches only itself', () => {
    expect(allowed('/_ping')).toBe(true)
    expect(allowed('/_ping/x')).toBe(false)
    expect(allowed('/_pin')).toBe(false)
  })

  it('refuses methods outside the Docker API even under *', () => {
    const everything = policyFrom('version: 1\nidentities:\n  - match: { cn: "*" }\n    teams: [all]\nteams:\n  all:\n    allow: ["* /**"]\n')
    expect(judge(everything, anyone, 'OPTIONS', '/x').allowed).toBe(true)
    expect(judge(everything, anyone, 'TRACE', '/x').allowed).toBe(false)
    expect(judge(everything, anyone, 'get', '/x').allowed).toBe(false)
  })
})

describe('decide: several teams', () => {
  const policy = policyFrom([
    'version: 1',
    'identities:',
    '  - match: { ou: ops }',
    '    teams: [builders, viewers]',
    'teams:',
    '  builders:',
    '    allow: ["* /containers/**"]',
    '    deny: ["POST /containers/{id}/exec", "DELETE /containers/{id}"]',
    '  viewers:',
    '    allow: ["GET /**"]',
    '    deny: ["DELETE /containers/{id}"]'
  ].join('\n'))
  const ops = principal({ ou: ['ops'] })

  it('deny beats allow within a team', () => {
    expect(verdict(policy, ops, 'POST', '/containers/a/exec')).toBe(
      'deny POST /containers/{id}/exec: dockgate: builders, viewers may not POST /containers/a/exec')
  })

  it("roles add up: one team's deny does not veto another team's allow", () => {
    expect(verdict(policy, ops, 'GET', '/containers/a/exec')).toBe('allow builders: * /containers/**')
    expect(verdict(policy, ops, 'GET', '/images/json')).toBe('allow viewers: GET /**')
  })

  it('reports the first deny rule by team order when every team refuses', () => {
    const decision = judge(policy, ops, 'DELETE', '/containers/a')
    expect(decision.allowed).toBe(false)
    expect(decision.rule).toMatchObject({ team: 'builders', text: 'DELETE /containers/{id}', effect: 'deny' })
  })
})

describe('matchIdentity', () => {
  const policy = policyFrom([
    'version: 1',
    'identities:',
    '  - match: { cn: "deploy-*", ou: release }', // index 0: both fields must match
    '    teams: [a]',
    '  - match: { san_dns: "*.build.example.com" }', // index 1
    '    teams: [b]',
    '  - match: { san_uri: "spiffe://example.com/*/worker" }', // index 2
    '    teams: [a, b]',
    '  - match: { san_email: "ops@example.com" }', // index 3
    '    teams: [b]',
    '  - match: { o: "a?c[1]" }', // index 4: ? and [ are literal
    '    teams: [a]',
    '  - match: { cn: "*" }', // index 5: catch-all, but only if a CN is present
    '    teams: []',
    'teams:',
    '  a: {}',
    '  b: {}'
  ].join('\n'))
  const indexOf = (fields: Partial<Principal>): number | null => matchIdentity(policy, principal(fields))?.index ?? null

  it('requires every field of an entry to match', () => {
    expect(indexOf({ cn: ['deploy-1'], ou: ['release'] })).toBe(0)
    expect(indexOf({ cn: ['deploy-1'], ou: ['dev'] })).toBe(5)
  })

  it('matches when ANY value of a multi-valued field matches', () => {
    expect(indexOf({ cn: ['deploy-1'], ou: ['dev', 'release'] })).toBe(0)
    expect(indexOf({ sanDns: ['a.example.org', 'x.build.example.com'] })).toBe(1)
  })

  it('lets the first matching entry win even when a later one also matches', () => {
    expect(indexOf({ cn: ['deploy-1'], ou: ['release'], sanDns: ['x.build.example.com'] })).toBe(0)
  })

  it('globs: * matches any run including an empty one, anchored at both ends', () => {
    expect(indexOf({ sanDns: ['.build.example.com'] })).toBe(1)
    expect(indexOf({ sanDns: ['x.build.example.com.evil.org'] })).toBeNull()
    expect(indexOf({ sanUri: ['spiffe://example.com/ns/prod/worker'] })).toBe(2)
    expect(indexOf({ sanUri: ['spiffe://example.com/worker'] })).toBeNull()
  })

  it('is case-sensitive and treats ? and [ literally', () => {
    expect(indexOf({ sanEmail: ['OPS@example.com'] })).toBeNull()
    expect(indexOf({ o: ['a?c[1]'] })).toBe(4)
    expect(indexOf({ o: ['abc1'] })).toBeNull()
  })

  it('does not match * against a field the certificate lacks', () => {
    expect(indexOf({ ou: ['x'] })).toBeNull()
  })

  it('refuses an identity with no teams with a readable message', () => {
    const decision = decide(policy, principal({ cn: ['nobody'] }), 'GET', target('/_ping'))
    expect(decision.allowed ? '' : decision.refusal.message).toBe('dockgate: a certificate with no teams may not GET /_ping')
  })

  it('stays linear on patterns with many stars', () => {
    const stars = policyFrom(`version: 1\nidentities:\n  - match: { cn: "${'*a'.repeat(20)}*b" }\n    teams: []\nteams: {}\n`)
    const started = performance.now()
    expect(matchIdentity(stars, principal({ cn: ['a'.repeat(50_000)] }))).toBeNull()
    expect(performance.now() - started).toBeLessThan(500)
  })
})
