// dockgate's own work for one request, in one process, without sockets:
// the pipeline admits a `GET /_ping` from a verified certificate (identity,
// rate, canonical form, decision, exchange), and the exchange ends it the
// way the proxy does, writing its ResponseComplete record to a real,
// hash-chained audit file, counted by the metrics. What Node's HTTP and TLS
// cost is left out: this is the part dockgate adds, measured in
// microseconds without the noise of a shared machine's scheduler. Median of
// 5 batches after warm-up.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadPolicy } from '../../dist/policy/index.js'
import { openAuditLog } from '../../dist/audit/log.js'
import { Pipeline } from '../../dist/gateway/pipeline.js'
import { InFlight } from '../../dist/gateway/in-flight.js'
import { createRefusalAudit } from '../../dist/gateway/refusal-audit.js'
import { tlsConnection } from '../../dist/gateway/connection.js'
import { Limiter } from '../../dist/limits/limiter.js'
import { createMetrics } from '../../dist/metrics/registry.js'
import { observeRecord, tapAudit } from '../../dist/runtime/tap.js'

const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const LIMITS = { bodyBytes: 1 << 20, maxConnections: 1e6, connectionsPerIdentity: 1e6, streamsPerIdentity: 1e6, requestsPerSecond: null, requestBurst: 20, headerBytes: 32768, headersTimeoutSeconds: 20, unverifiedConnections: 1e6, unverifiedPerAddress: 1e6 }

/** Microseconds of dockgate's own work per request (median of batches), and its parts: admission, and the end with its record. */
export function ownWork (iterations = 5000) {
  // In memory (/dev/shm when there is one): the disk's writeback would be measured, not dockgate.
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dg-own-'))
  const loaded = loadPolicy({ file: 'policy.yaml', text: POLICY })
  if (!loaded.ok) throw new Error('bench policy did not load')
  const raw = openAuditLog({ file: join(dir, 'audit.jsonl') })
  const metrics = createMetrics({ connections: () => 1, unverified: () => 0, streams: () => ({ streams: 0, sessions: 0 }), reloads: () => null, expiry: () => [], audit: () => raw.health(), draining: () => false }, { version: 'bench' })
  const audit = tapAudit(raw, (record) => { observeRecord(metrics, record) }).audit
  const certificate = {
    subject: 'CN=bench,OU=platform', issuer: 'CN=bench CA', cn: ['bench'], ou: ['platform'], o: [], sanDns: [], sanUri: [], sanEmail: [],
    serial: '5F1E2D3C4B5A69788796A5B4C3D2E1F0', fingerprint256: 'AB:'.repeat(31) + 'AB', issuerFingerprint256: 'CD:'.repeat(31) + 'CD', notAfter: 'Dec 31 00:00:00 2099 GMT'
  }
  const connection = tlsConnection(certificate, '127.0.0.1', 50123)
  const pipeline = new Pipeline({
    connectionOf: () => connection,
    policy: () => loaded.value,
    audit,
    refusals: createRefusalAudit(audit),
    limiter: new Limiter(LIMITS),
    onLimitHit: () => {},
    daemonDown: () => null,
    inFlight: new InFlight(),
    bodyLimit: LIMITS.bodyBytes,
    auditLevel: 'metadata',
    resolveImages: async (verdict) => verdict
  })
  const socket = {}
  const req = { method: 'GET', url: '/_ping', headers: { host: 'localhost', 'user-agent': 'Docker-Client/28.0.0 (linux)' }, rawHeaders: ['Host', 'localhost', 'User-Agent', 'Docker-Client/28.0.0 (linux)'], socket }
  const outcome = { status: 200, upstreamStatus: 200, bytesIn: 0, bytesOut: 2, aborted: false, error: null, createdId: null }
  const batch = () => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) {
      const exchange = pipeline.admit(req)
      if (exchange.refusal !== null) throw new Error(`bench request refused: ${exchange.refusal.message}`)
      exchange.end(outcome)
    }
    return Number(process.hrtime.bigint() - start) / 1000 / iterations
  }
  try {
    for (let i = 0; i < 3; i++) batch()
    return [0, 1, 2, 3, 4].map(batch).sort((a, b) => a - b)[2]
  } finally {
    void raw.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(`dockgate's own work per request: ${ownWork().toFixed(1)} us`)
