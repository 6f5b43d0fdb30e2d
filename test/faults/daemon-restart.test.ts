/**
 * Fault: the Docker daemon restarts under dockgate while `docker logs -f`,
 * `docker events` and `docker exec -i` are open through it. On a private
 * daemon (scripts/test-daemon.sh in a folder of its own), so the daemon the
 * other cases share is never disturbed; the restart is what `systemctl
 * restart docker` does: SIGTERM to dockerd, then a start on the same
 * socket path.
 *
 * Thresholds: every stream ends within 10 s of the SIGTERM; /readyz says
 * not ready (daemon check failing) while the daemon is down and ready once
 * it is back; a new request through dockgate succeeds within 10 s of the
 * daemon answering again; `dockgate audit verify` passes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker, dockerEnv, rawRequest } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { auditVerify, direct, figure, IMAGE, startServed, timeUntil, type Served } from './support.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const script = join(import.meta.dirname, '..', '..', 'scripts', 'test-daemon.sh')
const NAME = 'daemon restart'
const STREAM_END_S = 10
const BACK_S = 10
const container = `dgf-restart-${process.pid}`

/** A docker CLI process through dockgate, its output and when it exited. */
interface Client { readonly child: ChildProcess; out: string; exitedAt: number | null }

function client (env: NodeJS.ProcessEnv, args: readonly string[]): Client {
  const child = spawn('docker', args, { env })
  const c: Client = { child, out: '', exitedAt: null }
  child.stdout?.on('data', (d: Buffer) => { c.out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { c.out += d.toString() })
  child.on('close', () => { c.exitedAt = Date.now() })
  return c
}

/** True when the daemon's own socket answers GET /_ping with 200. */
async function pingDaemon (path: string): Promise<boolean> {
  return await new Promise((resolve) => {
    const req = http.get({ socketPath: path, path: '/_ping', timeout: 1000 }, (res) => { res.resume(); resolve(res.statusCode === 200) })
    req.on('error', () => { resolve(false) })
    req.on('timeout', () => { req.destroy() })
  })
}

async function readyz (served: Served): Promise<{ status: number; daemonOk: boolean | null }> {
  const res = await fetch(`${served.admin}/readyz`)
  const body = await res.json() as { checks?: { daemon?: { ok?: boolean } } }
  return { status: res.status, daemonOk: body.checks?.daemon?.ok ?? null }
}

describe.skipIf(socket === '')('fault: the daemon restarts under open streams', () => {
  let dir = ''
  let served: Served
  const clients: Client[] = []

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/dgf-restart.')
    await run('bash', [script, 'start', dir], { timeout: 120_000 })
    served = await startServed({ socket: join(dir, 'docker.sock') })
  })
  afterAll(async () => {
    for (const c of clients) if (c.exitedAt === null) c.child.kill('SIGKILL')
    await served?.stop()
    if (dir !== '') {
      await run('bash', [script, 'stop', dir], { timeout: 120_000 }).catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('ends every stream within 10 s, says not ready while the daemon is down, serves again within 10 s of its return, and keeps a verifiable trail', async () => {
    const daemonSocket = join(dir, 'docker.sock')
    const env = dockerEnv(served.port, served.bundle)
    // PID 1 of a container ignores SIGTERM unless it traps it; this one stops within a second, as a real service does.
    await direct(daemonSocket, ['run', '-d', '--name', container, '--network', 'none', IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do echo tick; sleep 1; done'])
    const logs = client(env, ['logs', '-f', container])
    const events = client(env, ['events'])
    const exec = client(env, ['exec', '-i', container, 'cat'])
    clients.push(logs, events, exec)
    exec.child.stdin?.write('before\n')
    await waitFor(() => logs.out.includes('tick') && exec.out.includes('before') &&
      served.records().some((r) => r.stage === 'RequestReceived' && r.request?.path === '/events'), 20_000, 'the three streams to be open')
    expect(await served.metric('dockgate_open_streams')).toBe(2)
    expect(await served.metric('dockgate_open_sessions')).toBe(1)

    const dockerdPid = Number(readFileSync(join(dir, 'docker.pid'), 'utf8'))
    const stopped = Date.now()
    process.kill(dockerdPid, 'SIGTERM')
    await waitFor(() => clients.every((c) => c.exitedAt !== null), 30_000, 'every stream to end')
    const ends = { 'logs -f': logs, events, 'exec -i': exec }
    for (const [what, c] of Object.entries(ends)) figure(NAME, `${what} ended after`, ((c.exitedAt ?? 0) - stopped) / 1000, 's', `${STREAM_END_S} s`)
    await waitFor(() => { try { process.kill(dockerdPid, 0); return false } catch { return true } }, 30_000, 'dockerd to exit')
    // dockerd is gone and its socket answers nobody: /readyz must say so (the probe is at most a second old).
    const notReady = await timeUntil(async () => (await readyz(served)).status === 503, 5000)
    const down = await readyz(served)
    figure(NAME, '/readyz not ready after dockerd exited, within', (notReady ?? NaN) / 1000, 's', '5 s')
    // Polled for as long as the daemon is certainly down: until its folder is cleaned up for the start.
    const whileDown: number[] = []
    let isDown = true
    const poller = (async () => { while (isDown) whileDown.push((await readyz(served)).status) })()
    const refused = await docker(served.port, served.bundle, ['version', '--format', '{{.Server.Version}}'])
    await run('bash', [script, 'stop', dir], { timeout: 120_000 })
    isDown = false
    await poller
    // The start: the moment the daemon's own socket answers /_ping again, then how long until dockgate serves and is ready.
    const starting = run('bash', [script, 'start', dir], { timeout: 120_000 })
    const answeredIn = await timeUntil(async () => await pingDaemon(daemonSocket), 120_000)
    const answered = Date.now()
    figure(NAME, 'daemon down (SIGTERM to its socket answering again) for', (answered - stopped) / 1000, 's', null)
    const refusedAfterReturn: number[] = []
    const [served1, ready] = await Promise.all([
      timeUntil(async () => {
        const status = (await rawRequest(served.port, served.bundle, 'GET', '/version').catch(() => ({ status: 0 }))).status
        if (status !== 200) refusedAfterReturn.push(status)
        return status === 200
      }, BACK_S * 1000 + 5000),
      timeUntil(async () => (await readyz(served)).status === 200, BACK_S * 1000 + 5000)
    ])
    await starting
    figure(NAME, '/readyz polls while the daemon was down (each must be 503)', whileDown.length, '', null)
    figure(NAME, `first request served after the daemon answered again (${refusedAfterReturn.length} refused before it: ${[...new Set(refusedAfterReturn)].join(', ') || 'none'})`, (served1 ?? NaN) / 1000, 's', `${BACK_S} s`)
    figure(NAME, '/readyz ready after the daemon answered again', (ready ?? NaN) / 1000, 's', `${BACK_S} s`)
    const verified = await auditVerify(served)

    for (const c of clients) expect((c.exitedAt ?? Infinity) - stopped).toBeLessThan(STREAM_END_S * 1000)
    expect(notReady).not.toBeNull()
    expect(down).toEqual({ status: 503, daemonOk: false })
    expect(whileDown.length).toBeGreaterThan(0)
    expect(whileDown.every((status) => status === 503)).toBe(true)
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain(`dockgate: the Docker daemon at unix://${daemonSocket} is not answering`)
    expect(answeredIn).not.toBeNull()
    expect(served1).not.toBeNull()
    expect(served1 ?? Infinity).toBeLessThan(BACK_S * 1000)
    expect(ready ?? Infinity).toBeLessThan(BACK_S * 1000)
    expect(verified.output).toContain('intact: no record is missing, edited or reordered')
    expect(verified.code).toBe(0)
    // One final record for each stream, however the daemon ended it.
    const finals = served.records().filter((r) => r.stage === 'ResponseComplete')
    expect(finals.filter((r) => r.request?.path === '/events')).toHaveLength(1)
    expect(finals.filter((r) => /^\/containers\/[0-9a-f]{64}\/logs$/.test(r.request?.path ?? ''))).toHaveLength(1)
    expect(finals.filter((r) => /^\/exec\/[0-9a-f]+\/start$/.test(r.request?.path ?? ''))).toHaveLength(1)
  })
})
