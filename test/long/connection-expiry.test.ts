/**
 * An open connection does not outlive its certificate: a `docker events`
 * stream can stay open for days, so dockgate closes it itself when the
 * client certificate expires, and audits why. It waits in real time for a
 * certificate to expire, so it is in `npm run test:long`; the other end of
 * trust (a reloaded tls.ca) is in test/integration/connection-trust.test.ts.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker } from '../support/clients.js'
import { startLiveGateway, waitFor, type LiveGateway } from '../support/live.js'
import { bundleFrom, gatewayCa, openEvents, TRUST_POLICY } from '../support/trust.js'

const socket = inject('dockerSocket')

describe.skipIf(socket === '')('open connections and the end of trust: expiry', () => {
  let gw: LiveGateway
  beforeAll(async () => {
    gw = await startLiveGateway({ socket, policy: TRUST_POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
  })
  afterAll(async () => { await gw?.close() })

  it('closes an open `docker events` stream when its client certificate expires, and audits why', async () => {
    const notAfter = new Date(Math.ceil(Date.now() / 1000) * 1000 + 10_000)
    const ca = gatewayCa(gw)
    const brief = bundleFrom(gw, ca, 'brief', ca, notAfter)
    const events = await openEvents(gw, brief.dir)
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
