/**
 * Streaming edge cases through a real gateway in front of a fake daemon:
 * silent streams, clients that leave, readers that stop reading, Expect,
 * and many open streams. Each test fails without the fix it names.
 */
import { readFileSync } from 'node:fs'
import https from 'node:https'
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type TestGateway } from '../../support/gateway.js'
import { startFakeDaemon, type FakeDaemon } from '../../support/fake-daemon.js'
import { rawRequest, tlsOptions } from '../../support/clients.js'

const MiB = 1024 * 1024
const chunk = Buffer.alloc(MiB, 0x61)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

interface DaemonState { silentClosed: number; downloadWritten: number; uploadReceived: number; lastHeaders: Record<string, unknown> }
const state: DaemonState = { silentClosed: 0, downloadWritten: 0, uploadReceived: 0, lastHeaders: {} }

function fakeDocker (req: IncomingMessage, res: ServerResponse): void {
  state.lastHeaders = req.headers
  const path = req.url ?? ''
  if (path.startsWith('/v1.41/events')) {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.flushHeaders()
    res.on('close', () => { state.silentClosed += 1 })
    return
  }
  if (path.startsWith('/v1.41/containers/big/export')) return writeBig(res, 64 * MiB)
  if (path.startsWith('/v1.41/containers/slow/archive')) {
    req.pause()
    setTimeout(() => {
      req.on('data', (c: Buffer) => { state.uploadReceived += c.length })
      req.on('end', () => { res.end(JSON.stringify({ received: state.uploadReceived })) })
      req.resume()
    }, 1500)
    return
  }
  if (path.startsWith('/v1.41/build')) {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { res.end(JSON.stringify({ body, expect: req.headers.expect ?? null })) })
    return
  }
  res.end('OK')
}

function writeBig (res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/x-tar' })
  const pump = (): void => {
    while (state.downloadWritten < total) {
      state.downloadWritten += chunk.length
      if (!res.write(chunk)) { res.once('drain', pump); return }
    }
    res.end()
  }
  pump()
}

