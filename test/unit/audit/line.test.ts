/**
 * The audit line and the per-connection identity block, as the hot path
 * builds them since issue 12: one JSON.stringify per record instead of a
 * pino instance, and one identity block per connection and policy entry
 * instead of one per record. The trail must read exactly as before.
 */
import { describe, expect, it } from 'vitest'
import { auditLine } from '../../../src/audit/log.js'
import { openLine, seal } from '../../../src/audit/chain.js'
import type { AuditRecord } from '../../../src/audit/record.js'
import { auditIdentity, sharedAuditIdentity, tlsConnection } from '../../../src/gateway/connection.js'
import { ruleOf } from '../../../src/gateway/records.js'
import type { IdentityMatch, RuleRef } from '../../../src/policy/index.js'

const record: AuditRecord = {
  schema: 1,
  auditID: 'a1',
  stage: 'ResponseComplete',
  request: { method: 'GET', target: '/_ping', path: '/_ping', apiVersion: null, upgrade: null },
  decision: 'allow',
  status: 200,
  // Left out of the line, as pino left it out.
  error: undefined
}

describe('the audit line', () => {
  it('puts time first, then the fields in the order they were built, leaving out undefined ones', () => {
    const line = auditLine(record, new Date('2026-12-04T15:00:00.123Z'))
    expect(line).toBe('{"time":"2026-12-04T15:00:00.123Z","schema":1,"auditID":"a1","stage":"ResponseComplete",' +
      '"request":{"method":"GET","target":"/_ping","path":"/_ping","apiVersion":null,"upgrade":null},"decision":"allow","status":200}')
    expect(Object.keys(JSON.parse(line) as object)[0]).toBe('time')
  })

  it('escapes what a hostile client could put in a field, so a record stays one line', () => {
    const line = auditLine({ ...record, reason: 'a\nb"c\u2028' }, new Date(0))
    expect(line).not.toContain('\n')
    expect((JSON.parse(line) as { reason: string }).reason).toBe('a\nb"c\u2028')
  })

  it('seals into a line that verifies, multi-byte text included (the hash covers the UTF-8 bytes written)', () => {
    const sealed = seal(auditLine({ ...record, reason: 'café ☕ \ud83d\udc33' }, new Date(0)), null)
    const text = sealed.bytes.toString('utf8')
    expect(text.endsWith('\n')).toBe(true)
    expect(openLine(text.slice(0, -1))).toMatchObject({ kind: 'sealed', seq: 0, hash: sealed.head.hash })
  })
})

describe('identity blocks and rules, made once', () => {
  const certificate = {
    subject: 'CN=ann,OU=web', issuer: 'CN=ca', cn: ['ann'], ou: ['web'], o: [], sanDns: ['ann.example'], sanUri: [], sanEmail: [],
    serial: '0A', fingerprint256: 'AA', issuerFingerprint256: 'CA', notAfter: '2099-01-01T00:00:00Z'
  }
  const match: IdentityMatch = { index: 0, line: 3, teams: ['web'] }

  it('gives each connection one frozen block per policy entry, equal to the one made per record', () => {
    const connection = tlsConnection(certificate, '127.0.0.1', 40000)
    const block = sharedAuditIdentity(connection, match, 'policy.yaml')
    expect(block).toEqual(auditIdentity(connection, match, 'policy.yaml'))
    expect(sharedAuditIdentity(connection, match, 'policy.yaml')).toBe(block)
    expect(Object.isFrozen(block)).toBe(true)
    expect(() => { block.teams.push('ops') }).toThrow()
    expect(sharedAuditIdentity(connection, null, 'policy.yaml')).toEqual(auditIdentity(connection, null, null))
  })

  it('makes a new block for a reloaded policy entry and for another connection', () => {
    const connection = tlsConnection(certificate, '127.0.0.1', 40000)
    const before = sharedAuditIdentity(connection, match, 'policy.yaml')
    const reloaded: IdentityMatch = { index: 1, line: 9, teams: ['web', 'ops'] }
    expect(sharedAuditIdentity(connection, reloaded, 'policy.yaml')).toMatchObject({ entry: { ref: 'policy.yaml:9', index: 1 }, teams: ['web', 'ops'] })
    expect(sharedAuditIdentity(tlsConnection(certificate, '127.0.0.1', 40001), match, 'policy.yaml')).not.toBe(before)
  })

  it('records a rule as file:line, text and team, the same object each time', () => {
    const rule: RuleRef = { team: 'web', file: 'policy.yaml', line: 7, col: 9, effect: 'allow', text: 'GET /containers/**' }
    expect(ruleOf(rule)).toEqual({ ref: 'policy.yaml:7', text: 'GET /containers/**', team: 'web' })
    expect(ruleOf(rule)).toBe(ruleOf(rule))
  })
})
