/**
 * Certificates that must fail: none, another CA, expired, not yet valid,
 * serverAuth only. Each is refused before any request is parsed or
 * forwarded, told why in Docker's error shape, and audited as TLSRejected.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { certificateOf, startGateway, type TestGateway } from '../support/gateway.js'
import { docker, rawRequest } from '../support/clients.js'
import { connect } from 'node:net'
import { once } from 'node:events'

const socket = inject('dockerSocket')

describe.skipIf(socket === '')('TLS rejections', () => {
  let gw: TestGateway
  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => { await gw?.close() })

  const cases: Array<[string, string, string]> = [
    ['an expired certificate', 'expired', 'expired'],
    ['a certificate that is not valid yet', 'future', 'not-yet-valid'],
    ['a certificate with serverAuth usage only', 'server-only', 'wrong-usage']
  ]
  for (const [what, client, reason] of cases) {
    it(`refuses ${what}: the docker CLI prints why, the audit says ${reason}`, async () => {
      const before = gw.records().length
      const result = await docker(gw.port, gw.pki.bundle(client), ['ps'])
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/Error response from daemon: dockgate: the client certificate /)
      const added = gw.records().slice(before)
      expect(added.length).toBeGreaterThan(0)
      for (const record of added) {
        expect(record).toMatchObject({ stage: 'TLSRejected', code: 'DG_TLS_REJECTED', tls: { reason } })
        expect(record.request).toBeUndefined()
      }
      expect(certificateOf(added[0])?.subject).toContain(`CN=${client}`)
      expect(certificateOf(added[0])?.verified).toBe(false)
    })
  }

  it('refuses a client that presents no certificate', async () => {
    const before = gw.records().length
    const res = await rawRequest(gw.port, gw.pki.bundle('alice'), 'GET', '/v1.41/containers/json', { withCert: false })
    expect(res.status).toBe(403)
    expect((JSON.parse(res.body) as { message: string }).message).toMatch(/^dockgate: no client certificate was presented .*\(NO_CERTIFICATE\)$/)
    const added = gw.records().slice(before)
    expect(added).toMatchObject([{ stage: 'TLSRejected', identity: null, tls: { reason: 'no-certificate' } }])
    expect(res.headers['x-dockgate-request-id']).toBe(added[0]?.auditID)
  })

  it('refuses a certificate from another CA presented by a raw TLS client, audited as unknown-ca', async () => {
    const before = gw.records().length
    const res = await rawRequest(gw.port, gw.pki.bundle('mallory'), 'GET', '/v1.41/containers/json')
    expect(res.status).toBe(403)
    expect((JSON.parse(res.body) as { message: string }).message).toContain('not issued by this gateway\'s CA')
    const added = gw.records().slice(before)
    expect(added).toMatchObject([{ stage: 'TLSRejected', identity: { subject: 'CN=mallory,OU=platform', verified: false }, tls: { reason: 'unknown-ca' } }])
    expect(res.headers['x-dockgate-request-id']).toBe(added[0]?.auditID)
  })

  it('refuses the docker CLI holding another CA\'s certificate (Go sends none) and says why', async () => {
    const result = await docker(gw.port, gw.pki.bundle('mallory'), ['ps'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('dockgate: no client certificate was presented (the docker CLI sends none when its cert.pem is not issued by this gateway\'s CA)')
  })

  it('the server presents a certificate the docker CLI verifies for 127.0.0.1', async () => {
    const result = await docker(gw.port, gw.pki.bundle('alice'), ['version', '--format', '{{.Server.Os}}'])
    expect(result.stdout).toBe('linux\n')
  })
})

describe.skipIf(socket === '')('TLS rejections of clients that vanish mid-handshake', () => {
  let gw: TestGateway
  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => { await gw?.close() })

  it('records a ClientHello cut short and a reset once, with the address and port it came from', async () => {
    const before = gw.records().length
    const client = connect(gw.port, '127.0.0.1')
    await once(client, 'connect')
    const port = client.localPort
    // A TLS record header that promises 512 bytes of ClientHello, then 20 of them, then a reset.
    client.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, ...Array.from({ length: 9 }, (_, i) => i)]))
    client.resetAndDestroy()
    await expect.poll(() => gw.records().length, { timeout: 5000 }).toBeGreaterThan(before)
    // Whatever else the socket reports as it goes, no second record follows.
    await new Promise((resolve) => setImmediate(resolve))
    expect(gw.records().slice(before)).toMatchObject([{ stage: 'TLSRejected', client: { address: '127.0.0.1', port }, tls: { reason: 'handshake-failed' } }])
  })
})
