/**
 * The small parts of operations, as units: per-worker audit files, the
 * socket-activation environment, the audit tap that feeds the metrics,
 * and the permission hint that names the group to join.
 */
import { workerFile } from '../../../src/audit/rotation.js'
import { chmodSync, chownSync, mkdtempSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { AuditLog } from '../../../src/audit/log.js'
import type { AuditRecord } from '../../../src/audit/record.js'
import { forgetActivation, inheritedListenFd } from '../../../src/runtime/systemd.js'
import { observeRecord, tapAudit } from '../../../src/runtime/tap.js'
import { createMetrics, type MetricSources } from '../../../src/metrics/registry.js'
import { permissionHint } from '../../../src/proxy/probe.js'
import { dockerGroup, runsAsRoot } from '../../support/users.js'

describe('workerFile', () => {
  it('puts the worker slot before the extension, so every worker has a file and a chain of its own', () => {
    expect(workerFile('/var/log/dockgate/audit.jsonl', 2)).toBe('/var/log/dockgate/audit-w2.jsonl')
    expect(workerFile('/var/log/dockgate/audit', 1)).toBe('/var/log/dockgate/audit-w1')
    expect(workerFile('/srv/a.b/audit', 3)).toBe('/srv/a.b/audit-w3')
  })
})

describe('inheritedListenFd', () => {
  it('takes fd 3 only when LISTEN_PID is this process', () => {
    expect(inheritedListenFd({}, 42)).toBeNull()
    expect(inheritedListenFd({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toBeNull()
    expect(inheritedListenFd({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42)).toBeNull()
    expect(inheritedListenFd({ LISTEN_FDS: '1', LISTEN_PID: '42' }, 42)).toBe(3)
    expect(inheritedListenFd({ LISTEN_FDS: '2', LISTEN_PID: '42' }, 42)).toEqual({ error: expect.stringContaining('systemd passed 2 sockets') as unknown })
  })

  it('forgets the variables so child processes do not take them for their own', () => {
    const env: NodeJS.ProcessEnv = { LISTEN_FDS: '1', LISTEN_PID: '42', LISTEN_FDNAMES: 'dockgate', PATH: '/bin' }
    forgetActivation(env)
    expect(env).toEqual({ PATH: '/bin' })
  })
})

const SOURCES: MetricSources = {
  connections: () => 0,
  unverified: () => 0,
  streams: () => ({ streams: 0, sessions: 0 }),
  reloads: () => null,
  expiry: () => [],
  audit: () => ({ writable: true, writeFailures: 0 }),
  draining: () => false
}

const identity = { subject: 'CN=a', sans: { dns: [], uri: [], email: [] }, issuer: 'CN=ca', serial: '01', fingerprint256: 'AA', entry: { ref: 'policy.yaml:3', index: 0 }, teams: ['ci'] }
const request = { method: 'GET', target: '/v1.41/containers/json', path: '/containers/json', apiVersion: '1.41', upgrade: null }
const record = (extra: Partial<AuditRecord>): AuditRecord => ({ schema: 1, auditID: 'x', stage: 'ResponseComplete', client: { address: '::1', port: 1 }, identity, ...extra })

describe('the audit tap', () => {
  // An audit log whose writes fail or succeed on demand, with health of its own.
  const fakeLog = (results: boolean[]): AuditLog & { written: AuditRecord[] } => {
    const written: AuditRecord[] = []
    return {
      written,
      file: '/x/audit.jsonl',
      write: (r) => { written.push(r); return results.shift() ?? true },
      blocked: () => null,
      health: () => ({ writable: false, writeFailures: 7, lastError: 'ENOSPC' }),
      reopen: () => ({ reopened: false, error: null }),
      close: async () => {}
    }
  }

  it('writes through to the writer, shows each record to the metrics after writing it, and reports the writer\'s own health', () => {
    const log = fakeLog([false, true])
    const seen: AuditRecord[] = []
    const tapped = tapAudit(log, (r) => { seen.push(r) })
    expect(tapped.audit.write(record({}))).toBe(false)
    expect(tapped.audit.write(record({ auditID: 'y' }))).toBe(true)
    expect(log.written.map((r) => r.auditID)).toEqual(['x', 'y'])
    expect(seen.map((r) => r.auditID)).toEqual(['x', 'y'])
    expect(tapped.audit.file).toBe('/x/audit.jsonl')
    expect(tapped.health()).toEqual({ writable: false, writeFailures: 7, lastError: 'ENOSPC' })
  })

  it('never lets a metrics error fail a write', () => {
    const tapped = tapAudit(fakeLog([true]), () => { throw new Error('bug') })
    expect(() => tapped.audit.write(record({}))).not.toThrow()
  })

  it('turns final records into request metrics, by team, decision, status and kind', async () => {
    let failures = 0
    const metrics = createMetrics({ ...SOURCES, audit: () => ({ writable: failures === 0, writeFailures: failures }) }, { version: 'test' })
    observeRecord(metrics, record({ decision: 'allow', rule: { ref: 'p:1', text: '* /**', team: 'ops' }, request, status: 200, durationMs: 12, bytesOut: 300 }))
    observeRecord(metrics, record({ stage: 'Refused', decision: 'deny', request, status: 429, durationMs: 0.1 }))
    observeRecord(metrics, record({ stage: 'Refused', decision: 'deny', status: 503 })) // a refused connection: no request
    observeRecord(metrics, record({ stage: 'RequestReceived', decision: 'allow', request: { ...request, upgrade: 'tcp' }, status: 101 }))
    observeRecord(metrics, record({ decision: 'allow', request: { ...request, method: 'POST', path: '/exec/e/start', upgrade: 'tcp' }, status: 101, durationMs: 5000, bytesIn: 10 }))
    observeRecord(metrics, record({ stage: 'TLSRejected', identity: null, decision: 'deny', tls: { reason: 'expired', detail: 'CERT_HAS_EXPIRED' } }))
    observeRecord(metrics, record({ stage: 'ConnectionClosed', decision: 'deny', tls: { reason: 'revoked', detail: 'CERT_REVOKED' } }))
    observeRecord(metrics, record({ stage: 'Suppressed', decision: 'deny', code: 'DG_LIMIT_RATE', suppressed: { kind: 'Refused', count: 40, since: 'a', until: 'b', reasons: { DG_LIMIT_RATE: 40 } } }))
    observeRecord(metrics, record({ stage: 'Suppressed', identity: null, suppressed: { kind: 'TLSRejected', count: 9, since: 'a', until: 'b', reasons: { expired: 9 } } }))
    failures = 2
    const text = await metrics.registry.metrics()
    expect(text).toContain('dockgate_requests_total{team="ops",decision="allow",status="200"} 1')
    expect(text).toContain('dockgate_requests_total{team="ci",decision="deny",status="429"} 41')
    expect(text).toContain('dockgate_requests_total{team="ci",decision="deny",status="503"} 1')
    expect(text).toContain('dockgate_requests_total{team="ci",decision="allow",status="101"} 1')
    expect(text).toContain('dockgate_request_duration_seconds_count{team="ci",kind="session"} 1')
    expect(text).toContain('dockgate_request_duration_seconds_sum{team="ci",kind="session"} 5')
    expect(text).toContain('dockgate_bytes_total{team="ops",direction="out"} 300')
    expect(text).toContain('dockgate_bytes_total{team="ci",direction="in"} 10')
    expect(text).toContain('dockgate_connections_closed_total{reason="revoked"} 1')
    expect(text).not.toContain('dockgate_tls_handshake_failures_total{')
    expect(text).toContain('dockgate_audit_write_failures_total 2')
    expect(text).toContain('dockgate_audit_writable 0')
  })
})

describe('metrics', () => {
  it('start each known label value of the fixed-label counters at 0', async () => {
    const text = await createMetrics(SOURCES, { version: 'test' }, { limits: ['rate', 'unverified'], tlsReasons: ['expired'], closedReasons: ['revoked'] }).registry.metrics()
    expect(text).toContain('dockgate_limit_hits_total{limit="rate"} 0')
    expect(text).toContain('dockgate_limit_hits_total{limit="unverified"} 0')
    expect(text).toContain('dockgate_tls_handshake_failures_total{reason="expired"} 0')
    expect(text).toContain('dockgate_connections_closed_total{reason="revoked"} 0')
  })

  it('say whether the last reload worked and when the settings in use were loaded', async () => {
    let stats = { applied: 0, failed: 0, lastAppliedAt: null as string | null, lastFailedAt: null as string | null, handshakeChecksCrl: true }
    const metrics = createMetrics({ ...SOURCES, reloads: () => stats }, { version: 'test', startedAt: 1_000_000 })
    const read = async (): Promise<string> => await metrics.registry.metrics()
    expect(await read()).toContain('dockgate_reload_last_success 1')
    expect(await read()).toContain('dockgate_reload_last_success_timestamp_seconds 1000')
    stats = { ...stats, failed: 1, lastFailedAt: '2026-01-01T00:00:00.000Z' }
    expect(await read()).toContain('dockgate_reload_last_success 0')
    stats = { ...stats, applied: 1, lastAppliedAt: '2026-01-01T00:00:05.000Z' }
    expect(await read()).toContain('dockgate_reload_last_success 1')
    expect(await read()).toContain(`dockgate_reload_last_success_timestamp_seconds ${Date.parse('2026-01-01T00:00:05.000Z') / 1000}`)
  })
})

describe('permissionHint', () => {
  async function socketFile (): Promise<{ path: string; close: () => void }> {
    const path = join(mkdtempSync(join(tmpdir(), 'dg-hint-')), 'docker.sock')
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(path, resolve))
    return { path, close: () => { server.close() } }
  }

  it('blames the mode when dockgate is in the group; as root, also names the user, the group and the command when it is not', async () => {
    const sock = await socketFile()
    try {
      chmodSync(sock.path, 0o000)
      expect(permissionHint(sock.path)).toMatch(new RegExp(`^permission denied: ${sock.path} has mode 0000, which does not let its group \\S+ connect; dockerd normally creates it 0660`))
      const group = dockerGroup()
      // Only root can give a socket to a group it is not in; the integration test covers a user that is not root.
      if (runsAsRoot() && process.getgroups?.().includes(group.gid) !== true && group.gid !== 0) {
        chownSync(sock.path, 0, group.gid)
        chmodSync(sock.path, 0o660)
        expect(permissionHint(sock.path)).toBe(`permission denied: dockgate runs as user root (uid 0), which is not in group ${group.name} that owns ${sock.path} (mode 0660); ` +
          `add it with \`usermod -aG ${group.name} root\` (or SupplementaryGroups=${group.name} in the systemd unit, group_add in compose) and restart dockgate`)
      }
    } finally {
      sock.close()
    }
  })
})
