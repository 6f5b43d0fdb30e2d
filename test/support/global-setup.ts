/**
 * Finds a Docker daemon for the integration suite, in this order:
 * DOCKGATE_TEST_DOCKER_SOCK (what .ci/run sets), else a private daemon
 * started here when running as root with dockerd installed. Without one the
 * daemon tests are skipped and say so, except under CI=true, where a missing
 * daemon fails the run instead.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'

const run = promisify(execFile)
const script = join(import.meta.dirname, '..', '..', 'scripts', 'test-daemon.sh')

declare module 'vitest' {
  export interface ProvidedContext {
    dockerSocket: string
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

async function canStartDaemon (): Promise<boolean> {
  if (process.getuid?.() !== 0) return false
  try {
    await run('sh', ['-c', 'command -v dockerd && command -v busybox'])
    return true
  } catch {
    return false
  }
}

export default async function setup (project: TestProject): Promise<() => Promise<void>> {
  let socket = process.env.DOCKGATE_TEST_DOCKER_SOCK ?? ''
  let privateDir: string | null = null
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
  project.provide('registry', process.env.DOCKGATE_TEST_REGISTRY ?? (socket === '' ? '' : '127.0.0.1:5000'))
  return async () => {
    if (privateDir === null) return
    await run('bash', [script, 'stop', privateDir], { timeout: 60_000 }).catch(() => {})
    rmSync(privateDir, { recursive: true, force: true })
  }
}
