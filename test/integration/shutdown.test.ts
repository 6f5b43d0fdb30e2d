/**
 * Graceful shutdown of the built CLI on SIGTERM, against the real daemon,
 * with everything that can be open at that moment: a `docker stop` in
 * flight (an ordinary request the daemon takes 3 s to answer), a `docker
 * events` stream, a `docker exec -i` session, and an idle keep-alive
 * connection. The in-flight request finishes, the next request on the
 * kept-alive connection gets a 503, new connections are refused, streams
 * and sessions are closed at the deadline, every record is in the audit
 * file, and dockgate exits 0.
 */
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import tls from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest'
import type { AuditRecord } from '../../src/audit/record.js'
import { docker, dockerEnv, tlsOptions } from '../support/clients.js'
import { killAll, prepare, serve } from '../support/cli.js'
import { waitFor } from '../support/live.js'
import { sample } from '../support/runtime.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const GRACE_S = 5
const name = `dg6-shutdown-${process.pid}-${Date.now()}`
const execName = `${name}-exec`
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'

afterEach(killAll)
afterAll(async () => {
  if (socket !== '') await run('docker', ['-H', `unix://${socket}`, 'rm', '-f', name, execName]).catch(() => {})
})

/** Reads one HTTP answer on an open socket (the server closes after it, or it has a Content-Length). */
async function ask (socket: tls.TLSSocket, request: string): Promise<string> {
  return await new Promise((resolve) => {
    let text = ''
    const onData = (c: Buffer): void => {
      text += c.toString('latin1')
      const head = text.indexOf('\r\n\r\n')
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? NaN)
      if (head >= 0 && text.length >= head + 4 + length) { socket.off('data', onData); resolve(text) }
    }
    socket.on('data', onData)
    socket.once('close', () => { resolve(text) })
    socket.write(request)
  })
}

