/**
 * Connections before verification, against the real daemon: bare TCP
 * connections that never start (or never finish) a TLS handshake must not
 * pile up, must not take the slots verified clients need, and must not
 * hold up a shutdown. Sources other than 127.0.0.1 are other loopback
 * addresses (127.0.0.2, ...), so the docker CLI on 127.0.0.1 is a
 * different client. (The 10 s handshake timeout itself is waited out in
 * test/long/handshake-timeout.test.ts.)
 */
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { bare, closedWithin, docker, tlsOptions } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { get, sample, startRuntime, type RuntimeHarness } from '../support/runtime.js'

const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const CLIENTS = [['--cn', 'alice', '--ou', 'platform']]

/** A verified TLS connection from 127.0.0.1 that sends nothing yet. */
async function verified (port: number, bundle: string): Promise<tls.TLSSocket> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) }, () => { resolve(s) })
    s.on('error', reject)
  })
}

/** GET /_ping on an open connection; resolves with the status line. */
async function ping (s: tls.TLSSocket): Promise<string> {
  return await new Promise((resolve) => {
    s.once('data', (c: Buffer) => { resolve(c.toString('latin1').split('\r\n')[0] ?? '') })
    s.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n')
  })
}

/** Opens `n` bare connections from `from` and resolves with those the gateway keeps open (the rest it closes at once). */
async function flood (port: number, from: string, n: number): Promise<net.Socket[]> {
  const sockets = await Promise.all(Array.from({ length: n }, async () => await bare(port, from)))
  held.push(...sockets)
  const closed = await Promise.all(sockets.map(async (s) => await closedWithin(s, 500)))
  return sockets.filter((_s, i) => closed[i] === false)
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
})

describe.skipIf(socket === '')('limits.unverifiedPerAddress and limits.unverifiedConnections', () => {
  let gw: RuntimeHarness
  const metric = async (name: string, labels: Record<string, string> = {}): Promise<number | null> =>
    sample((await get(`${gw.admin ?? ''}/metrics`)).body, name, labels)
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  unverifiedPerAddress: 8\n  unverifiedConnections: 16\n' })
  })
  afterAll(async () => { await gw?.close() })

  it('keep one source to its share before verification, while other sources and verified connections are served', async () => {
    expect(await flood(gw.port, '127.0.0.2', 12)).toHaveLength(8)
    expect(await metric('dockgate_limit_hits_total', { limit: 'unverified-per-address' })).toBe(4)
    expect(await metric('dockgate_unverified_connections')).toBe(8)
    const cli = await docker(gw.port, gw.bundle('alice'), ['version', '--format', '{{.Server.Version}}'])
    expect(cli.code).toBe(0)
    // Verified connections leave the unverified budget: more than 8 from one address stay open.
    const mine = await Promise.all(Array.from({ length: 10 }, async () => await verified(gw.port, gw.bundle('alice'))))
    held.push(...mine)
    await waitFor(() => gw.runtime.gateway.stats().connections === 10, 5000, 'ten verified connections')
    expect(await Promise.all(mine.map(ping))).toEqual(Array.from({ length: 10 }, () => 'HTTP/1.1 200 OK'))
    expect(gw.runtime.gateway.stats().unverified).toBe(8)
    // Closed for lack of a slot is not a TLS failure: no record, no count.
    expect(gw.records().filter((r) => r.stage === 'TLSRejected')).toEqual([])
  })

  it('keep all sources together to their own budget: a full budget turns new connections away, never verified ones already open', async () => {
    await waitFor(() => gw.runtime.gateway.stats().unverified === 0, 5000, 'the last test\'s connections to close')
    const mine = await verified(gw.port, gw.bundle('alice'))
    held.push(mine)
    expect(await flood(gw.port, '127.0.0.2', 8)).toHaveLength(8)
    const third = await flood(gw.port, '127.0.0.3', 10)
    expect(third).toHaveLength(8)
    expect(await flood(gw.port, '127.0.0.4', 1)).toHaveLength(0)
    expect(await metric('dockgate_limit_hits_total', { limit: 'unverified' })).toBe(3)
    expect(await ping(mine)).toBe('HTTP/1.1 200 OK')
    for (const s of third) s.destroy()
    await waitFor(() => gw.runtime.gateway.stats().unverified === 8, 5000, 'freed slots')
    expect((await docker(gw.port, gw.bundle('alice'), ['version', '--format', '{{.Server.Version}}'])).code).toBe(0)
  })
})
