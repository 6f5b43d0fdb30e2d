/**
 * Open connections do not outlive the trust they were admitted with. The
 * TLS gate decides at the handshake; a `docker events` stream can stay open
 * for days, so dockgate closes it itself when its certificate expires, and
 * when a reload of tls.ca no longer trusts the CA that issued it.
 * Certificates come from the gateway's own CA (`dockgate certs`), the
 * client is the stock docker CLI, the daemon is real.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueCrl } from '../../src/certs/crl.js'
import { createCa, issueClientCertificate, type Ca } from '../../src/certs/issue.js'
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

  it('closes open connections whose CA a reloaded tls.ca drops, and keeps those of CAs still trusted', async () => {
    const caFile = join(gw.certs, 'ca', 'ca.pem')
    const crlFile = join(gw.certs, 'ca', 'crl.pem')
    const oldCrl = readFileSync(crlFile, 'utf8')
    const next = createCa({ commonName: 'dockgate CA next', days: 30 })
    const nextCrl = issueCrl(next, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + 3_600_000) })
    const later = new Date(Date.now() + 3_600_000)
    const events = await openEvents(gw.bundle('alice'))

    // Rotation with overlap: both CAs trusted, nothing open is closed.
    let applied = gw.reloader.stats().applied
    writeFileSync(crlFile, oldCrl + nextCrl)
    writeFileSync(caFile, ca.certPem + next.certPem)
    await gw.reloaded(applied)
    const newcomer = bundle('newcomer', next, later)
    expect((await docker(gw.port, newcomer.dir, ['ps', '-q'])).code).toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(events.running()).toBe(true)

    // The old CA removed: alice's stream no longer chains to a trusted CA.
    applied = gw.reloader.stats().applied
    writeFileSync(crlFile, nextCrl)
    writeFileSync(caFile, next.certPem)
    await gw.reloaded(applied)
    await waitFor(() => !events.running(), 5000, 'the stream of the dropped CA to be closed')
    expect(gw.records()).toContainEqual(expect.objectContaining({
      stage: 'ConnectionClosed', code: 'DG_CONNECTION_UNTRUSTED', tls: { reason: 'unknown-ca', detail: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' },
      identity: expect.objectContaining({ subject: 'CN=alice,OU=platform' }) as unknown
    }))
    expect(gw.records().filter((record) => record.code === 'DG_CONNECTION_UNTRUSTED')).toHaveLength(1)
    expect(gw.logs().map((line) => line.msg)).toContainEqual(expect.stringMatching(/^reloaded \(file-change\): .*; closed 1 open connection\(s\) whose certificate no CA in tls\.ca issued any more$/))
    expect((await docker(gw.port, newcomer.dir, ['ps', '-q'])).code).toBe(0)
    expect((await docker(gw.port, gw.bundle('alice'), ['ps'])).code).not.toBe(0)
  })
})
