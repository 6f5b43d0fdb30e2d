/**
 * Open connections do not outlive the trust they were admitted with. The
 * TLS gate decides at the handshake; a `docker events` stream can stay open
 * for days, so dockgate closes it itself when its certificate expires.
 * Certificates come from the gateway's own CA (`dockgate certs`), the
 * client is the stock docker CLI, the daemon is real.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueClientCertificate, type Ca } from '../../src/certs/issue.js'
import { docker, dockerEnv } from '../support/clients.js'
import { startLiveGateway, waitFor, type LiveGateway } from '../support/live.js'

const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'

describe.skipIf(socket === '')('open connections and the end of trust', () => {
  let gw: LiveGateway
  let ca: Ca
  beforeAll(async () => {
    gw = await startLiveGateway({ socket, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
    ca = { certPem: readFileSync(join(gw.certs, 'ca', 'ca.pem'), 'utf8'), keyPem: readFileSync(join(gw.certs, 'ca', 'key.pem'), 'utf8') }
  })
  afterAll(async () => { await gw?.close() })

  // A DOCKER_CERT_PATH bundle from `issuer`, valid from a minute ago until `notAfter`.
  const bundle = (name: string, issuer: Ca, notAfter: Date): { dir: string; serial: string } => {
    const issued = issueClientCertificate(issuer, { cn: name, ous: ['platform'], days: 1, notBefore: new Date(Date.now() - 60_000), notAfter })
    const dir = join(gw.dir, 'bundles', name)
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'ca.pem'), ca.certPem)
    writeFileSync(join(dir, 'cert.pem'), issued.certPem)
    writeFileSync(join(dir, 'key.pem'), issued.keyPem, { mode: 0o600 })
    return { dir, serial: issued.serialHex }
  }

  // Starts `docker events` and proves the stream open end to end with an event.
  const openEvents = async (dir: string): Promise<{ exited: Promise<number | null>; running: () => boolean }> => {
    const events = spawn('docker', ['events', '--format', '{{.Action}}'], { env: dockerEnv(gw.port, dir) })
    let output = ''
    let running = true
    events.stdout.on('data', (c: Buffer) => { output += c.toString() })
    const exited = new Promise<number | null>((resolve) => events.on('close', (code) => { running = false; resolve(code) }))
    for (let attempt = 0; attempt < 10 && !output.includes('create'); attempt++) {
      const name = `dg-trust-${process.pid}-${Date.now()}`
      await docker(gw.port, gw.bundle('alice'), ['create', '--name', name, '--network', 'none', 'dockgate-test/busybox:latest', 'true'])
      await docker(gw.port, gw.bundle('alice'), ['rm', name])
      await waitFor(() => output.includes('create'), 1000, 'the create event').catch(() => {})
    }
    expect(output).toContain('create')
    return { exited, running: () => running }
  }

  it('closes an open `docker events` stream when its client certificate expires, and audits why', async () => {
    const notAfter = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10_000)
    const brief = bundle('brief', ca, notAfter)
    const events = await openEvents(brief.dir)
    expect(Date.now()).toBeLessThan(notAfter.getTime())
    expect(events.running()).toBe(true)

    await waitFor(() => !events.running(), notAfter.getTime() - Date.now() + 5000, 'the stream to be closed at expiry')
    expect(Date.now()).toBeGreaterThanOrEqual(notAfter.getTime())
    expect(await events.exited).not.toBe(0)
    expect(gw.records()).toContainEqual(expect.objectContaining({
      stage: 'ConnectionClosed', code: 'DG_CONNECTION_EXPIRED', tls: { reason: 'expired', detail: 'CERT_HAS_EXPIRED' },
      identity: expect.objectContaining({ serial: brief.serial }) as unknown
    }))
    expect(gw.records()).toContainEqual(expect.objectContaining({
      stage: 'ResponseComplete', aborted: true, request: expect.objectContaining({ path: '/events' }) as unknown,
      identity: expect.objectContaining({ serial: brief.serial }) as unknown
    }))
    const again = await docker(gw.port, brief.dir, ['ps'])
    expect(again.stderr).toContain('dockgate: the client certificate has expired (CERT_HAS_EXPIRED)')
  })
})
