/**
 * `match: { socket: NAME }`: a socket listener's identity, which no
 * certificate can take and which no certificate rule matches.
 */
import { describe, expect, it } from 'vitest'
import { loadPolicy, matchIdentity, type Principal } from '../../../src/policy/index.js'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { socketConnection } from '../../../src/gateway/connection.js'
import { judgeAll, policyFrom, show } from '../../support/judge.js'

const POLICY = policyFrom(`version: 1
identities:
  - match: { socket: traefik }
    teams: [discovery]
  - match: { socket: "ci-*" }
    teams: [ci]
  - match: { cn: "*" }
    teams: [anyone]
teams:
  discovery:
    allow: ["GET /containers/json"]
  ci:
    allow: ["POST /containers/create"]
  anyone:
    allow: ["GET /_ping"]
`)

const certificate = (cn: string): Principal => ({ subject: `CN=${cn}`, cn: [cn], ou: [], o: [], sanDns: [], sanUri: [], sanEmail: [] })
const onSocket = (identity: string): Principal => socketConnection(identity, `/run/dockgate/${identity}.sock`).principal

describe('socket identities in the policy', () => {
  it('maps a socket listener to its entry, exactly or by glob', () => {
    expect(matchIdentity(POLICY, onSocket('traefik'))?.teams).toEqual(['discovery'])
    expect(matchIdentity(POLICY, onSocket('ci-7'))?.teams).toEqual(['ci'])
  })

  it('never gives a certificate a socket identity, whatever its CN', () => {
    expect(matchIdentity(POLICY, certificate('traefik'))?.teams).toEqual(['anyone'])
    expect(show(judgeAll(POLICY, certificate('traefik'), 'GET', '/containers/json'))).toMatch(/^deny DG_DENIED /)
  })

  it('never matches a socket with a certificate rule, not even cn: "*"', () => {
    expect(matchIdentity(POLICY, onSocket('watchtower'))).toBeNull()
    expect(show(judgeAll(POLICY, onSocket('watchtower'), 'GET', '/_ping')))
      .toBe('deny DG_NO_IDENTITY dockgate: socket identity watchtower matches no identity in the policy (add one with match: { socket: watchtower })')
  })

  it('refuses an entry that mixes socket with certificate keys: it could never match', () => {
    const loaded = loadPolicy({ file: 'p.yaml', text: 'version: 1\nidentities:\n  - match: { socket: traefik, ou: ops }\n    teams: [t]\nteams:\n  t:\n    allow: ["GET /_ping"]\n' })
    expect(loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic)).toEqual([
      'p.yaml:3:22 DG_POLICY_BAD_MATCH socket: matches only clients of a socket listener, which have no certificate, so it cannot be combined with ou; write two identities'
    ])
  })
})
