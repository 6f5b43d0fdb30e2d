/**
 * Quiet streams are never cut. undici's headersTimeout and bodyTimeout
 * default to 300 s, and the socket proxies cut idle `logs -f` at 4 to 10
 * minutes; here `docker logs -f` and `docker events` sit silent for 320 s
 * and must still deliver what comes next. Slow by nature (five and a half
 * minutes of waiting), so it is in `npm run test:long`, not `npm test`.
 */
import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, dockerEnv } from '../support/clients.js'

const socket = inject('dockerSocket')
const QUIET_SECONDS = 320
const name = `dg-idle-${Math.random().toString(36).slice(2, 8)}`

describe.skipIf(socket === '')('idle streams through dockgate', () => {
  let gw: TestGateway
  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => {
    await docker(gw.port, gw.pki.bundle('alice'), ['rm', '-f', name])
    await gw?.close()
  })

  it(`docker logs -f and docker events stay open through ${QUIET_SECONDS} s of silence`, async () => {
    const env = dockerEnv(gw.port, gw.pki.bundle('alice'))
    const run = await docker(gw.port, gw.pki.bundle('alice'), ['run', '-d', '--name', name, '--network', 'none',
      'dockgate-test/busybox:latest', 'sh', '-c', `echo early; sleep ${QUIET_SECONDS}; echo late`])
    expect(run.code).toBe(0)
    const logs = spawn('docker', ['logs', '-f', name], { env })
    const events = spawn('docker', ['events', '--filter', `container=${name}`, '--format', '{{.Action}}'], { env })
    let logged = ''
    let evented = ''
    logs.stdout.on('data', (c: Buffer) => { logged += c.toString() })
    events.stdout.on('data', (c: Buffer) => { evented += c.toString() })
    const logsExit = new Promise<number | null>((resolve) => logs.on('close', resolve))
    await expect.poll(() => logged, { timeout: 10_000 }).toBe('early\n')
    await expect.poll(() => logged, { timeout: (QUIET_SECONDS + 30) * 1000, interval: 1000 }).toBe('early\nlate\n')
    expect(await logsExit).toBe(0)
    await expect.poll(() => evented, { timeout: 10_000 }).toContain('die')
    events.kill()
  }, (QUIET_SECONDS + 90) * 1000)
})
