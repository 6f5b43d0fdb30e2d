/**
 * Security regression: hijacked connections and other protocols. Once a
 * connection is hijacked, bytes flow to the daemon unjudged, so the
 * decision must come first, and nothing may be relayed past an upgrade
 * that was refused or not granted. The target container echoes its stdin
 * into its logs (and prints a tick each second): a marker sent down a
 * refused session must never show up there, which the daemon is asked
 * directly. dockerd hijacks attach and exec start even WITHOUT an Upgrade
 * header (answering 200 with a raw stream), so those are judged and
 * recorded like sessions too. HTTP/2 (a preface, ALPN h2) and gRPC never
 * reach the daemon in any form.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { containerExists, containerLogs, containerNames, daemonRequest, demultiplex, inspectContainer, removeContainers, startContainer, waitUntil } from '../support/daemon.js'
import { jsonRequest, request, wire, type WireResult } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-upg-${process.pid}`
const T = `${tag}-target`
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ops }
    teams: [ops]
  - match: { ou: readonly }
    teams: [viewer]
teams:
  platform:
    allow: ["* /**"]
  ops:
    allow: ["GET,HEAD /_ping", "GET /version", "POST /containers/{id}/attach", "GET /containers/{id}/attach/ws", "POST /containers/{id}/exec", "POST /exec/{id}/start"]
  viewer:
    allow: ["GET,HEAD /_ping", "GET /version", "GET /containers/json"]
`
const CLIENTS = [{ name: 'alice', ous: ['platform'] }, { name: 'oscar', ous: ['ops'] }, { name: 'viewer', ous: ['readonly'] }]
const ATTACH = `/v1.41/containers/${T}/attach?stream=1&stdin=1&stdout=1`
const UPGRADE_TCP = ['Connection: Upgrade', 'Upgrade: tcp']
const WS_HEADERS = ['Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==']
// An HTTP/2 client's first bytes: the preface, an empty SETTINGS frame, and a HEADERS frame (stream 1).
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from('000000040000000000', 'hex'), Buffer.from('0000050105000000018286418a', 'hex')])

let markers = 0
const marker = (what: string): string => `MARKER-${process.pid}-${what}-${++markers}`
/** A masked websocket text frame, as a client must send it. */
function wsText (text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = randomBytes(4)
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((b, i) => b ^ (mask[i % 4] ?? 0))])
}

