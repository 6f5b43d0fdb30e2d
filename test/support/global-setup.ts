/**
 * Finds a Docker daemon for the integration suite, in this order:
 * DOCKGATE_TEST_DOCKER_SOCK (what .ci/run sets), else a private daemon
 * started here when running as root with dockerd installed. Without one the
 * daemon tests are skipped and say so, except under CI=true, where a missing
 * daemon fails the run instead.
 *
 * And a registry for the push/pull test: DOCKGATE_TEST_REGISTRY (HOST:PORT)
 * when set, else one started here from Debian's `docker-registry` on a free
 * loopback port, with its own storage, stopped at the end (dockerd treats
 * 127.0.0.0/8 registries as insecure by default, so plain HTTP works).
 * Without one that test is skipped and says so; under CI=true a missing
 * registry fails the run.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'

const run = promisify(execFile)
const script = join(import.meta.dirname, '..', '..', 'scripts', 'test-daemon.sh')

declare module 'vitest' {
  export interface ProvidedContext {
    dockerSocket: string
    /** HOST:PORT of a registry the daemon can push to, or '' for none. */
    registry: string
  }
}

async function answers (socket: string): Promise<boolean> {
  try {
    await run('docker', ['-H', `unix://${socket}`, 'version', '--format', '{{.Server.Version}}'], { timeout: 10_000 })
    return true
  } catch {
    return false
  }
}

async function installed (...commands: string[]): Promise<boolean> {
  try {
    await run('sh', ['-c', commands.map((c) => `command -v ${c}`).join(' && ')])
    return true
  } catch {
    return false
  }
}

async function canStartDaemon (): Promise<boolean> {
  return process.getuid?.() === 0 && await installed('dockerd', 'busybox')
}

/** A loopback port nothing listens on right now. */
async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** True once `address` answers the registry API (GET /v2/ with the distribution header). */
async function isRegistry (address: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(2000) })
    return res.status === 200 && res.headers.get('docker-distribution-api-version') === 'registry/2.0'
  } catch {
    return false
  }
}

interface Registry { readonly address: string; readonly stop: () => Promise<void> }

/**
 * `docker-registry serve` on a free loopback port. If something takes the
 * port between choosing and binding, the registry exits and another port is
 * tried; a registry that is not ours never answers for it.
 */
async function startRegistry (): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'dgt-registry.'))
  const problems: string[] = []
  for (let attempt = 0; attempt < 3; attempt++) {
    const address = `127.0.0.1:${await freePort()}`
    const config = join(dir, 'registry.yml')
    writeFileSync(config, `version: 0.1\nlog: { level: error }\nstorage: { filesystem: { rootdirectory: ${join(dir, 'storage')} } }\nhttp: { addr: ${address} }\n`)
    const log = join(dir, 'registry.log')
    const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', openSync(log, 'w'), openSync(log, 'a')] })
    let exited = false
    const gone = new Promise<void>((resolve) => child.on('exit', () => { exited = true; resolve() }))
    child.on('error', () => {})
    const deadline = Date.now() + 15_000
    while (!exited && Date.now() < deadline && !await isRegistry(address)) await new Promise((resolve) => setTimeout(resolve, 100))
    if (!exited && await isRegistry(address)) {
      return {
        address,
        stop: async () => {
          child.kill('SIGTERM')
          const killer = setTimeout(() => { child.kill('SIGKILL') }, 5000)
          await gone
          clearTimeout(killer)
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
    child.kill('SIGKILL')
    await gone
    problems.push(`${address}: ${readFileSync(log, 'utf8').trim().split('\n').at(-1) ?? 'no output'}`)
  }
  rmSync(dir, { recursive: true, force: true })
  throw new Error(`docker-registry did not start: ${problems.join('; ')}`)
}


export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  let socket = process.env.DOCKGATE_TEST_DOCKER_SOCK ?? ''
  let privateDir: string | null = null
  let registry: Registry | null = null
  const teardown = async (): Promise<void> => {
    await registry?.stop()
    if (privateDir === null) return
    await run('bash', [script, 'stop', privateDir], { timeout: 60_000 }).catch(() => {})
    rmSync(privateDir, { recursive: true, force: true })
  }
  try {
    if (socket === '' && await canStartDaemon()) {
      privateDir = mkdtempSync('/tmp/dgt.')
      await run('bash', [script, 'start', privateDir], { timeout: 120_000 })
      socket = join(privateDir, 'docker.sock')
    }
    if (socket !== '' && !await answers(socket)) socket = ''
    if (socket === '') {
      if (process.env.CI === 'true') throw new Error('CI=true but no Docker daemon answers: set DOCKGATE_TEST_DOCKER_SOCK or run as root with docker.io installed')
      process.stderr.write('\n*** No Docker daemon: the real-daemon integration tests are SKIPPED. Set DOCKGATE_TEST_DOCKER_SOCK or run as root with docker.io installed. ***\n\n')
    }
    project.provide('dockerSocket', socket)

    let address = process.env.DOCKGATE_TEST_REGISTRY ?? ''
    if (socket !== '' && address === '') {
      if (await installed('docker-registry')) {
        registry = await startRegistry()
        address = registry.address
      } else {
        if (process.env.CI === 'true') throw new Error('CI=true but there is no registry for the push/pull test: install docker-registry or set DOCKGATE_TEST_REGISTRY=HOST:PORT')
        process.stderr.write('\n*** No registry: the docker push/pull test is SKIPPED. Install docker-registry (Debian) or set DOCKGATE_TEST_REGISTRY=HOST:PORT. ***\n\n')
      }
    }
    project.provide('registry', socket === '' ? '' : address)
  } catch (err) {
    await teardown()
    throw err
  }
  return teardown
}
