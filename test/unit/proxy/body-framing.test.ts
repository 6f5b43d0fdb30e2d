/**
 * A body rule applies whatever the framing: Content-Length, chunked,
 * `Content-Length: 0` followed by more bytes, an upgrade request. The daemon
 * receives exactly the bytes that were judged, with a Content-Length; what
 * cannot be judged never reaches it. A fake daemon records what it receives;
 * these are framings the docker CLI never produces.
 */
import https from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startGateway, type TestGateway } from '../../support/gateway.js'
import { startFakeDaemon, type FakeDaemon } from '../../support/fake-daemon.js'
import { rawExchange, rawRequest, tlsOptions } from '../../support/clients.js'
import { STANDARD_CLIENTS } from '../../support/pki.js'

interface Received { method: string; url: string; headers: IncomingMessage['headers']; body: string }
let received: Received[] = []

function recordingDaemon (req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() })
    res.writeHead(201, { 'content-type': 'application/json' }).end('{"Id":"abc","Warnings":[]}')
  })
}

const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { cn: "ci-runner-*" }
    teams: [ci]
  - match: { ou: trial }
    teams: [trial]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow: ["* /**"]
    containers:
      bindMounts: ["/srv/ci/**"]
  trial:
    mode: audit
    allow: ["POST /containers/create"]
