/**
 * The admin endpoints as an operator and Prometheus use them, with the
 * stock docker CLI making the traffic against the real daemon: /healthz,
 * /readyz (and why it is not ready), and every metric family /metrics
 * promises, each checked to move when the thing it counts happens.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import http from 'node:http'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker, dockerEnv, rawExchange } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { makePki } from '../support/pki.js'
import { get, sample, startRuntime, type RuntimeHarness } from '../support/runtime.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'

const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ops }
    teams: [ops]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ops:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /containers/json"
      - "GET /events"
`

describe.skipIf(socket === '')('admin endpoints in front of the real daemon', () => {
  let gw: RuntimeHarness
  const metrics = async (): Promise<string> => (await get(`${gw.admin ?? ''}/metrics`)).body
  const as = async (cn: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    await docker(gw.port, gw.bundle(cn), args, input === undefined ? {} : { input })

  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'oscar', '--ou', 'ops']] })
  })
  afterAll(async () => { await gw?.close() })

  it('/healthz answers 200 ok, HEAD too; other methods and paths are refused', async () => {
    const health = await get(`${gw.admin ?? ''}/healthz`)
    expect(health).toMatchObject({ status: 200, body: 'ok\n' })
    expect((await fetch(`${gw.admin ?? ''}/healthz`, { method: 'HEAD' })).status).toBe(200)
    expect((await fetch(`${gw.admin ?? ''}/metrics`, { method: 'POST' })).status).toBe(405)
    expect((await get(`${gw.admin ?? ''}/debug`)).status).toBe(404)
  })

  it('/readyz is 200 with every check named and passed', async () => {
    const ready = await get(`${gw.admin ?? ''}/readyz`)
    expect(ready.status).toBe(200)
    const report = JSON.parse(ready.body) as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> }
    expect(report.ready).toBe(true)
    expect(Object.keys(report.checks).sort()).toEqual(['accepting', 'audit', 'certificates', 'daemon', 'policy'])
    expect(report.checks.daemon?.detail).toBe(`unix://${socket} answers /_ping`)
    expect(report.checks.certificates?.detail).toMatch(/server certificate valid for 36\d more day/)
  })

  it('/metrics is Prometheus text with the default process metrics', async () => {
    const res = await get(`${gw.admin ?? ''}/metrics`)
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(sample(res.body, name), name).not.toBeNull()
    }
    expect(sample(res.body, 'dockgate_build_info', { version: '0.1.0' })).toBe(1)
  })

  it('counts requests by team, decision and status, with duration histograms by kind', async () => {
    const before = await metrics()
    expect((await as('alice', ['ps', '-q'])).code).toBe(0)
    expect((await as('oscar', ['images'])).stderr).toContain('dockgate: ops may not GET /images/json')
    const after = await metrics()
    const delta = (name: string, labels: Record<string, string>): number => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0)
    expect(delta('dockgate_requests_total', { team: 'platform', decision: 'allow', status: '200' })).toBeGreaterThanOrEqual(2) // _ping, containers/json
    expect(delta('dockgate_requests_total', { team: 'ops', decision: 'deny', status: '403' })).toBe(1)
    expect(delta('dockgate_request_duration_seconds_count', { team: 'platform', kind: 'request' })).toBeGreaterThanOrEqual(2)
    expect(delta('dockgate_request_duration_seconds_bucket', { team: 'ops', kind: 'request', le: '+Inf' })).toBeGreaterThanOrEqual(2)
  })

  it('shows open streams and hijacked sessions while they are open, and bytes each way once they end', async () => {
    const before = await metrics()
    const events = spawn('docker', ['events'], { env: dockerEnv(gw.port, gw.bundle('oscar')) })
    const session = spawn('docker', ['run', '--rm', '-i', '--network', 'none', IMAGE, 'cat'], { env: dockerEnv(gw.port, gw.bundle('alice')) })
    let echoed = ''
    session.stdout.on('data', (c: Buffer) => { echoed += c.toString() })
    const payload = 'x'.repeat(4000) + '\n'
    session.stdin.write(payload)
    await waitFor(() => echoed === payload, 20_000, 'the session to echo')
    const open = await metrics()
    expect(sample(open, 'dockgate_open_sessions')).toBe(1)
    expect(sample(open, 'dockgate_open_streams')).toBeGreaterThanOrEqual(2) // events, and docker run's wait
    expect(sample(open, 'dockgate_open_connections')).toBeGreaterThanOrEqual(3)

    const exited = new Promise((resolve) => session.on('close', resolve))
    session.stdin.end()
    expect(await exited).toBe(0)
    events.kill()
    await waitFor(() => gw.runtime.gateway.stats().streams === 0 && gw.runtime.gateway.stats().sessions === 0, 10_000, 'streams to close')
    const after = await metrics()
    expect(sample(after, 'dockgate_open_sessions')).toBe(0)
    expect(sample(after, 'dockgate_open_streams')).toBe(0)
    const delta = (name: string, labels: Record<string, string>): number => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0)
    expect(delta('dockgate_request_duration_seconds_count', { team: 'platform', kind: 'session' })).toBe(1)
    expect(delta('dockgate_request_duration_seconds_count', { team: 'ops', kind: 'stream' })).toBe(1)
    expect(delta('dockgate_requests_total', { team: 'platform', decision: 'allow', status: '101' })).toBe(1)
    expect(delta('dockgate_bytes_total', { team: 'platform', direction: 'in' })).toBeGreaterThanOrEqual(payload.length)
    expect(delta('dockgate_bytes_total', { team: 'platform', direction: 'out' })).toBeGreaterThanOrEqual(payload.length)
  })

  it('starts every fixed-label counter at 0, so rate() alerts fire on the first hit', async () => {
    const text = await metrics()
    for (const limit of ['connections', 'identity-connections', 'streams', 'rate', 'header-size', 'header-timeout', 'unverified', 'unverified-per-address']) {
      expect(sample(text, 'dockgate_limit_hits_total', { limit }), limit).toBe(0)
    }
    for (const reason of ['no-certificate', 'unknown-ca', 'expired', 'not-yet-valid', 'wrong-usage', 'revoked', 'handshake-failed', 'crl-expired']) {
      expect(sample(text, 'dockgate_tls_handshake_failures_total', { reason }), reason).not.toBeNull()
    }
    expect(sample(text, 'dockgate_tls_handshake_failures_total', { reason: 'expired' })).toBe(0)
    expect(sample(text, 'dockgate_connections_closed_total', { reason: 'revoked' })).toBe(0)
  })

  it('counts a 408 or 431 for an identified client under its team', async () => {
    const answer = await rawExchange(gw.port, gw.bundle('alice'), `GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    expect(sample(await metrics(), 'dockgate_requests_total', { team: 'platform', decision: 'deny', status: '431' })).toBe(1)
    expect(gw.records().at(-1)).toMatchObject({ code: 'DG_HEADERS_TOO_LARGE', identity: { teams: ['platform'] } })
  })

  it('counts TLS handshake failures by reason', async () => {
    const before = await metrics()
    const foreign = makePki(gw.dir, [{ name: 'mallory', ous: ['platform'], foreignCa: true }]).bundle('mallory')
    await handshake(gw.port, foreign, true)
    await handshake(gw.port, foreign, false)
    const after = await metrics()
    const delta = (reason: string): number => (sample(after, 'dockgate_tls_handshake_failures_total', { reason }) ?? 0) -
      (sample(before, 'dockgate_tls_handshake_failures_total', { reason }) ?? 0)
    expect(delta('unknown-ca')).toBe(1)
    expect(delta('no-certificate')).toBe(1)
  })

  it('counts reloads by outcome, and says whether the last one worked and when the settings in use were loaded', async () => {
    const { applied, failed } = gw.runtime.reloader.stats()
    const started = sample(await metrics(), 'dockgate_reload_last_success_timestamp_seconds') ?? 0
    expect(sample(await metrics(), 'dockgate_reload_last_success')).toBe(1)
    expect(started).toBeGreaterThan(Date.now() / 1000 - 600)
    writeFileSync(gw.policyFile, POLICY.replace('"GET /version"', '"GIT /version"'))
    await waitFor(() => gw.runtime.reloader.stats().failed > failed, 10_000, 'the refused reload')
    expect(sample(await metrics(), 'dockgate_reload_last_success')).toBe(0)
    expect(sample(await metrics(), 'dockgate_reload_last_success_timestamp_seconds')).toBe(started)
    writeFileSync(gw.policyFile, POLICY + '      - "GET /info"\n')
    await waitFor(() => gw.runtime.reloader.stats().applied > applied, 10_000, 'the applied reload')
    const text = await metrics()
    expect(sample(text, 'dockgate_reloads_total', { outcome: 'failed' })).toBe(failed + 1)
    expect(sample(text, 'dockgate_reloads_total', { outcome: 'applied' })).toBe(applied + 1)
    expect(sample(text, 'dockgate_reload_last_success')).toBe(1)
    expect(sample(text, 'dockgate_reload_last_success_timestamp_seconds')).toBeGreaterThan(started)
  })

  it('gives the seconds until the server certificate, the CA and the CRL expire', async () => {
    const text = await metrics()
    const day = 86_400
    expect(sample(text, 'dockgate_tls_expiry_seconds', { kind: 'server-cert', subject: 'CN=localhost' })).toBeGreaterThan(363 * day)
    expect(sample(text, 'dockgate_tls_expiry_seconds', { kind: 'ca' })).toBeGreaterThan(3600 * day)
    const crl = sample(text, 'dockgate_tls_expiry_seconds', { kind: 'crl' }) ?? 0
    expect(crl).toBeGreaterThan(28 * day)
    expect(crl).toBeLessThanOrEqual(30 * day)
    expect(sample(text, 'dockgate_crl_checked_in_handshake')).toBe(1)
  })

  it('reports the audit trail writable with no write failures', async () => {
    const text = await metrics()
    expect(sample(text, 'dockgate_audit_writable')).toBe(1)
    expect(sample(text, 'dockgate_audit_write_failures_total')).toBe(0)
  })
})

describe.skipIf(socket === '')('admin endpoints when something is wrong', () => {
  it('/readyz is 503 and says why when the daemon socket is missing', async () => {
    const gw = await startRuntime({ socket: '/nonexistent/docker.sock', policy: POLICY, clients: [] })
    try {
      const ready = await get(`${gw.admin ?? ''}/readyz`)
      expect(ready.status).toBe(503)
      const report = JSON.parse(ready.body) as { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> }
      expect(report.ready).toBe(false)
      expect(report.checks.daemon).toEqual({ ok: false, detail: expect.stringContaining('unix:///nonexistent/docker.sock is not answering (ENOENT); no socket at that path') as string })
      expect(report.checks.policy?.ok).toBe(true)
      expect((await get(`${gw.admin ?? ''}/healthz`)).status).toBe(200)
    } finally {
      await gw.close()
    }
  })

  it('serves on a Unix socket (mode 0660) when admin is unix:///PATH', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'dg-admin-')), 'admin.sock')
    const gw = await startRuntime({ socket, policy: POLICY, clients: [], admin: `unix://${path}` })
    try {
      expect(gw.adminAddress).toBe(`unix://${path}`)
      expect(statSync(path).mode & 0o777).toBe(0o660)
      const body = await new Promise<string>((resolve, reject) => {
        http.get({ socketPath: path, path: '/readyz' }, (res) => {
          let text = ''
          res.on('data', (c: Buffer) => { text += c.toString() })
          res.on('end', () => { resolve(`${res.statusCode ?? 0} ${text}`) })
        }).on('error', reject)
      })
      expect(body).toMatch(/^200 \{"ready":true/)
    } finally {
      await gw.close()
    }
  })
})

/** One TLS handshake with `bundle`'s certificate (or none), not verifying the server; resolves when the server closes. */
async function handshake (port: number, bundle: string, withCert: boolean): Promise<void> {
  const read = (f: string): Buffer => readFileSync(join(bundle, f))
  await new Promise<void>((resolve) => {
    const socket = tls.connect({
      host: '127.0.0.1', port, rejectUnauthorized: false, ...(withCert ? { cert: read('cert.pem'), key: read('key.pem') } : {})
    }, () => { socket.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n') })
    socket.on('data', () => {})
    socket.on('error', () => { resolve() })
    socket.on('close', () => { resolve() })
  })
}
