/**
 * A real project: an attached `docker-compose up` (Debian's docker-compose
 * 1.29, docker-py underneath) of 100 services through dockgate with its
 * default limits; each service prints a line and sleeps. Then the same
 * tool over a deliberately low limit (streamsPerIdentity: 20, 30 services).
 *
 * Two things of docker-compose 1.29 itself, not of dockgate, shape the
 * case (both reproduced against dockerd's own TLS port, without dockgate):
 * - Over TLS, docker-py reads an attach stream with select() before each
 *   recv(), so a frame already decrypted into the TLS buffer is printed only
 *   when more bytes arrive: each service prints a second line a second after
 *   its first, and the case waits for every first line.
 * - compose 1.29 deadlocks with more services than COMPOSE_PARALLEL_LIMIT
 *   (64) allows twice over (docker/compose#5864, #8226): each service's
 *   producer holds a slot while waiting for its containers' producers.
 *   COMPOSE_PARALLEL_LIMIT=256 lets 100 services come up.
 * This machine also sets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE for every
 * process; requests lets them override docker-py's own CA
 * (DOCKER_CERT_PATH/ca.pem), so they are removed from compose's environment.
 *
 * Thresholds: with the defaults, every service's line is printed, no
 * `dockgate:` error is, and `docker-compose down` leaves no container; over
 * the low limit compose prints dockgate's message and exits (within 60 s)
 * instead of hanging, and `down` again leaves no container. The figures:
 * how many streams, sessions and connections the project held.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync, spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { dockerEnv } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { auditVerify, direct, figure, IMAGE, since, startServed, type Served } from './support.js'

const socket = inject('dockerSocket')
const NAME = 'docker-compose'
const SERVICES = 100
const LOW_SERVICES = 30
const LOW_STREAMS = 20
const EXIT_WITHIN_S = 60
const dir = mkdtempSync('/tmp/dgf-compose.')
const projects: string[] = []

/** A project folder of `n` services, each printing `ready-sNNN`, then `up-sNNN` a second later, then sleeping. */
function project (name: string, n: number): string {
  const folder = join(dir, name)
  mkdirSync(folder)
  const services = Array.from({ length: n }, (_, i) => {
    const s = `s${String(i).padStart(3, '0')}`
    const command = JSON.stringify(['sh', '-c', `trap "exit 0" TERM; echo ready-${s}; sleep 1; echo up-${s}; while true; do sleep 1; done`])
    return `  ${s}:\n    image: ${IMAGE}\n    network_mode: none\n    command: ${command}\n`
  })
  writeFileSync(join(folder, 'docker-compose.yml'), `version: "2.4"\nservices:\n${services.join('')}`)
  projects.push(name)
  return folder
}

function composeEnv (served: Served): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...dockerEnv(served.port, served.bundle), COMPOSE_PARALLEL_LIMIT: '256' }
  delete env.REQUESTS_CA_BUNDLE
  delete env.CURL_CA_BUNDLE
  return env
}

/** `docker-compose -p NAME ARGS` in `folder` through dockgate; its output as it comes, and its exit. */
function compose (served: Served, folder: string, name: string, args: readonly string[]): { output: () => string; exited: Promise<number | null>; kill: (signal: NodeJS.Signals) => void } {
  const child = spawn('docker-compose', ['--ansi', 'never', '-p', name, ...args], { cwd: folder, env: composeEnv(served) })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { resolve(code) }))
  return { output: () => output, exited, kill: (signal) => { child.kill(signal) } }
}

async function containersOf (name: string): Promise<string[]> {
  return (await direct(socket, ['ps', '-aq', '--filter', `label=com.docker.compose.project=${name}`])).split('\n').filter((l) => l !== '')
}

beforeAll(() => {
  if (socket === '') return
  try {
    execFileSync('docker-compose', ['version'], { stdio: 'ignore' })
  } catch {
    throw new Error('docker-compose is not installed: apt-get install -y docker-compose (Debian\'s 1.29; .ci/run installs it)')
  }
})

afterAll(async () => {
  for (const name of projects) {
    const left = await containersOf(name).catch(() => [])
    if (left.length > 0) await direct(socket, ['rm', '-f', ...left]).catch(() => '')
  }
  rmSync(dir, { recursive: true, force: true })
})

