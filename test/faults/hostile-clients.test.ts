/**
 * Hostile clients: 300 bare TCP connections that never start a TLS
 * handshake (from 127.0.0.2 to 127.0.0.6, 60 each, inside the default
 * unverifiedPerAddress of 64, so all 300 are held rather than refused at
 * once) and 50 mTLS clients that trickle a request header a byte a second
 * and never finish it (slowloris), while a legitimate client pings.
 *
 * The config sets limits.headersTimeoutSeconds to 5 (default 20) so the
 * case waits less; the handshake timeout is fixed at 10 s.
 *
 * Thresholds: every legitimate `/_ping` (a new connection each time)
 * answers within 1 s throughout; the idle connections are closed within
 * the handshake timeout (10 s, plus 2 s of slack for a loaded machine);
 * the slow ones get a 408 within headersTimeoutSeconds plus 2 s (Node checks
 * header deadlines once a second); dockgate's descriptors return to their
 * baseline (+3) once they are gone.
 */
import type net from 'node:net'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { bare, rawRequest, tlsOptions } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { figure, quietFds, settledFds, startServed, type Served } from './support.js'

const socket = inject('dockerSocket')
const NAME = 'hostile clients'
const IDLE_SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']
const IDLE_PER_SOURCE = 60
const SLOW = 50
const HEADERS_TIMEOUT_S = 5
const HANDSHAKE_TIMEOUT_S = 10
const PING_MS = 1000
const FD_MARGIN = 3

/** A connection the case holds: when it opened, when the server closed it, what it got. */
interface Held { readonly socket: net.Socket; readonly opened: number; closed: number | null; got: string }

function hold (s: net.Socket, opened: number): Held {
  const h: Held = { socket: s, opened, closed: null, got: '' }
  s.on('data', (c: Buffer) => { h.got += c.toString('latin1') })
  s.on('error', () => {})
  s.on('close', () => { h.closed = Date.now() })
  return h
}

/** A verified TLS connection that sends its request line and then one header byte a second, forever. */
async function slowloris (served: Served): Promise<Held> {
  return await new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: served.port, ...tlsOptions(served.bundle) }, () => {
      const h = hold(s, Date.now())
      s.write('GET /_ping HTTP/1.1\r\nHost: d\r\nX-Slow: ')
      const drip = setInterval(() => { if (s.writable) s.write('a'); else clearInterval(drip) }, 1000)
      s.on('close', () => { clearInterval(drip) })
      resolve(h)
    })
    s.once('error', reject)
  })
}

describe.skipIf(socket === '')('fault: idle and slow-header clients', () => {
  let served: Served
  const held: Held[] = []
  beforeAll(async () => { served = await startServed({ socket, extra: `limits:\n  headersTimeoutSeconds: ${HEADERS_TIMEOUT_S}\n` }) })
  afterAll(async () => {
    for (const h of held) h.socket.destroy()
    await served?.stop()
  })

  it('answers a legitimate ping within 1 s throughout, closes idle and slow connections in time, and gives back every descriptor', async () => {
    expect((await rawRequest(served.port, served.bundle, 'GET', '/_ping')).status).toBe(200)
    const baseline = await quietFds(served)
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, served.fds()) }, 200)
    const pings: number[] = []
    let pinging = true
    const pinger = (async () => {
      while (pinging) {
        const start = Date.now()
        const res = await rawRequest(served.port, served.bundle, 'GET', '/_ping').catch(() => null)
        pings.push(res?.status === 200 ? Date.now() - start : Infinity)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })()

    const idle = (await Promise.all(IDLE_SOURCES.flatMap((from) => Array.from({ length: IDLE_PER_SOURCE }, async () => {
      const opened = Date.now()
      return hold(await bare(served.port, from), opened)
    }))))
    const slow = await Promise.all(Array.from({ length: SLOW }, async () => await slowloris(served)))
    held.push(...idle, ...slow)
    await waitFor(() => held.every((h) => h.closed !== null), (HANDSHAKE_TIMEOUT_S + 10) * 1000, 'every idle and slow connection to be closed')
    pinging = false
    await pinger
    const after = await settledFds(served, baseline + FD_MARGIN)
    clearInterval(sampler)

    const lived = (hs: Held[]): number[] => hs.map((h) => ((h.closed ?? Infinity) - h.opened) / 1000)
    const idleLived = lived(idle)
    const slowLived = lived(slow)
    figure(NAME, `median of ${pings.length} legitimate pings (new connection each)`, [...pings].sort((a, b) => a - b)[Math.floor(pings.length / 2)] ?? NaN, 'ms', null)
    figure(NAME, `slowest of ${pings.length} legitimate pings`, Math.max(...pings) / 1000, 's', `${PING_MS / 1000} s`)
    figure(NAME, `${idle.length} idle TCP connections closed after`, Math.max(...idleLived), 's', `${HANDSHAKE_TIMEOUT_S} s + 2 s`)
    figure(NAME, `${slow.length} slow-header clients answered 408 and closed after`, Math.max(...slowLived), 's', `${HEADERS_TIMEOUT_S} s + 2 s`)
    figure(NAME, 'descriptors: baseline', baseline, '', null)
    figure(NAME, 'descriptors: peak', peak, '', null)
    figure(NAME, 'descriptors: after', after, '', `baseline + ${FD_MARGIN}`)

    expect(pings.length).toBeGreaterThan(10)
    expect(Math.max(...pings)).toBeLessThan(PING_MS)
    // Held, not refused at once: each source stayed within its share of unverified connections.
    expect(Math.min(...idleLived)).toBeGreaterThan(HANDSHAKE_TIMEOUT_S / 2)
    expect(Math.max(...idleLived)).toBeLessThan(HANDSHAKE_TIMEOUT_S + 2)
    expect(Math.min(...slowLived)).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_S - 1)
    expect(Math.max(...slowLived)).toBeLessThan(HEADERS_TIMEOUT_S + 2)
    for (const h of slow) expect(h.got).toMatch(/^HTTP\/1\.1 408 /)
    expect(peak).toBeGreaterThan(baseline + idle.length)
    expect(after).toBeLessThanOrEqual(baseline + FD_MARGIN)
    expect(await served.metric('dockgate_limit_hits_total', { limit: 'header-timeout' })).toBe(SLOW)
    expect(served.child.exitCode).toBeNull()
  })
})