`
const LIMIT = 4096
const PRIVILEGED = '{"Image":"x","HostConfig":{"Privileged":true}}'
const PLAIN = '{"Image":"x","HostConfig":{"Binds":["/srv/ci/cache:/c"]}}'

describe('judged bodies through the gateway (fake daemon)', () => {
  let daemon: FakeDaemon
  let gw: TestGateway
  const ci = (): string => gw.pki.bundle('ci-runner-7')
  const post = async (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }, bundle = ci()): Promise<{ status: number; body: string; id: string }> => {
    const res = await rawRequest(gw.port, bundle, 'POST', '/v1.41/containers/create', { headers, body })
    return { status: res.status, body: res.body, id: String(res.headers['x-dockgate-request-id']) }
  }
  const recordOf = (id: string): Record<string, unknown> | undefined => gw.records().findLast((r) => r.auditID === id)

  beforeAll(async () => {
    daemon = await startFakeDaemon(recordingDaemon)
    gw = await startGateway({ socket: daemon.socketPath, policy: POLICY, bodyBytes: LIMIT, clients: [...STANDARD_CLIENTS, { name: 'trial-1', ous: ['trial'] }] })
  })
  beforeEach(() => { received = [] })
  afterAll(async () => {
    await gw?.close()
    await daemon?.close()
  })

  it('forwards an allowed body byte for byte with a Content-Length', async () => {
    const answer = await post(PLAIN, { 'content-type': 'application/json; charset=utf-8' })
    expect(answer.status).toBe(201)
    expect(received).toHaveLength(1)
    expect(received[0]?.body).toBe(PLAIN)
    expect(received[0]?.headers['content-length']).toBe(String(Buffer.byteLength(PLAIN)))
    expect(received[0]?.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(recordOf(answer.id)).toMatchObject({ stage: 'ResponseComplete', decision: 'allow', bytesIn: Buffer.byteLength(PLAIN), status: 201 })
  })

  it('refuses a privileged body with 403 and the reason, recorded with the deciding setting, never forwarded', async () => {
    const answer = await post(PRIVILEGED)
    expect(answer.status).toBe(403)
    expect(JSON.parse(answer.body)).toEqual({ message: 'dockgate: ci may not create a privileged container' })
    expect(received).toHaveLength(0)
    expect(recordOf(answer.id)).toMatchObject({
      stage: 'Refused', decision: 'deny', code: 'DG_BODY_DENIED', status: 403,
      reason: 'dockgate: ci may not create a privileged container',
      rule: { text: 'containers.privileged: false (default)', team: 'ci' }
    })
  })

  it('judges a chunked body and forwards it de-chunked with a Content-Length and no Transfer-Encoding', async () => {
    const send = async (parts: string[]): Promise<string> => await new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port: gw.port, method: 'POST', path: '/v1.41/containers/create', agent: false, headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, ...tlsOptions(ci()) }, (res) => {
        let text = ''
        res.on('data', (c: Buffer) => { text += c.toString() })
        res.on('end', () => { resolve(`${res.statusCode ?? 0} ${text}`) })
      })
      req.on('error', reject)
      for (const part of parts) req.write(part)
      req.end()
    })
    expect(await send([PRIVILEGED.slice(0, 20), PRIVILEGED.slice(20)])).toBe('403 {"message":"dockgate: ci may not create a privileged container"}')
    expect(received).toHaveLength(0)
    expect(await send([PLAIN.slice(0, 10), PLAIN.slice(10)])).toMatch(/^201 /)
    expect(received[0]?.body).toBe(PLAIN)
    expect(received[0]?.headers['transfer-encoding']).toBeUndefined()
    expect(received[0]?.headers['content-length']).toBe(String(PLAIN.length))
  })

  it('judges bytes after "Content-Length: 0" as the next request, as dockerd would read them', async () => {
    const second = `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: ${PRIVILEGED.length}\r\nConnection: close\r\n\r\n${PRIVILEGED}`
    const answer = await rawExchange(gw.port, ci(), `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n${second}`)
    expect(answer).toMatch(/^HTTP\/1\.1 201 /)
    expect(answer).toContain('HTTP/1.1 403 Forbidden')
    expect(answer).toContain('dockgate: ci may not create a privileged container')
    expect(received.map((r) => r.body)).toEqual([''])
  })

  it('refuses bytes after "Content-Length: 0" that are not a request; they never reach the daemon as a body', async () => {
    const answer = await rawExchange(gw.port, ci(), `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n${PRIVILEGED}\r\n\r\n`)
    expect(answer).toContain('HTTP/1.1 400 Bad Request')
    expect(answer).toContain('dockgate: malformed HTTP request')
    expect(received.every((r) => r.body === '')).toBe(true)
  })

  it('refuses a declared Content-Length over the limit with 413 before reading the body (or inviting it)', async () => {
    const head = `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`
    const started = Date.now()
    const answer = await rawExchange(gw.port, ci(), head)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(answer).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/)
    expect(answer).not.toContain('100 Continue')
    expect(answer).toContain('{"message":"dockgate: POST /containers/create: the request body is larger than 4096 bytes (limits.bodyBytes), so it cannot be judged"}')
    expect(received).toHaveLength(0)
  })

  it('refuses a chunked body that grows over the limit with 413 and stops reading', async () => {
    const chunk = `{"Image":"${'a'.repeat(LIMIT)}"}`
    const bytes = `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`
    const answer = await rawExchange(gw.port, ci(), bytes)
    expect(answer).toMatch(/^HTTP\/1\.1 413 /)
    expect(answer).toMatch(/connection: close/i)
    expect(received).toHaveLength(0)
  })

  it('judges a body sent without any Content-Type as JSON, as dockerd reads it', async () => {
    expect((await post(PRIVILEGED, {})).status).toBe(403)
    expect((await post(PLAIN, {})).status).toBe(201)
    expect(received.map((r) => [r.body, r.headers['content-type']])).toEqual([[PLAIN, undefined]])
  })

  it('refuses a body with a non-JSON content type (415), ambiguous keys or bad JSON (400)', async () => {
    expect((await post(PLAIN, { 'content-type': 'text/plain' })).status).toBe(415)
    expect((await post('{"HostConfig":{"Binds":[],"binds":["/:/h"]}}')).status).toBe(400)
    expect((await post('{"HostConfig":{"Binds":[]}')).status).toBe(400)
    const answer = await post('{"Image":"x","Image":"y"}')
    expect(answer.status).toBe(400)
    expect(recordOf(answer.id)).toMatchObject({ stage: 'Refused', code: 'DG_BODY_AMBIGUOUS', status: 400 })
    expect(received).toHaveLength(0)
  })

  it('judges the body of an upgrade request to a judged endpoint', async () => {
    const upgrade = (body: string): string => `POST /v1.41/containers/create HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`
    const refused = await rawExchange(gw.port, ci(), upgrade(PRIVILEGED))
    expect(refused).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
    expect(refused).toContain('dockgate: ci may not create a privileged container')
    expect(received).toHaveLength(0)
    const allowed = await rawExchange(gw.port, ci(), upgrade(PLAIN))
    expect(allowed).toMatch(/^HTTP\/1\.1 201 /)
    expect(received.map((r) => r.body)).toEqual([PLAIN])
  })

  it('streams bodies of endpoints without body rules unread, whatever their content type', async () => {
    const res = await rawRequest(gw.port, ci(), 'POST', '/v1.41/containers/abc/kill', { headers: { 'content-type': 'text/plain' }, body: 'not json at all' })
    expect(res.status).toBe(201)
    expect(received.map((r) => r.body)).toEqual(['not json at all'])
  })

  it('does not read bodies for an unrestricted team', async () => {
    expect((await post('{"Image":"x","Image":"y"}', { 'content-type': 'text/plain' }, gw.pki.bundle('alice'))).status).toBe(201)
    expect(received.map((r) => r.body)).toEqual(['{"Image":"x","Image":"y"}'])
  })

  it('forwards what audit mode would deny, recording would-deny with the reason', async () => {
    const answer = await post(PRIVILEGED, { 'content-type': 'application/json' }, gw.pki.bundle('trial-1'))
    expect(answer.status).toBe(201)
    expect(received.map((r) => r.body)).toEqual([PRIVILEGED])
    expect(recordOf(answer.id)).toMatchObject({
      stage: 'ResponseComplete', decision: 'would-deny', code: 'DG_BODY_DENIED', status: 201,
      reason: 'dockgate: trial may not create a privileged container', rule: { text: 'containers.privileged: false (default)', team: 'trial' }
    })
  })
})
