/**
 * A verified client that sends something other than well-formed HTTP gets a
 * Docker-shaped answer, the attempt is audited, and nothing is forwarded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type TestGateway } from '../../support/gateway.js'
import { startFakeDaemon, type FakeDaemon } from '../../support/fake-daemon.js'
import { rawExchange } from '../../support/clients.js'

/** The x-dockgate-request-id of a raw answer, or null. */
function requestIdOf (answer: string): string | null {
  return /\r\nx-dockgate-request-id: ([0-9a-f-]{36})\r\n/.exec(answer.split('\r\n\r\n')[0] + '\r\n')?.[1] ?? null
}

describe('malformed requests', () => {
  let daemon: FakeDaemon
  let gw: TestGateway
  let forwarded = 0
  beforeAll(async () => {
    daemon = await startFakeDaemon((_req, res) => { forwarded += 1; res.end('OK') })
    gw = await startGateway({ socket: daemon.socketPath, headersTimeoutMs: 1500 })
  })
  afterAll(async () => {
    await gw?.close()
    await daemon?.close()
  })

  it('answers bytes that are not HTTP with 400 in Docker\'s error shape and audits them', async () => {
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'), 'HELLO THERE\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(answer).toMatch(/\{"message":"dockgate: malformed HTTP request \(HPE_[A-Z_]+\)"\}$/)
    const record = gw.records().at(-1)
    expect(record).toMatchObject({ stage: 'Refused', code: 'DG_BAD_REQUEST', status: 400, identity: { subject: 'CN=alice,OU=platform' } })
    expect(forwarded).toBe(0)
    expect(requestIdOf(answer)).toBe(record?.auditID)
  })

  it('fills the record\'s identity entry and teams from the policy, like any request\'s', async () => {
    await rawExchange(gw.port, gw.pki.bundle('alice'), 'HELLO THERE\r\n\r\n')
    expect(gw.records().at(-1)?.identity).toMatchObject({ subject: 'CN=alice,OU=platform', teams: ['platform'], entry: { ref: expect.stringMatching(/policy\.yaml:3$/) as unknown, index: 0 } })
  })

  it('refuses a request smuggling a second length (Content-Length with Transfer-Encoding)', async () => {
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'),
      'POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(forwarded).toBe(0)
  })

  it('answers oversized headers with 431', async () => {
    // Past limits.headerBytes' 32 KiB default (a smaller header would reach the fake daemon, whose Node default is 16 KiB).
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'), `GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`)
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    expect(forwarded).toBe(0)
    expect(requestIdOf(answer)).toBe(gw.records().at(-1)?.auditID)
  })

  it('cuts a client whose headers never finish (slowloris) with 408', async () => {
    const started = Date.now()
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'), 'GET /_ping HTTP/1.1\r\nHost: d\r\n', 10_000)
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
    expect(Date.now() - started).toBeLessThan(4000)
    expect(forwarded).toBe(0)
    expect(requestIdOf(answer)).toBe(gw.records().at(-1)?.auditID)
  })
})
