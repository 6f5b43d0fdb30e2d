/**
 * Hop-by-hop request headers (RFC 9110 7.6.1) describe the client's
 * connection to dockgate and are not forwarded. undici, which dockgate once
 * forwarded with, refused some of them outright, which surfaced as a false
 * 502 "daemon not answering (UND_ERR_INVALID_ARG)". Each is sent through
 * dockgate to the real daemon.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { rawExchange, rawRequest } from '../support/clients.js'
import { startRuntime, type RuntimeHarness } from '../support/runtime.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const name = `dg-headers-${process.pid}-${Date.now()}`

/** The status line and body of a raw HTTP/1.1 exchange. */
async function exchange (gw: RuntimeHarness, head: string, body = ''): Promise<{ status: string; body: string }> {
  const answer = await rawExchange(gw.port, gw.bundle('alice'), `${head}\r\nHost: docker\r\nConnection: close\r\n\r\n${body}`)
  return { status: answer.split('\r\n')[0] ?? '', body: answer.slice(answer.indexOf('\r\n\r\n') + 4) }
}

describe.skipIf(socket === '')('hop-by-hop request headers', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
  })
  afterAll(async () => {
    await gw?.close()
    await run('docker', ['-H', `unix://${socket}`, 'rm', '-f', name]).catch(() => {})
  })

  const cases: Array<[string, Record<string, string>]> = [
    ['Keep-Alive', { 'keep-alive': 'timeout=5, max=100' }],
    ['Upgrade without Connection: Upgrade', { upgrade: 'tcp' }],
    ['a Connection header naming another header', { connection: 'keep-alive, X-Hop', 'x-hop': '1' }],
    ['Connection naming Keep-Alive', { connection: 'keep-alive, Keep-Alive', 'keep-alive': 'timeout=5' }],
    ['Proxy-Connection', { 'proxy-connection': 'keep-alive' }],
    ['TE', { te: 'trailers' }],
    ['HTTP2-Settings', { 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' }]
  ]
  for (const [what, headers] of cases) {
    it(`forwards a request with ${what} and answers the daemon's answer`, async () => {
      const res = await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/v1.41/version', { headers })
      expect(res.body).not.toContain('UND_ERR')
      expect(res.status).toBe(200)
      expect(JSON.parse(res.body)).toMatchObject({ ApiVersion: expect.any(String) as unknown })
    })
  }

  it('forwards a request with Trailer, and a chunked body with trailers and odd Transfer-Encoding, to the daemon', async () => {
    expect(await exchange(gw, 'GET /v1.41/_ping HTTP/1.1\r\nTrailer: X-Checksum')).toEqual({ status: 'HTTP/1.1 200 OK', body: 'OK' })
    const notFound = '{"message":"Cannot kill container: dg-nosuch: No such container: dg-nosuch"}\n'
    for (const framing of ['Transfer-Encoding: chunked\r\nTrailer: X-Checksum', 'Transfer-Encoding: gzip, chunked', 'Transfer-Encoding: Chunked']) {
      const res = await exchange(gw, `POST /v1.41/containers/dg-nosuch/kill HTTP/1.1\r\n${framing}`, '0\r\nX-Checksum: 1\r\n\r\n')
      expect(res, framing).toEqual({ status: 'HTTP/1.1 404 Not Found', body: notFound })
    }
  })

  it('forwards a judged body (container create) sent with Keep-Alive and Upgrade headers', async () => {
    const body = JSON.stringify({ Image: 'dockgate-test/busybox:latest', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
    const res = await rawRequest(gw.port, gw.bundle('alice'), 'POST', `/v1.41/containers/create?name=${name}`, {
      headers: { 'content-type': 'application/json', 'keep-alive': 'timeout=5', upgrade: 'tcp' }, body
    })
    expect(res.body).not.toContain('UND_ERR')
    expect(res.status).toBe(201)
  })
})

describe.skipIf(socket === '')('requests Node takes off the normal path', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
  })
  afterAll(async () => { await gw?.close() })

  const idOf = (answer: string): string => /\r\nx-dockgate-request-id: ([0-9a-f-]+)\r\n/i.exec(answer)?.[1] ?? ''

  it('answers CONNECT 405 in Docker\'s error shape, audited, and forwards nothing', async () => {
    const answer = await rawExchange(gw.port, gw.bundle('alice'), 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 405 Method Not Allowed\r\n/)
    expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe('{"message":"dockgate: method CONNECT is not part of the Docker API; dockgate is not a forward proxy"}')
    expect(gw.records().find((r) => r.auditID === idOf(answer))).toMatchObject({
      stage: 'Refused', decision: 'deny', code: 'DG_METHOD_NOT_SUPPORTED', status: 405,
      identity: { subject: 'CN=alice,OU=platform' }, request: { method: 'CONNECT', target: 'example.com:443', path: null }
    })
  })

  it('answers an Expect other than 100-continue 417 in Docker\'s error shape, audited, and closes', async () => {
    const answer = await rawExchange(gw.port, gw.bundle('alice'),
      'POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nExpect: something-else\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/)
    expect(answer).toMatch(/\r\nContent-Type: application\/json\r\n/i)
    expect(answer).toMatch(/\r\nConnection: close\r\n/i)
    expect(answer.slice(answer.indexOf('\r\n\r\n') + 4)).toBe('{"message":"dockgate: Expect: something-else cannot be met; only Expect: 100-continue is understood"}')
    expect(gw.records().find((r) => r.auditID === idOf(answer))).toMatchObject({
      stage: 'Refused', code: 'DG_EXPECTATION_FAILED', status: 417, request: { method: 'POST', path: '/containers/create' }
    })
  })
})
