/**
 * Hijack edge cases through a real gateway in front of a fake daemon: bodies
 * split across packets, early session bytes, non-101 answers and h2c.
 * (The ordinary attach/exec/run -i flows are tested with the real daemon.)
 */
import tls from 'node:tls'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGateway, type TestGateway } from '../../support/gateway.js'
import { startFakeDaemon, type FakeDaemon } from '../../support/fake-daemon.js'
import { rawExchange, tlsOptions } from '../../support/clients.js'

const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { cn: "ci-runner-*" }
    teams: [ci]
teams:
  platform:
    allow: ["* /**"]
  ci:
    allow: ["POST /exec/{id}/start"]
`
const afterRefusal: string[] = []

function onUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const url = req.url ?? ''
  if (url.startsWith('/v1.41/containers/gone/attach')) {
    const body = '{"message":"No such container: gone"}'
    socket.write(`HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    socket.on('data', (c: Buffer) => afterRefusal.push(c.toString()))
    return
  }
  if (url.startsWith('/v1.41/exec/crash/start')) {
    // A daemon that goes away mid-session, with bytes it never read (more
    // than Node buffers): the gateway's end of the socket is reset, not ended.
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
    socket.pause()
    setTimeout(() => { socket.destroy() }, 400)
    return
  }
  const protocol = req.headers.upgrade ?? ''
  socket.write(`HTTP/1.1 101 ${protocol === 'tcp' ? 'UPGRADED' : 'Switching Protocols'}\r\nConnection: Upgrade\r\nUpgrade: ${protocol}\r\n\r\n`)
  // Echo the request body (what the daemon read before switching), then the session.
  socket.write(`body=${head.toString()}|`)
  socket.pipe(socket)
}

async function session (port: number, bundle: string, parts: Array<string | number>): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) }, () => {
      void (async () => {
        for (const part of parts) {
          if (typeof part === 'number') await new Promise((r) => setTimeout(r, part))
          else socket.write(part)
        }
        socket.end()
      })()
    })
    let got = ''
    socket.on('data', (c: Buffer) => { got += c.toString('latin1') })
    socket.on('error', reject)
    socket.on('close', () => { resolve(got) })
  })
}

describe('hijacked connections (fake daemon)', () => {
  let daemon: FakeDaemon
  let gw: TestGateway
  beforeAll(async () => {
    daemon = await startFakeDaemon((_req, res) => { res.end() })
    daemon.server.on('upgrade', onUpgrade)
    gw = await startGateway({ socket: daemon.socketPath, policy: POLICY })
  })
  afterAll(async () => {
    await gw?.close()
    await daemon?.close()
  })

  const execStart = (body: string): string => 'POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n' +
    `Upgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`

  it('completes an exec start body split across packets before the daemon sees the request', async () => {
    const body = '{"Detach":false,"Tty":false}'
    const answer = await session(gw.port, gw.pki.bundle('alice'), [execStart(body) + body.slice(0, 10), 150, body.slice(10), 150, 'stdin-bytes'])
    expect(answer).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/)
    expect(answer).toContain(`body=${body}|stdin-bytes`)
  })

  it('holds session bytes sent along with the request until the daemon has switched, then delivers them', async () => {
    const body = '{"Detach":false,"Tty":false}'
    const answer = await session(gw.port, gw.pki.bundle('alice'), [execStart(body) + body + 'early-stdin', 200])
    expect(answer).toContain(`body=${body}|early-stdin`)
  })

  it('relays a non-101 answer and forwards nothing the client sends after it', async () => {
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'),
      'POST /v1.41/containers/gone/attach?stream=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\nSMUGGLED-AFTER')
    expect(answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/)
    expect(answer).toContain('No such container: gone')
    await new Promise((r) => setTimeout(r, 200))
    expect(afterRefusal.join('')).not.toContain('SMUGGLED')
  })

  it('judges an h2c upgrade (BuildKit /session) like any request: allowed for platform', async () => {
    const answer = await session(gw.port, gw.pki.bundle('alice'),
      ['POST /v1.41/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n', 100, 'PRI * HTTP/2.0', 100])
    expect(answer).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/)
    expect(answer).toContain('body=|PRI * HTTP/2.0')
  })

  it('judges an h2c upgrade like any request: refused for ci, nothing relayed', async () => {
    const answer = await session(gw.port, gw.pki.bundle('ci-runner-7'),
      ['POST /v1.41/session HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0'])
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
    expect(answer).toContain('dockgate: ci may not POST /session')
    expect(answer).not.toContain('PRI')
  })

  it('refuses an upgrade request framed with Transfer-Encoding rather than guess its body', async () => {
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'),
      'POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
  })

  it('records the session at open and at close, with bytes each way', async () => {
    const body = '{"Detach":false,"Tty":false}'
    await session(gw.port, gw.pki.bundle('alice'), [execStart(body) + body, 50, 'twelve-bytes', 100])
    const records = gw.records().filter((r) => r.request?.path === '/exec/abc/start')
    const last = records.at(-1)
    expect(records.at(-2)).toMatchObject({ stage: 'RequestReceived', status: 101 })
    expect(last).toMatchObject({ stage: 'ResponseComplete', status: 101, bytesIn: 12, aborted: false })
    expect(last?.bytesOut).toBe(`body=${body}|twelve-bytes`.length)
    expect(last?.sessionMs).toBeGreaterThan(0)
  })

  // dockgate's own cuts (shutdown, revocation) are tested with the real daemon (shutdown.test.ts).
  it('records a session as aborted when the daemon side is cut instead of ended', async () => {
    const body = '{"Detach":false,"Tty":false}'
    const crashed = execStart(body).replace('/exec/abc/', '/exec/crash/') + body
    // dockgate then cuts the client too, which may see a reset.
    await session(gw.port, gw.pki.bundle('alice'), [crashed, 100, 'x'.repeat(4 * 1024 * 1024), 1000]).catch(() => '')
    expect(gw.records().filter((r) => r.request?.path === '/exec/crash/start')[0]).toMatchObject({ stage: 'RequestReceived', status: 101 })
    await expect.poll(() => gw.records().filter((r) => r.request?.path === '/exec/crash/start').at(-1), { timeout: 5000 })
      .toMatchObject({ stage: 'ResponseComplete', status: 101, aborted: true })
  })
})
