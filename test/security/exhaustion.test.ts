/**
 * Security regression: exhausting the gateway or the daemon through it.
 * Oversized or slow request heads, bodies too large to judge (a judge that
 * skips what it cannot read is CVE-2024-41110), JSON nested to blow a
 * parser's stack, and thousands of streams from one identity. Each is raw
 * bytes over mTLS; where the request would have had an effect it is a
 * container create, and the daemon is asked afterwards that none landed.
 * The stream flood is measured on the daemon's side (the connections the
 * gateway holds to it) while another team keeps being served.
 */
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { tlsOptions } from '../support/clients.js'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { connectionsToDaemon, containerExists, containerNames, removeContainers, startContainer, TEST_IMAGE, waitUntil } from '../support/daemon.js'
import { parseResponses, request, wire, type WireResult } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-exh-${process.pid}`
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: ops }
    teams: [ops]
teams:
  platform:
    allow: ["* /**"]
  ci:
    allow: ["GET,HEAD /_ping", "GET /version", "POST /containers/create"]
  ops:
    allow: ["GET,HEAD /_ping", "GET /version", "GET /containers/json", "GET /events"]
`
const CLIENTS = [{ name: 'alice', ous: ['platform'] }, { name: 'ci-runner', ous: ['ci'] }, { name: 'oscar', ous: ['ops'] }]
const STREAM_CAP = 8
const BODY_LIMIT = 64 * 1024
const HEADERS_TIMEOUT_MS = 1000

