/**
 * Open connections do not outlive the trust they were admitted with. The
 * TLS gate decides at the handshake; a `docker events` stream can stay open
 * for days, so dockgate closes it itself when a reload of tls.ca no longer
 * trusts the CA that issued it (and when its certificate expires: that one
 * waits in real time, in test/long/connection-expiry.test.ts).
 * Certificates come from the gateway's own CA (`dockgate certs`), the
 * client is the stock docker CLI, the daemon is real.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueCrl } from '../../src/certs/crl.js'
import { createCa, type Ca } from '../../src/certs/issue.js'
import { docker } from '../support/clients.js'
import { startLiveGateway, waitFor, type LiveGateway } from '../support/live.js'
import { bundleFrom, gatewayCa, openEvents, TRUST_POLICY } from '../support/trust.js'

const socket = inject('dockerSocket')

describe.skipIf(socket === '')('open connections and the end of trust', () => {
  let gw: LiveGateway
  let ca: Ca
  beforeAll(async () => {
    gw = await startLiveGateway({ socket, policy: TRUST_POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
    ca = gatewayCa(gw)
  })
  afterAll(async () => { await gw?.close() })

  it('closes open connections whose CA a reloaded tls.ca drops, and keeps those of CAs still trusted', async () => {
    const caFile = join(gw.certs, 'ca', 'ca.pem')
    const crlFile = join(gw.certs, 'ca', 'crl.pem')
    const oldCrl = readFileSync(crlFile, 'utf8')
    const next = createCa({ commonName: 'dockgate CA next', days: 30 })
    const nextCrl = issueCrl(next, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + 3_600_000) })
    const later = new Date(Date.now() + 3_600_000)
    const events = await openEvents(gw, gw.bundle('alice'))

    // Rotation with overlap: both CAs trusted, nothing open is closed.
    let applied = gw.reloader.stats().applied
    writeFileSync(crlFile, oldCrl + nextCrl)
    writeFileSync(caFile, ca.certPem + next.certPem)
    await gw.reloaded(applied)
    const newcomer = bundleFrom(gw, ca, 'newcomer', next, later)
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
