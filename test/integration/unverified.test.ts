/**
 * Connections before verification, against the real daemon: bare TCP
 * connections that never start (or never finish) a TLS handshake must not
 * pile up, must not take the slots verified clients need, and must not
 * hold up a shutdown. Sources other than 127.0.0.1 are other loopback
 * addresses (127.0.0.2, ...), so the docker CLI on 127.0.0.1 is a
 * different client.
 */
import net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker } from '../support/clients.js'
import { startRuntime, type RuntimeHarness } from '../support/runtime.js'

const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const CLIENTS = [['--cn', 'alice', '--ou', 'platform']]

/** A bare TCP connection to the gateway from `from`; resolves once connected. */
async function bare (port: number, from = '127.0.0.1'): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => { resolve(s) })
    s.on('error', reject)
  })
}

/** Resolves true once the server has closed `s`, false if it is still open after `ms`. */
async function closedWithin (s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.readableEnded) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, ms)
    const done = (): void => { clearTimeout(timer); resolve(true) }
    s.once('end', done)
    s.once('close', done)
    s.resume()
  })
}

const held: net.Socket[] = []
afterEach(() => { for (const s of held.splice(0)) s.destroy() })

describe.skipIf(socket === '')('connections that never finish a TLS handshake', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  maxConnections: 4\n' })
  })
  afterAll(async () => { await gw?.close() })

  it('are closed when the client hangs up, so a flood of connect-and-close never locks clients out', async () => {
    // Past the old hard cap (maxConnections plus 64): each of these used to sit in CLOSE-WAIT for good.
    for (let round = 0; round < 100; round += 25) {
      const batch = await Promise.all(Array.from({ length: 25 }, async () => await bare(gw.port)))
      for (const s of batch) s.end()
      expect((await Promise.all(batch.map(async (s) => await closedWithin(s, 3000)))).every(Boolean)).toBe(true)
    }
    const cli = await docker(gw.port, gw.bundle('alice'), ['version', '--format', '{{.Server.Version}}'])
    expect(cli.stderr).toBe('')
    expect(cli.code).toBe(0)
  })

  it('are closed at the handshake timeout when the client sends nothing', async () => {
    const s = await bare(gw.port)
    held.push(s)
    // handshakeTimeout is 10 s; before the fix the socket was reported and then kept open.
    expect(await closedWithin(s, 13_000)).toBe(true)
  }, 20_000)
})