describe.skipIf(socket === '')('hijacked connections and other protocols', () => {
  let gw: TestGateway
  const send = async (who: string, bytes: string | Buffer | Array<string | Buffer>, options: { responses?: number; until?: (raw: string) => boolean } = {}): Promise<WireResult> =>
    await wire(gw.port, gw.pki.bundle(who), bytes, { timeoutMs: 10_000, ...options })
  const logsHave = async (text: string): Promise<boolean> => (await containerLogs(socket, T)).includes(text)
  const recordOf = (result: WireResult, i = 0): ReturnType<TestGateway['records']> =>
    gw.records().filter((r) => r.auditID === result.responses[i]?.headers['x-dockgate-request-id']?.[0])
  /** One refusal, the connection closed behind it, nothing past it reached the container. */
  const refusedAlone = async (result: WireResult, status: number, message: string, smuggled: string | null): Promise<void> => {
    expect(result.responses.map((r) => [r.status, r.message])).toEqual([[status, message]])
    expect(result.closedByServer).toBe(true)
    if (smuggled !== null) expect(await logsHave(smuggled)).toBe(false)
  }

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS })
    await startContainer(socket, T, ['sh', '-c', 'while true; do echo tick; sleep 1; done & exec cat'], { OpenStdin: true })
    await waitUntil(async () => await logsHave('tick'), 10_000, 'the first tick')
  })
  afterAll(async () => {
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag)))
    await gw?.close()
  })

  describe('attach and exec start', () => {
    it('a forbidden attach with Upgrade: tcp: 403, closed, stdin written after it never reaches the container', async () => {
      const smuggled = marker('attach-tcp')
      const result = await send('viewer', request('POST', ATTACH, { headers: [...UPGRADE_TCP, 'Content-Length: 0'] }) + `${smuggled}\n`)
      await refusedAlone(result, 403, `dockgate: viewer may not POST /containers/${T}/attach`, smuggled)
      expect(recordOf(result)).toMatchObject([{ stage: 'Refused', code: 'DG_DENIED', request: { upgrade: 'tcp' } }])
    })

    it('(control) the same attach for a team allowed it: 101, and what it writes reaches the container (which echoes it back)', async () => {
      const written = marker('attach-allowed')
      const result = await send('oscar', [request('POST', ATTACH, { headers: [...UPGRADE_TCP, 'Content-Length: 0'] }), `${written}\n`], { until: (raw) => raw.includes(written) })
      expect(result.raw).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/)
      await waitUntil(async () => await logsHave(written), 10_000, 'the allowed stdin in the logs')
    })

    it('attach WITHOUT an Upgrade header (dockerd still hijacks): refused to a team not allowed attach, its body never reaches stdin', async () => {
      const smuggled = marker('attach-plain')
      const result = await send('viewer', request('POST', ATTACH, { body: `${smuggled}\n` }), { responses: 2 })
      await refusedAlone(result, 403, `dockgate: viewer may not POST /containers/${T}/attach`, smuggled)
    })

    it('attach WITHOUT an Upgrade header for a team allowed it: 200 with the raw stream, recorded as a stream that takes a slot', async () => {
      let slots = -1
      const result = await send('oscar', request('POST', `/v1.41/containers/${T}/attach?stream=1&stdout=1`), {
        until: (raw) => { slots = gw.stats().streams; return raw.includes('tick') }
      })
      expect(slots).toBe(1)
      expect(result.raw).toMatch(/^HTTP\/1\.1 200 OK\r\n/)
      expect(result.raw).toMatch(/\r\ncontent-type: application\/vnd\.docker\.raw-stream\r\n/i)
      expect(result.raw).toContain('tick')
      const id = /\r\nx-dockgate-request-id: ([0-9a-f-]+)\r\n/i.exec(result.raw)?.[1]
      await waitUntil(async () => await Promise.resolve(gw.records().some((r) => r.auditID === id && r.stage === 'ResponseComplete')), 10_000, 'the stream\'s end record')
      expect(gw.records().filter((r) => r.auditID === id).map((r) => [r.stage, r.status, r.decision])).toEqual([['RequestReceived', 200, 'allow'], ['ResponseComplete', 200, 'allow']])
      expect(gw.stats().streams).toBe(0)
    })

    it('exec start WITHOUT an Upgrade header: refused to a team not allowed it (the exec never runs); a team allowed it gets the output, recorded', async () => {
      const ran = marker('exec')
      const created = await daemonRequest(socket, 'POST', `/containers/${T}/exec`, { Cmd: ['sh', '-c', `echo ${ran}; echo ${ran} > /proc/1/fd/1`], AttachStdout: true })
      const { Id } = JSON.parse(created.body) as { Id: string }
      const start = jsonRequest('POST', `/v1.41/exec/${Id}/start`, { Detach: false, Tty: false })
      await refusedAlone(await send('viewer', start, { responses: 2 }), 403, `dockgate: viewer may not POST /exec/${Id}/start`, ran)
      expect(JSON.parse((await daemonRequest(socket, 'GET', `/exec/${Id}/json`)).body)).toMatchObject({ Running: false, Pid: 0 })
      const allowed = await send('oscar', start, { responses: 1 })
      expect(allowed.responses[0]).toMatchObject({ status: 200, headers: { 'content-type': ['application/vnd.docker.raw-stream'] } })
      expect(demultiplex(Buffer.from(allowed.responses[0]?.body ?? '', 'latin1'))).toBe(`${ran}\n`)
      expect(recordOf(allowed).map((r) => r.stage)).toEqual(['RequestReceived', 'ResponseComplete'])
    })

    it('a websocket attach for a team not allowed it: 403, closed, the frame after the handshake never reaches stdin', async () => {
      const smuggled = marker('ws')
      const handshake = request('GET', `/v1.41/containers/${T}/attach/ws?stream=1&stdin=1&stdout=1`, { headers: WS_HEADERS })
      const result = await send('viewer', [Buffer.from(handshake, 'latin1'), wsText(`${smuggled}\n`)])
      await refusedAlone(result, 403, `dockgate: viewer may not GET /containers/${T}/attach/ws`, smuggled)
      const written = marker('ws-allowed')
      const allowed = await send('oscar', [Buffer.from(handshake, 'latin1'), wsText(`${written}\n`)], { until: (raw) => raw.includes(written) })
      expect(allowed.raw).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/)
      await waitUntil(async () => await logsHave(written), 10_000, 'the allowed websocket frame in the logs')
    })
  })

  describe('bytes behind an upgrade that was refused or not granted', () => {
    // dockerd answers a missing container's attach with a plain-text 404 (as a raw stream), then waits.
    const notGranted = (result: WireResult): void => {
      expect(result.responses.map((r) => [r.status, r.body])).toEqual([[404, 'No such container: no-such-container\r\n']])
      expect(result.closedByServer).toBe(true)
    }
    const pipelined = (n: number): string => jsonRequest('POST', `/v1.41/containers/create?name=${tag}-pipelined-${n}`, { Image: 'dockgate-test/busybox:latest', Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })

    it('an attach to a missing container (the daemon answers 404) with a request pipelined behind it: the request never reaches the daemon', async () => {
      const result = await send('oscar', request('POST', '/v1.41/containers/no-such-container/attach?stream=1&stdout=1', { headers: [...UPGRADE_TCP, 'Content-Length: 0'] }) + pipelined(1), { responses: 2 })
      notGranted(result)
      expect(await containerExists(socket, `${tag}-pipelined-1`)).toBe(false)
    })

    it('an upgrade to an endpoint that does not hijack (GET /version with Upgrade: tcp): the answer is relayed, the connection closed, the pipelined request dropped', async () => {
      const result = await send('oscar', request('GET', '/v1.41/version', { headers: UPGRADE_TCP }) + pipelined(2), { responses: 2 })
      expect(result.responses.map((r) => r.status)).toEqual([200])
      expect(result.closedByServer).toBe(true)
      expect(await containerExists(socket, `${tag}-pipelined-2`)).toBe(false)
    })

    it('a refused upgrade with a request pipelined behind it, for a team that could make that request: closed, nothing forwarded', async () => {
      const result = await send('viewer', request('POST', ATTACH, { headers: [...UPGRADE_TCP, 'Content-Length: 0'] }) + request('GET', '/v1.41/containers/json'), { responses: 2 })
      await refusedAlone(result, 403, `dockgate: viewer may not POST /containers/${T}/attach`, null)
      const stranger = await send('alice', request('POST', '/v1.41/containers/no-such-container/attach?stream=1', { headers: [...UPGRADE_TCP, 'Content-Length: 0'] }) + pipelined(3), { responses: 2 })
      notGranted(stranger)
      expect(await containerExists(socket, `${tag}-pipelined-3`)).toBe(false)
    })
  })

  describe('HTTP/2 and gRPC', () => {
    it('Upgrade: h2c to BuildKit\'s /grpc and /session for a team not allowed them: 403, closed', async () => {
      for (const path of ['/grpc', '/session']) {
        const result = await send('oscar', [request('POST', `/v1.41${path}`, { headers: ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA', 'Content-Length: 0'] }), H2_PREFACE])
        await refusedAlone(result, 403, `dockgate: ops may not POST ${path}`, null)
        expect(recordOf(result)).toMatchObject([{ stage: 'Refused', request: { upgrade: 'h2c' } }])
      }
    })

    it('Upgrade: h2c on an allowed request: answered as HTTP/1.1 and closed, the HTTP/2 frames behind it never relayed', async () => {
      const result = await send('viewer', [request('GET', '/v1.41/version', { headers: ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'] }), H2_PREFACE])
      expect(result.responses.map((r) => r.status)).toEqual([200])
      expect(result.responses[0]?.body).toContain('"ApiVersion":"1.41"')
      expect(result.closedByServer).toBe(true)
    })

    it('an HTTP/2 connection preface (PRI * HTTP/2.0) on the TLS port: 400 in Docker\'s shape, closed, for every team', async () => {
      for (const who of ['viewer', 'alice']) {
        const result = await send(who, H2_PREFACE)
        await refusedAlone(result, 400, 'dockgate: malformed HTTP request (HPE_PAUSED_H2_UPGRADE)', null)
      }
    })

    it('ALPN h2 alone: the handshake fails (no_application_protocol); offered with http/1.1, http/1.1 is chosen and a preface is still refused', async () => {
      const before = gw.records().length
      const h2Only = await wire(gw.port, gw.pki.bundle('alice'), H2_PREFACE, { tls: { ALPNProtocols: ['h2'] } })
      expect([h2Only.error, h2Only.raw]).toEqual(['ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL', ''])
      expect(gw.records().slice(before)).toMatchObject([{ stage: 'TLSRejected', tls: { reason: 'handshake-failed' } }])
      const both = await wire(gw.port, gw.pki.bundle('alice'), H2_PREFACE, { tls: { ALPNProtocols: ['h2', 'http/1.1'] } })
      expect(both.alpn).toBe('http/1.1')
      expect(both.responses.map((r) => r.status)).toEqual([400])
    })

    it('Content-Type: application/grpc changes nothing: judged by method and path like any request', async () => {
      const grpc = ['Content-Type: application/grpc']
      const result = await send('viewer', [request('POST', '/v1.41/grpc', { headers: grpc, body: '\u0000\u0000\u0000\u0000\u0000' }), request('POST', `/v1.41/containers/${T}/kill`, { headers: grpc, body: '' })], { responses: 1 })
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[403, 'dockgate: viewer may not POST /grpc']])
      const kill = await send('viewer', request('POST', `/v1.41/containers/${T}/kill`, { headers: grpc }), { responses: 1 })
      expect(kill.responses[0]?.message).toBe(`dockgate: viewer may not POST /containers/${T}/kill`)
      const list = await send('viewer', request('GET', '/v1.41/containers/json', { headers: grpc }), { responses: 1 })
      expect(list.responses[0]?.status).toBe(200)
      expect((await inspectContainer(socket, T)).State.Running).toBe(true)
    })
  })
})