describe('streaming through dockgate (fake daemon)', () => {
  let daemon: FakeDaemon
  let gw: TestGateway
  const alice = (): string => gw.pki.bundle('alice')
  const open = (method: string, path: string, headers: Record<string, string> = {}, bundle = alice()): ClientRequest =>
    https.request({ host: '127.0.0.1', port: gw.port, method, path, headers, agent: false, ...tlsOptions(bundle) })

  beforeAll(async () => {
    daemon = await startFakeDaemon(fakeDocker)
    gw = await startGateway({ socket: daemon.socketPath })
  })
  afterAll(async () => {
    await gw?.close()
    await daemon?.close()
  })

  it('sends a silent stream\'s headers at once (docker run waits on the headers of /wait)', async () => {
    const started = Date.now()
    const res = await new Promise<IncomingMessage>((resolve) => { open('GET', '/v1.41/events').on('response', resolve).end() })
    expect(res.statusCode).toBe(200)
    expect(Date.now() - started).toBeLessThan(1000)
    res.destroy()
  })

  it('closes the upstream request when the client goes away', async () => {
    const before = state.silentClosed
    const res = await new Promise<IncomingMessage>((resolve) => { open('GET', '/v1.41/events').on('response', resolve).end() })
    res.socket.destroy()
    await expect.poll(() => state.silentClosed, { timeout: 3000 }).toBe(before + 1)
    await expect.poll(() => gw.records().some((r) => r.request?.path === '/events' && r.aborted === true), { timeout: 3000 }).toBe(true)
  })

  it('holds back a download the client is not reading, then delivers every byte', async () => {
    state.downloadWritten = 0
    const res = await new Promise<IncomingMessage>((resolve) => { open('GET', '/v1.41/containers/big/export').on('response', resolve).end() })
    res.pause()
    await sleep(1500)
    // Socket and stream buffers along the way hold a few MiB at most; without
    // backpressure the daemon would have written all 64 MiB by now.
    expect(state.downloadWritten).toBeLessThan(24 * MiB)
    let received = 0
    res.on('data', (c: Buffer) => { received += c.length })
    res.resume()
    await new Promise((resolve) => res.on('end', resolve))
    expect(received).toBe(64 * MiB)
  })

  it('holds back an upload the daemon is not reading, then forwards every byte', async () => {
    state.uploadReceived = 0
    const req = open('PUT', '/v1.41/containers/slow/archive?path=/tmp', { 'content-type': 'application/x-tar' })
    const response = new Promise<IncomingMessage>((resolve) => req.on('response', resolve))
    let written = 0
    let writtenAtCheck = -1
    setTimeout(() => { writtenAtCheck = written }, 1200)
    for (let i = 0; i < 64; i++) {
      written += chunk.length
      if (!req.write(chunk)) await new Promise((resolve) => req.once('drain', resolve))
    }
    req.end()
    const res = await response
    let body = ''
    for await (const c of res) body += String(c)
    expect(writtenAtCheck).toBeGreaterThan(0)
    expect(writtenAtCheck).toBeLessThan(24 * MiB)
    expect(JSON.parse(body)).toEqual({ received: 64 * MiB })
  })

  it('Expect: 100-continue: an allowed upload is invited after judgement and forwarded without Expect', async () => {
    const req = open('POST', '/v1.41/build', { expect: '100-continue', 'content-type': 'application/x-tar', 'content-length': '5' })
    req.on('continue', () => { req.end('hello') })
    const res = await new Promise<IncomingMessage>((resolve) => req.on('response', resolve))
    let body = ''
    for await (const c of res) body += String(c)
    expect(res.statusCode).toBe(200)
    expect(JSON.parse(body)).toEqual({ body: 'hello', expect: null })
  })

  it('Expect: 100-continue: a refused upload is answered 403 and never invited', async () => {
    const req = open('POST', '/v1.41/build', { expect: '100-continue', 'content-type': 'application/x-tar', 'content-length': '5' }, gw.pki.bundle('ci-runner-7'))
    let invited = false
    req.on('continue', () => { invited = true; req.end('hello') })
    const res = await new Promise<IncomingMessage>((resolve) => req.on('response', resolve))
    expect(res.statusCode).toBe(403)
    expect(invited).toBe(false)
    req.destroy()
  })

  it('hundreds of open streams do not starve other requests of upstream connections', async () => {
    const streams = await Promise.all(Array.from({ length: 300 }, async () =>
      await new Promise<IncomingMessage>((resolve) => { open('GET', '/v1.41/events').on('response', resolve).end() })))
    const started = Date.now()
    const ping = await rawRequest(gw.port, alice(), 'GET', '/_ping')
    expect(ping.body).toBe('OK')
    expect(Date.now() - started).toBeLessThan(2000)
    for (const s of streams) s.destroy()
  })

  it('forwards X-Registry-Auth and Authorization to the daemon but never writes their values to the audit trail', async () => {
    const res = await rawRequest(gw.port, alice(), 'POST', '/v1.41/images/create?fromImage=x', {
      headers: { 'x-registry-auth': 'eyJwYXNzd29yZCI6Imh1bnRlcjIifQ==', authorization: 'Bearer s3cr3t-token-value' }
    })
    expect(res.status).toBe(200)
    expect(state.lastHeaders['x-registry-auth']).toBe('eyJwYXNzd29yZCI6Imh1bnRlcjIifQ==')
    const trail = readFileSync(gw.auditFile, 'utf8')
    expect(trail).toContain('/images/create')
    expect(trail).not.toContain('eyJwYXNzd29yZCI6Imh1bnRlcjIifQ')
    expect(trail).not.toContain('s3cr3t-token-value')
  })

  it('generates the request id itself, ignores one sent by the client, and returns it for quoting', async () => {
    const res = await rawRequest(gw.port, alice(), 'GET', '/_ping', { headers: { 'x-dockgate-request-id': 'client-chosen', 'x-request-id': 'client-chosen' } })
    const id = res.headers['x-dockgate-request-id']
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(gw.records().filter((r) => r.auditID === id)).toHaveLength(1)
    expect(gw.records().some((r) => r.auditID === 'client-chosen')).toBe(false)
  })

  it('answers 502 with the socket and the reason when the daemon is not running', async () => {
    const down = await startGateway({ socket: '/nonexistent/docker.sock' })
    const started = Date.now()
    const res = await rawRequest(down.port, down.pki.bundle('alice'), 'GET', '/v1.41/containers/json')
    expect(res.status).toBe(502)
    expect(JSON.parse(res.body)).toEqual({ message: 'dockgate: the Docker daemon at unix:///nonexistent/docker.sock is not answering (ENOENT: no daemon socket at that path; is dockerd running?)' })
    expect(Date.now() - started).toBeLessThan(1000)
    await down.close()
  })
})