describe.skipIf(socket === '')('fault: an attached docker-compose up of 100 services', () => {
  let served: Served
  afterAll(async () => { await served?.stop() })

  it('prints every service\'s line with the default limits, and down leaves nothing', async () => {
    served = await startServed({ socket })
    const name = `dgf${process.pid}big`
    const folder = project(name, SERVICES)
    const started = Date.now()
    const up = compose(served, folder, name, ['up'])
    const printed = (): number => new Set(up.output().match(/ready-s\d{3}/g) ?? []).size
    await waitFor(() => printed() === SERVICES || up.output().includes('dockgate:'), 300_000, `all ${SERVICES} services to print their line`)
      .catch((err: unknown) => { throw new Error(`${(err as Error).message}: ${printed()} printed; compose's last output:\n${up.output().slice(-2000)}`) })
    const allPrinted = since(started)
    const streams = await served.metric('dockgate_open_streams')
    const sessions = await served.metric('dockgate_open_sessions')
    const connections = await served.metric('dockgate_open_connections')
    const rss = served.rssMb()
    const fds = served.fds()

    const stopping = Date.now()
    up.kill('SIGINT')
    const upCode = await up.exited
    const stopped = since(stopping)
    const downStarted = Date.now()
    const down = compose(served, folder, name, ['down'])
    const downCode = await down.exited
    const downTook = since(downStarted)
    const left = await containersOf(name)
    const limitRefusals = served.records().filter((r) => r.code?.startsWith('DG_LIMIT_') === true)
    const verified = await auditVerify(served)

    figure(NAME, `${SERVICES} services up and printed after`, allPrinted, 's', null)
    figure(NAME, 'streams held (dockgate_open_streams)', streams ?? NaN, '', 'streamsPerIdentity 512')
    figure(NAME, 'hijacked sessions held (dockgate_open_sessions)', sessions ?? NaN, '', 'streamsPerIdentity 512, with the streams')
    figure(NAME, 'connections held (dockgate_open_connections)', connections ?? NaN, '', 'connectionsPerIdentity 768')
    figure(NAME, 'dockgate RSS with the project attached', rss, 'MiB', null)
    figure(NAME, 'dockgate descriptors with the project attached', fds, '', null)
    figure(NAME, 'up stopped (SIGINT) after', stopped, 's', null)
    figure(NAME, 'down took', downTook, 's', null)

    expect(printed()).toBe(SERVICES)
    expect(up.output()).not.toContain('dockgate:')
    expect(down.output()).not.toContain('dockgate:')
    expect(limitRefusals).toEqual([])
    expect(upCode).not.toBeNull()
    expect(downCode).toBe(0)
    expect(left).toEqual([])
    // One attach session per service and the project's event stream, at least.
    expect(sessions ?? 0).toBeGreaterThanOrEqual(SERVICES)
    expect(verified.code).toBe(0)
  }, 600_000)
})

describe.skipIf(socket === '')(`fault: docker-compose up over a low limit (streamsPerIdentity: ${LOW_STREAMS})`, () => {
  let served: Served
  afterAll(async () => { await served?.stop() })

  it('prints dockgate\'s message and exits instead of hanging, and down leaves nothing', async () => {
    served = await startServed({ socket, extra: `limits:\n  streamsPerIdentity: ${LOW_STREAMS}\n` })
    const name = `dgf${process.pid}low`
    const folder = project(name, LOW_SERVICES)
    const started = Date.now()
    const up = compose(served, folder, name, ['up'])
    const code = await Promise.race([up.exited, new Promise<'hung'>((resolve) => setTimeout(() => { resolve('hung') }, EXIT_WITHIN_S * 1000))])
    const exitedAfter = since(started)
    if (code === 'hung') up.kill('SIGKILL')
    const down = compose(served, folder, name, ['down'])
    const downCode = await down.exited
    const left = await containersOf(name)
    const message = `dockgate: CN=alice,OU=platform already has ${LOW_STREAMS} open streams and sessions (limits.streamsPerIdentity); close one (docker logs -f, events, attach, exec) and retry`
    // compose names each failure twice: by container (NAME_s014_1) as it happens, by service (s014) at the end.
    const refusedServices = new Set([...up.output().matchAll(/ERROR: for \S*?(s\d{3})\S*\s+(.*)/g)].filter((m) => m[2] === message).map((m) => m[1]))

    figure(NAME, `low limit: up exited (code ${String(code)}) after`, exitedAfter, 's', `${EXIT_WITHIN_S} s`)
    figure(NAME, 'low limit: services compose reported with dockgate\'s message', refusedServices.size, `of ${LOW_SERVICES}`, '>= 1')
    expect(code).not.toBe('hung')
    expect(code).not.toBe(0)
    expect(refusedServices.size).toBeGreaterThanOrEqual(1)
    expect(served.records().filter((r) => r.code === 'DG_LIMIT_STREAMS').length).toBeGreaterThanOrEqual(1)
    expect(downCode).toBe(0)
    expect(left).toEqual([])
  }, 300_000)
})
