/**
 * A sample trail for the auditor's report, written by the real audit
 * writer: three teams over two days, allowed requests, refusals by rules
 * and by default deny, a dry-run refusal, a revoked certificate closed
 * mid-connection, a policy edit (one rule position deciding with a new
 * text), a hostile certificate subject, and two exec sessions, one with a
 * recording (asciicast v2, referenced as the session recorder writes it).
 * The expected figures are exported so tests assert them.
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openAuditLog } from '../../src/audit/log.js'
import type { AuditRecord } from '../../src/audit/record.js'
import { clock } from './trail.js'

/** A subject that would run script if the page did not escape it. */
export const HOSTILE_CN = '<script>document.documentElement.setAttribute("data-pwned","1")</script><img src=x onerror="document.documentElement.setAttribute(\'data-pwned\',\'2\')">'

/** What the sample trail holds, as the report must show it. */
export const SAMPLE = {
  requests: 30,
  refused: 9,
  wouldRefuse: 1,
  perTeam: { web: { requests: 15, refused: 4 }, ci: { requests: 10, refused: 3 }, data: { requests: 5, refused: 2 } },
  topRule: { ref: '/etc/dockgate/policy.yaml:14', text: 'POST /containers/*/exec', count: 4 },
  certificates: 4,
  revokedSerial: '0C1D',
  sessions: 2,
  castText: 'hello from the recorded session'
} as const

interface Cert { cn: string; ou: string; serial: string }
const ALICE: Cert = { cn: 'alice', ou: 'web', serial: '0A11CE' }
const BOB: Cert = { cn: 'ci-runner-1', ou: 'ci', serial: '0B0B' }
const CAROL: Cert = { cn: 'carol', ou: 'data', serial: '0C1D' }
const MALLORY: Cert = { cn: HOSTILE_CN, ou: 'web', serial: '0BAD' }

function identity (c: Cert): AuditRecord['identity'] {
  const fp = createHash('sha256').update(c.serial).digest('hex').toUpperCase().match(/../g)?.join(':') ?? ''
  return { subject: `CN=${c.cn},OU=${c.ou}`, sans: { dns: [], uri: [], email: [] }, issuer: 'CN=dockgate CA,O=dockgate', serial: c.serial, fingerprint256: fp, entry: { ref: '/etc/dockgate/policy.yaml:3', index: 0 }, teams: [c.ou] }
}

function request (c: Cert, method: string, path: string, rule: { line: number; text: string } | null, outcome: 'allow' | 'deny' | 'would-deny', extra: Partial<AuditRecord> = {}): AuditRecord {
  const base = {
    schema: 1 as const, auditID: randomUUID(), receivedAt: new Date().toISOString(), client: { address: '10.0.0.7', port: 50000 }, identity: identity(c),
    request: { method, target: `/v1.41${path}`, path, apiVersion: '1.41', upgrade: null }, objectRef: null, level: 'metadata' as const,
    rule: rule === null ? null : { ref: `/etc/dockgate/policy.yaml:${rule.line}`, text: rule.text, team: c.ou }
  }
  if (outcome === 'deny') return { ...base, stage: 'Refused', decision: 'deny', code: rule === null ? 'DG_DENIED' : 'DG_DENIED', reason: 'dockgate: refused', status: 403, ...extra }
  return { ...base, stage: 'ResponseComplete', decision: outcome, status: 200, upstreamStatus: 200, bytesIn: 0, bytesOut: 10, durationMs: 1, aborted: false, ...extra }
}

/** Writes the sample trail into `dir` (audit.jsonl and sessions/); returns the audit file. */
export async function writeSampleTrail (dir: string): Promise<string> {
  const file = join(dir, 'audit.jsonl')
  const time = clock('2026-11-02T08:00:00.000Z')
  const audit = openAuditLog({ file, now: time.now, version: '0.1.0' })
  const write = (r: AuditRecord): void => { if (!audit.write(r)) throw new Error('not written') }
  const list = { line: 9, text: '@read-only' }
  const run = { line: 10, text: '@containers-run' }
  const execDeny = { line: 14, text: 'POST /containers/*/exec' }
  // web: 15 requests (sessions and the edited rule below included), 4 refused (all by the exec deny rule)
  for (let i = 0; i < 8; i++) { write(request(ALICE, 'GET', '/containers/json', list, 'allow')); time.advance(600_000) }
  for (let i = 0; i < 3; i++) { write(request(ALICE, 'POST', '/containers/web/exec', execDeny, 'deny')); time.advance(60_000) }
  write(request(MALLORY, 'POST', '/containers/web/exec', execDeny, 'deny'))
  // ci: 10 requests, 3 refused (default deny), 1 of the allowed is a dry-run refusal
  for (let i = 0; i < 6; i++) { write(request(BOB, 'POST', '/containers/create', run, 'allow')); time.advance(300_000) }
  write(request(BOB, 'POST', '/containers/create', run, 'would-deny', { code: 'DG_BODY_DENIED', reason: 'dockgate: ci may not create a privileged container' }))
  for (let i = 0; i < 3; i++) { write(request(BOB, 'GET', '/events', null, 'deny')); time.advance(60_000) }
  // data: 5 requests, 2 refused; then carol's certificate is revoked while her connection is open
  time.set('2026-11-03T09:00:00.000Z')
  for (let i = 0; i < 3; i++) { write(request(CAROL, 'GET', '/volumes', { line: 18, text: '@read-only' }, 'allow')); time.advance(60_000) }
  for (let i = 0; i < 2; i++) write(request(CAROL, 'DELETE', '/volumes/db', { line: 20, text: 'DELETE /volumes/**' }, 'deny'))
  write({ schema: 1, auditID: randomUUID(), stage: 'ConnectionClosed', client: { address: '10.0.0.8', port: 50001 }, identity: identity(CAROL), decision: 'deny', code: 'DG_CONNECTION_REVOKED', tls: { reason: 'revoked', detail: 'CERT_REVOKED' } })
  // The policy is edited: line 9 now holds another rule.
  time.advance(3_600_000)
  write(request(ALICE, 'GET', '/containers/json', { line: 9, text: '@containers-read' }, 'allow'))
  // Two exec sessions of web, one recorded.
  const cast = '{"version":2,"width":80,"height":24,"timestamp":1793700000}\n[0.1,"o","$ "]\n[0.5,"i","echo hi\\r"]\n' +
    `[0.6,"o","\\u001b[32m${SAMPLE.castText}\\u001b[0m\\r\\n"]\n[1.0,"o","$ exit\\r\\n"]\n`
  mkdirSync(join(dir, 'sessions'), { recursive: true })
  const castFile = join('sessions', 'a1.cast')
  writeFileSync(join(dir, castFile), cast)
  const recording = { file: castFile, bytes: Buffer.byteLength(cast), sha256: createHash('sha256').update(cast).digest('hex'), truncated: null, input: true }
  const session = (withRecording: boolean): AuditRecord => ({
    ...request(ALICE, 'POST', '/exec/0123/start', { line: 11, text: '@exec' }, 'allow'),
    request: { method: 'POST', target: '/v1.41/exec/0123/start', path: '/exec/0123/start', apiVersion: '1.41', upgrade: 'tcp' },
    status: 101, upstreamStatus: 101, sessionMs: 1200, ...(withRecording ? { recording } : {})
  })
  write(session(true))
  time.advance(60_000)
  write(session(false))
  await audit.close()
  return file
}