describe.skipIf(socket === '')('graceful shutdown on SIGTERM', () => {
  it('finishes the in-flight request, answers 503 on kept-alive connections, cuts streams and sessions at the deadline, flushes the audit trail, exits 0', async () => {
    const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform']], `admin: 127.0.0.1:0\nshutdown:\n  graceSeconds: ${GRACE_S}\n`)
    const bundle = join(dir, 'certs', 'clients', 'alice')
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    const port = await served.port()
    const admin = await served.admin()
    const env = dockerEnv(port, bundle)
    // PID 1 ignores SIGTERM, so the daemon takes the whole -t 3 to answer `docker stop`.
    for (const container of [name, execName]) {
      expect((await docker(port, bundle, ['run', '-d', '--name', container, '--network', 'none', IMAGE, 'sleep', '600'])).code).toBe(0)
    }

    const events = spawn('docker', ['events'], { env })
    let evented = ''
    events.stdout.on('data', (c: Buffer) => { evented += c.toString() })
    const eventsExit = new Promise<number>((resolve) => events.on('close', () => { resolve(Date.now()) }))
    const exec = spawn('docker', ['exec', '-i', execName, 'cat'], { env })
    let echoed = ''
    exec.stdout.on('data', (c: Buffer) => { echoed += c.toString() })
    const execExit = new Promise<number>((resolve) => exec.on('close', () => { resolve(Date.now()) }))
    exec.stdin.write('before\n')
    await waitFor(() => echoed === 'before\n', 15_000, 'the exec session')
    const keptAlive = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) })
    expect(await ask(keptAlive, 'GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 /)
    await waitFor(() => readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').includes('"/events"'), 10_000, 'the events stream to start')
    const stop = spawn('docker', ['stop', '-t', '3', name], { env })
    const stopExit = new Promise<[number | null, number]>((resolve) => stop.on('close', (code) => { resolve([code, Date.now()]) }))
    // In flight at the daemon: it has sent the container its SIGTERM and waits out -t 3.
    await waitFor(() => new RegExp(`container kill \\w+ \\(.*name=${name}[,)].*signal=15`).test(evented), 10_000, 'the stop to reach the daemon')

    const signalled = Date.now()
    served.child.kill('SIGTERM')
    await waitFor(() => served.logs().some((l) => l.msg.startsWith('dockgate stopping')), 5000, 'the stopping line')

    const late = await ask(keptAlive, 'GET /v1.41/version HTTP/1.1\r\nHost: d\r\n\r\n')
    expect(late).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/)
    expect(late).toMatch(/\r\nconnection: close\r\n/i)
    // No Retry-After: when a replacement takes connections is not dockgate's to know.
    expect(late).not.toMatch(/\r\nretry-after:/i)
    expect(late).toContain('{"message":"dockgate: the gateway is shutting down; retry, and your client will reach it (or its replacement) on a new connection"}')
    const fresh = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) }, () => { resolve('connected'); s.destroy() })
      s.on('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? err.message) })
    })
    expect(fresh).toBe('ECONNREFUSED')
    const ready = await fetch(`${admin}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.text()).toContain('"accepting":{"ok":false,"detail":"shutting down: new requests are answered 503"}')
    const metrics = await (await fetch(`${admin}/metrics`)).text()
    expect(sample(metrics, 'dockgate_draining')).toBe(1)
    expect(sample(metrics, 'dockgate_open_sessions')).toBe(1)
    expect(sample(metrics, 'dockgate_open_streams')).toBe(1)

    const [stopCode, stopAt] = await stopExit
    expect(stopCode).toBe(0)
    expect(stopAt - signalled).toBeLessThan(GRACE_S * 1000)
    expect(events.exitCode).toBeNull()
    expect(exec.exitCode).toBeNull()
    const [eventsAt, execAt] = await Promise.all([eventsExit, execExit])
    for (const at of [eventsAt, execAt]) {
      expect(at - signalled).toBeGreaterThanOrEqual(GRACE_S * 1000 - 300)
      expect(at - signalled).toBeLessThan(GRACE_S * 1000 + 3000)
    }
    expect(await served.exited).toBe(0)
    expect(served.logs().at(-1)?.msg).toMatch(/^dockgate stopped: 2 exchange\(s\) cut at the deadline; audit trail flushed$/)

    const records = readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as AuditRecord)
    const final = (method: string, path: RegExp): AuditRecord | undefined =>
      records.find((r) => r.stage === 'ResponseComplete' && r.request?.method === method && path.test(r.request.path ?? ''))
    expect(final('POST', /^\/containers\/.*\/stop$/)).toMatchObject({ status: 204, aborted: false })
    expect(final('GET', /^\/events$/)).toMatchObject({ status: 200, aborted: true })
    expect(final('POST', /^\/exec\/.*\/start$/)).toMatchObject({ status: 101, aborted: true })
    expect(records.filter((r) => r.code === 'DG_SHUTTING_DOWN')).toEqual([
      expect.objectContaining({ stage: 'Refused', status: 503, request: expect.objectContaining({ path: '/version' }) as unknown })
    ])
  }, 60_000)

  it('stops at once on a second signal, still flushing the audit trail', async () => {
    const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform']], 'shutdown:\n  graceSeconds: 60\n')
    const bundle = join(dir, 'certs', 'clients', 'alice')
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    const port = await served.port()
    const events = spawn('docker', ['events'], { env: dockerEnv(port, bundle) })
    await waitFor(() => readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').includes('"/events"'), 10_000, 'the events stream to start')
    const signalled = Date.now()
    served.child.kill('SIGTERM')
    await waitFor(() => served.logs().some((l) => l.msg.startsWith('dockgate stopping')), 5000, 'the stopping line')
    served.child.kill('SIGINT')
    expect(await served.exited).toBe(0)
    expect(Date.now() - signalled).toBeLessThan(5000)
    events.kill()
    const last = readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').trimEnd().split('\n').at(-1) ?? ''
    expect(JSON.parse(last)).toMatchObject({ stage: 'ResponseComplete', request: { path: '/events' }, aborted: true })
  })

  it('exits within graceSeconds plus a second, however many connections are still handshaking, being turned away or refused', async () => {
    const grace = 2
    const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform']], `limits:\n  maxConnections: 1\nshutdown:\n  graceSeconds: ${grace}\n`)
    const bundle = join(dir, 'certs', 'clients', 'alice')
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    const port = await served.port()
    const open: net.Socket[] = []
    try {
      // A stream the deadline cuts, holding the one verified slot.
      const events = spawn('docker', ['events'], { env: dockerEnv(port, bundle) })
      await waitFor(() => readFileSync(join(dir, 'audit', 'audit.jsonl'), 'utf8').includes('"/events"'), 10_000, 'the events stream to start')
      // Bare TCP connections that never start a handshake (handshakeTimeout is 10 s).
      for (let i = 0; i < 20; i++) open.push(await new Promise<net.Socket>((resolve) => { const s = net.connect(port, '127.0.0.1', () => { resolve(s) }); s.on('error', () => {}) }))
      // A client without a certificate, turned away, that never sends its request (its 403 waits 10 s).
      const rejected = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle, false) })
      rejected.on('error', () => {})
      // A verified client over maxConnections, whose refusal waits 5 s for its first bytes.
      const refused = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) })
      refused.on('error', () => {})
      open.push(rejected, refused)
      // Both handshakes done (the server has sent its Finished), neither request sent.
      await Promise.all([rejected, refused].map(async (s) => await new Promise((resolve) => { s.once('secureConnect', resolve); s.once('close', resolve) })))
      const signalled = Date.now()
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)
      expect(Date.now() - signalled).toBeLessThan(grace * 1000 + 1000)
      events.kill()
    } finally {
      for (const s of open) s.destroy()
    }
  }, 30_000)
})
