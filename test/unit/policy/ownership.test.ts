/**
 * The policy keys of team isolation (issue 9): a team's `ownership:` and
 * the policy-wide `defaults: { ownership }`, their compiled form, the
 * ownership scope of an identity, and the lint warning for an identity
 * entry that mixes isolated and admin teams.
 */
import { describe, expect, it } from 'vitest'
import { checkPolicy, loadPolicy, ownershipScope } from '../../../src/policy/index.js'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { policyFrom } from '../../support/judge.js'

const problems = (text: string): string[] => {
  const result = loadPolicy({ file: 'p.yaml', text })
  return result.ok ? [] : result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}

const POLICY = `version: 1
defaults:
  ownership: true
identities:
  - match: { ou: web }
    teams: [web]
  - match: { ou: both }
    teams: [web, data, web]
  - match: { ou: admin }
    teams: [admin]
  - match: { ou: none }
    teams: []
teams:
  web:
    allow: ["GET /containers/json"]
  data:
    allow: ["GET /volumes"]
  admin:
    ownership: false
    allow: ["* /**"]
`

describe('ownership keys', () => {
  it('compiles each team\'s effective ownership: its own key, else defaults.ownership, else false', () => {
    const policy = policyFrom(POLICY)
    expect(policy.compiledTeams.map((t) => `${t.name}:${String(t.ownership)}`)).toEqual(['web:true', 'data:true', 'admin:false'])
    expect(policy.defaults).toEqual({ ownership: true })
    expect(Object.isFrozen(policy.defaults)).toBe(true)
    const plain = policyFrom('version: 1\nidentities:\n  - match: { ou: t }\n    teams: [t]\nteams:\n  t:\n    allow: []\n  u:\n    ownership: true\n')
    expect(plain.defaults).toEqual({ ownership: false })
    expect(plain.compiledTeams.map((t) => t.ownership)).toEqual([false, true])
  })

  it('reports wrong types and unknown keys at their place', () => {
    const text = 'version: 1\ndefaults:\n  ownership: yes please\n  owner: true\nidentities: []\nteams:\n  t:\n    ownership: 1\n    owenrship: true\n'
    expect(problems(text)).toEqual([
      "3:14 DG_WRONG_TYPE 'defaults.ownership' must be true or false (objects the team creates are labelled with its name, and it sees and touches only its own), got a string",
      "4:3 DG_UNKNOWN_KEY unknown key 'owner' in defaults; valid keys: ownership",
      "8:16 DG_WRONG_TYPE 'teams.t.ownership' must be true or false (objects the team creates are labelled with its name, and it sees and touches only its own), got a number",
      "9:5 DG_UNKNOWN_KEY unknown key 'owenrship' in teams.t; valid keys: allow, deny, mode, containers, audit, ownership, quota (did you mean 'ownership'?)"
    ])
    expect(problems('version: 1\ndefaults: [ownership]\nidentities: []\nteams: {}\n')).toEqual([
      "2:11 DG_WRONG_TYPE 'defaults' must be a mapping with ownership, got a list"
    ])
  })

  it('warns when an identity entry mixes ownership teams with a team without it', () => {
    const text = POLICY.replace('teams: [admin]', 'teams: [web, admin]')
    const check = checkPolicy({ file: 'p.yaml', text })
    expect(check.policy).not.toBeNull()
    expect(check.diagnostics.map(formatDiagnostic)).toEqual([
      "p.yaml:10:12 DG_POLICY_OWNERSHIP_MIXED warning: identity entry gives ownership team web together with admin, which has no ownership: its certificates see and touch every team's objects and create unlabelled ones (give the entry only ownership teams, or only admin teams)"
    ])
  })
})

describe('ownershipScope', () => {
  const policy = policyFrom(POLICY)
  const cases: Array<[string, readonly string[], { owner: string; visible: string[] } | null]> = [
    ['one ownership team', ['web'], { owner: 'web', visible: ['web'] }],
    ['several: the first owns, all are visible, repeats dropped', ['web', 'data', 'web'], { owner: 'web', visible: ['web', 'data'] }],
    ['order decides the owner', ['data', 'web'], { owner: 'data', visible: ['data', 'web'] }],
    ['an admin team', ['admin'], null],
    ['any team without ownership lifts isolation', ['web', 'admin'], null],
    ['no teams', [], null],
    ['a team the policy does not define fails closed (isolated as itself)', ['gone'], { owner: 'gone', visible: ['gone'] }]
  ]
  for (const [name, teams, expected] of cases) {
    it(name, () => {
      const scope = ownershipScope(policy, teams)
      expect(scope === null ? null : { owner: scope.owner, visible: [...scope.visible] }).toEqual(expected)
      if (scope !== null) expect(Object.isFrozen(scope) && Object.isFrozen(scope.visible)).toBe(true)
    })
  }

  it('reads the identity entry\'s teams as compiled', () => {
    const both = policy.identities[1]?.match.teams ?? []
    expect(ownershipScope(policy, both)).toEqual({ owner: 'web', visible: ['web', 'data'] })
  })
})