let made = 0
const fresh = (what: string): string => `${tag}-${what}-${++made}`
const createBody = JSON.stringify({ Image: TEST_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
const createHead = (name: string, ...headers: string[]): string =>
  `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n${headers.map((h) => `${h}\r\n`).join('')}`

describe.skipIf(socket === '')('exhaustion', () => {
  let gw: TestGateway
  const send = async (who: string, bytes: string | string[], options: { paceMs?: number } = {}): Promise<WireResult> =>
    await wire(gw.port, gw.pki.bundle(who), bytes, { responses: 2, timeoutMs: 20_000, ...options })
  const recordOf = (result: WireResult): ReturnType<TestGateway['records']>[number] | undefined =>
    gw.records().find((r) => r.auditID === result.responses[0]?.headers['x-dockgate-request-id']?.[0])
  const refusedWhole = async (result: WireResult, status: number, code: string, message: string, name: string): Promise<void> => {
    expect(result.responses.map((r) => [r.status, r.message])).toEqual([[status, message]])
    expect(result.closedByServer).toBe(true)
    expect(recordOf(result)).toMatchObject({ code, status })
    expect(await containerExists(socket, name)).toBe(false)
  }

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS, headersTimeoutMs: HEADERS_TIMEOUT_MS, bodyBytes: BODY_LIMIT, limits: { streamsPerIdentity: STREAM_CAP } })
  })
  afterAll(async () => {
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag)))
    await gw?.close()
  })

  describe('request heads', () => {
    it('one huge header (40 KiB, past limits.headerBytes): 431, closed, nothing created', async () => {
      const name = fresh('huge-header')
      const result = await send('ci-runner', createHead(name, `X-Huge: ${'a'.repeat(40 * 1024)}`, `Content-Length: ${createBody.length}`) + '\r\n' + createBody)
      await refusedWhole(result, 431, 'DG_HEADERS_TOO_LARGE', 'dockgate: request headers are too large', name)
    })

    it('3,000 small headers (past limits.headerBytes together): 431, closed, nothing created', async () => {
      const name = fresh('many-headers')
      const many = Array.from({ length: 3000 }, (_, i) => `X-${i}: ${'v'.repeat(8)}`)
      const result = await send('ci-runner', createHead(name, ...many, `Content-Length: ${createBody.length}`) + '\r\n' + createBody)
      await refusedWhole(result, 431, 'DG_HEADERS_TOO_LARGE', 'dockgate: request headers are too large', name)
    })

    it('a head that stops coming (slowloris): 408 at limits.headersTimeoutSeconds, nothing created', async () => {
      const name = fresh('slow')
      const started = performance.now()
      const result = await send('ci-runner', createHead(name, `Content-Length: ${createBody.length}`))
      await refusedWhole(result, 408, 'DG_HEADERS_TIMEOUT', 'dockgate: request headers did not arrive in time', name)
      expect(performance.now() - started).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50)
    })

    it('a head dripped one header line at a time, each well inside the timeout: still cut at the timeout, nothing created', async () => {
      const name = fresh('drip')
      const drip = Array.from({ length: 100 }, (_, i) => `X-Drip-${i}: 1\r\n`)
      const result = await send('ci-runner', [createHead(name), ...drip], { paceMs: 100 })
      await refusedWhole(result, 408, 'DG_HEADERS_TIMEOUT', 'dockgate: request headers did not arrive in time', name)
    })
  })

  describe('bodies of judged endpoints', () => {
    const TOO_LARGE = `dockgate: POST /containers/create: the request body is larger than ${BODY_LIMIT} bytes (limits.bodyBytes), so it cannot be judged`

    it('a declared Content-Length past limits.bodyBytes: 413 before any of the body is sent, nothing forwarded', async () => {
      const name = fresh('declared')
      const result = await send('ci-runner', createHead(name, 'Content-Length: 10485760') + '\r\n')
      await refusedWhole(result, 413, 'DG_BODY_TOO_LARGE', TOO_LARGE, name)
      expect(recordOf(result)).toMatchObject({ stage: 'Refused' })
    })

    it('a chunked body that grows past limits.bodyBytes: 413 once the limit is read, nothing forwarded', async () => {
      const name = fresh('chunked')
      const filler = `{"Image":"${TEST_IMAGE}","Labels":{"pad":"${'p'.repeat(BODY_LIMIT * 2)}"}}`
      const pieces = [createHead(name, 'Transfer-Encoding: chunked') + '\r\n']
      for (let at = 0; at < filler.length; at += 16 * 1024) {
        const piece = filler.slice(at, at + 16 * 1024)
        pieces.push(`${piece.length.toString(16)}\r\n${piece}\r\n`)
      }
      const result = await send('ci-runner', [...pieces, '0\r\n\r\n'])
      await refusedWhole(result, 413, 'DG_BODY_TOO_LARGE', TOO_LARGE, name)
    })

    it('JSON nested 30,000 levels deep: refused without a stack overflow, and the gateway keeps serving', async () => {
      const name = fresh('nested')
      const depth = 30_000
      const nested = `{"Image":"${TEST_IMAGE}","HostConfig":{"Binds":${'['.repeat(depth)}${']'.repeat(depth)}}}`
      expect(nested.length).toBeLessThan(BODY_LIMIT)
      const result = await wire(gw.port, gw.pki.bundle('ci-runner'), createHead(name, `Content-Length: ${nested.length}`) + '\r\n' + nested, { responses: 1 })
      expect(result.responses[0]).toMatchObject({ status: 400, message: 'dockgate: POST /containers/create: request body nests deeper than 64 levels' })
      expect(recordOf(result)).toMatchObject({ stage: 'Refused', code: 'DG_BODY_INVALID' })
      expect(await containerExists(socket, name)).toBe(false)
      expect((await wire(gw.port, gw.pki.bundle('ci-runner'), request('GET', '/v1.41/_ping'), { responses: 1 })).responses[0]?.body).toBe('OK')
    })
  })

  describe('thousands of streams from one identity', () => {
    const held: tls.TLSSocket[] = []
    afterAll(() => { for (const s of held) s.destroy() })

    /** A connection that pipelines `count` requests at once and keeps what comes back. */
    const pipelined = async (who: string, bytes: string, count: number): Promise<{ socket: tls.TLSSocket; read: () => string }> => {
      const chunks: Buffer[] = []
      const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const c = tls.connect({ host: '127.0.0.1', port: gw.port, ...tlsOptions(gw.pki.bundle(who)) }, () => { c.write(bytes.repeat(count)); resolve(c) })
        c.on('error', reject)
        c.on('close', () => { reject(new Error('closed before the handshake')) })
      })
      s.on('data', (c: Buffer) => chunks.push(c))
      s.on('error', () => {})
      held.push(s)
      return { socket: s, read: () => Buffer.concat(chunks).toString('latin1') }
    }

    it('a stream whose answer waits behind a slow request ends when the client leaves: its slot, record and daemon connection come back', async () => {
      // PID 1 of a container ignores SIGTERM, so this stop takes its full 30 s: an ordinary request in flight.
      const slow = fresh('slow-stop')
      await startContainer(socket, slow, ['sleep', '600'])
      const before = connectionsToDaemon(socket)
      const opened = gw.records().length
      const c = await pipelined('alice', request('POST', `/v1.41/containers/${slow}/stop?t=30`) + request('GET', '/v1.41/events'), 1)
      await waitUntil(async () => await Promise.resolve(gw.records().slice(opened).some((r) => r.stage === 'RequestReceived' && r.request?.path === '/events')), 10_000, 'the daemon to answer the queued stream')
      expect(gw.stats().streams).toBe(1)
      expect(c.read()).toBe('')
      c.socket.destroy()
      await waitUntil(async () => await Promise.resolve(gw.stats().streams === 0), 10_000, 'the stream slot to come back')
      await waitUntil(async () => await Promise.resolve(connectionsToDaemon(socket) <= before + 1), 10_000, 'the stream\'s daemon connection to close')
      expect(gw.records().slice(opened).filter((r) => r.stage === 'ResponseComplete' && r.request?.path === '/events').map((r) => [r.status, r.aborted])).toEqual([[200, true]])
      await removeContainers(socket, slow)
    })

    it('a request pipelined behind a stream is refused, never forwarded, and its connection closed, which ends the stream', async () => {
      const name = fresh('behind-stream')
      const [before, opened] = [connectionsToDaemon(socket), gw.records().length]
      const create = request('POST', `/v1.41/containers/create?name=${name}`, { headers: ['Content-Type: application/json'], body: createBody })
      const result = await wire(gw.port, gw.pki.bundle('alice'), request('GET', '/v1.41/events') + create, { timeoutMs: 20_000 })
      // Both arrive together: the stream is admitted, the create refused and the connection closed before the daemon answered.
      expect([result.closedByServer, result.responses]).toEqual([true, []])
      expect(await containerExists(socket, name)).toBe(false)
      await waitUntil(async () => await Promise.resolve(gw.stats().streams === 0), 10_000, 'the stream to end')
      await waitUntil(async () => await Promise.resolve(connectionsToDaemon(socket) <= before), 10_000, 'its daemon connection to close')
      expect(gw.records().slice(opened).map((r) => [r.stage, r.request?.path, r.code ?? null, r.aborted ?? null])).toEqual([
        ['Refused', '/containers/create', 'DG_BAD_REQUEST', null],
        ['ResponseComplete', '/events', null, true]
      ])
      expect(gw.records().slice(opened)[0]?.reason).toBe('dockgate: a request pipelined behind a stream or session on the same connection can never be answered; the connection is closed (send each stream on a connection of its own)')
    })

    /** Opens `count` connections of `who`, each sending `perConnection` GET /events at once, while oscar keeps being served; checks the caps held. */
    const flood = async (count: number, perConnection: number, settled: (c: Awaited<ReturnType<typeof pipelined>>) => boolean, daemonMost: number): Promise<Array<Awaited<ReturnType<typeof pipelined>>>> => {
      const oscar = await pipelined('oscar', request('GET', '/v1.41/events'), 1)
      await waitUntil(async () => await Promise.resolve(/^HTTP\/1\.1 200 /.test(oscar.read())), 10_000, 'oscar\'s stream')
      const before = connectionsToDaemon(socket)
      let most = { streams: 0, daemon: 0 }
      const sample = (): void => { most = { streams: Math.max(most.streams, gw.stats().streams), daemon: Math.max(most.daemon, connectionsToDaemon(socket) - before) } }
      const connections = await Promise.all(Array.from({ length: count }, async () => await pipelined('alice', request('GET', '/v1.41/events'), perConnection)))
      for (let round = 0; round < 10; round++) {
        sample()
        const served = await wire(gw.port, gw.pki.bundle('oscar'), [request('GET', '/v1.41/version'), request('GET', '/v1.41/containers/json')], { responses: 2 })
        expect(served.responses.map((r) => r.status)).toEqual([200, 200])
      }
      await waitUntil(async () => { sample(); return await Promise.resolve(connections.every(settled)) }, 60_000, 'every flood connection to settle')
      sample()
      expect(most.streams).toBeLessThanOrEqual(STREAM_CAP + 1)
      expect(most.daemon).toBeLessThanOrEqual(daemonMost)
      expect(/^HTTP\/1\.1 200 /.test(oscar.read()) && !oscar.socket.destroyed).toBe(true)
      oscar.socket.destroy()
      return connections
    }
    const answers = (c: { read: () => string }): number[] => parseResponses(c.read(), false).map((r) => r.status)
    /** The status of the first answer on a connection, as soon as its status line is in (a stream's never completes). */
    const firstStatus = (c: { read: () => string }): number | null => Number(/^HTTP\/1\.1 (\d{3}) /.exec(c.read())?.[1] ?? 'NaN') || null

    it('60 connections with a stream each: exactly streamsPerIdentity reach the daemon, the rest are refused 429, another team keeps being served', async () => {
      // The daemon's view: the flood's streams, plus at most the kept-alive connection of oscar's requests
      // and the gateway's own /_ping probe (a connection of its own every couple of seconds).
      const connections = await flood(60, 1, (c) => firstStatus(c) === 200 || answers(c).length === 1, STREAM_CAP + 2)
      const statuses = connections.map(firstStatus)
      expect(statuses.filter((s) => s === 200)).toHaveLength(STREAM_CAP)
      expect(statuses.filter((s) => s === 429)).toHaveLength(60 - STREAM_CAP)
      expect(parseResponses(connections.find((c) => firstStatus(c) === 429)?.read() ?? '', false)[0]?.message).toBe(
        `dockgate: CN=alice,OU=platform already has ${STREAM_CAP} open streams and sessions (limits.streamsPerIdentity); close one (docker logs -f, events, attach, exec) and retry`)
      for (const c of connections) c.socket.destroy()
      await waitUntil(async () => await Promise.resolve(gw.stats().streams === 0), 10_000, 'every stream to end')
    })

    it('2,000 streams pipelined on 20 connections: never more than streamsPerIdentity at once, each connection closed at the request behind its stream, nothing left open on the daemon', async () => {
      const closedOrRefused = (c: { socket: tls.TLSSocket; read: () => string }): boolean => c.socket.readableEnded || c.socket.destroyed || answers(c).filter((s) => s === 429).length === 100
      const before = connectionsToDaemon(socket)
      await flood(20, 100, closedOrRefused, STREAM_CAP + 2)
      await waitUntil(async () => await Promise.resolve(gw.stats().streams === 0), 10_000, 'every stream to end without the client closing anything')
      await waitUntil(async () => await Promise.resolve(connectionsToDaemon(socket) <= before), 10_000, 'the daemon to hold no connection of the flood')
      expect(gw.records().some((r) => r.code === 'DG_BAD_REQUEST' && r.identity?.teams?.includes('platform') === true)).toBe(true)
      expect((await wire(gw.port, gw.pki.bundle('alice'), request('GET', '/v1.41/_ping'), { responses: 1 })).responses[0]?.status).toBe(200)
    })
  })
})
