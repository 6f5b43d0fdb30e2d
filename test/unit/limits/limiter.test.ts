/**
 * The limiter's bookkeeping and which requests count as long-lived: pure
 * units, with a fake clock for the token bucket.
 */
import { describe, expect, it } from 'vitest'
import { Limiter, type LimitSettings } from '../../../src/limits/limiter.js'
import { requestKind, withoutVersion } from '../../../src/limits/stream-kind.js'
import { addressKey } from '../../../src/limits/address-key.js'

const LIMITS: LimitSettings = { maxConnections: 3, connectionsPerIdentity: 2, streamsPerIdentity: 2, requestsPerSecond: null, requestBurst: 20, unverifiedConnections: 3, unverifiedPerAddress: 2 }

describe('Limiter: connections', () => {
  it('caps each identity and the total, and frees exactly one slot per release, however often it is called', () => {
    const limiter = new Limiter(LIMITS)
    const a1 = limiter.openConnection('a')
    const a2 = limiter.openConnection('a')
    expect(limiter.openConnection('a')).toEqual({ ok: false, limit: 'identity-connections', max: 2 })
    const b1 = limiter.openConnection('b')
    expect(limiter.openConnection('c')).toEqual({ ok: false, limit: 'connections', max: 3 })
    expect(limiter.stats().connections).toBe(3)
    if (!a1.ok || !a2.ok || !b1.ok) throw new Error('admitted connections expected')
    a1.release()
    a1.release()
    expect(limiter.stats().connections).toBe(2)
    expect(limiter.openConnection('c').ok).toBe(true)
    expect(limiter.openConnection('a').ok).toBe(false)
  })

  it('applies new limits to the next admission without closing anything', () => {
    const limiter = new Limiter(LIMITS)
    limiter.openConnection('a')
    limiter.openConnection('a')
    limiter.update({ ...LIMITS, connectionsPerIdentity: 1 })
    expect(limiter.stats().connections).toBe(2)
    expect(limiter.openConnection('a').ok).toBe(false)
    limiter.update({ ...LIMITS, connectionsPerIdentity: 3 })
    expect(limiter.openConnection('a').ok).toBe(true)
  })
})

describe('Limiter: streams', () => {
  it('caps streams per identity only: one identity at its cap does not stop another', () => {
    const limiter = new Limiter(LIMITS)
    const first = limiter.openStream('a')
    limiter.openStream('a')
    expect(limiter.openStream('a')).toEqual({ ok: false, limit: 'streams', max: 2 })
    expect(limiter.openStream('b').ok).toBe(true)
    expect(limiter.streamsOf('a')).toBe(2)
    if (first.ok) first.release()
    expect(limiter.openStream('a').ok).toBe(true)
    expect(limiter.stats().streams).toBe(3)
  })
})

describe('Limiter: unverified connections', () => {
  it('caps each source and all sources together, in a budget apart from verified connections', () => {
    const limiter = new Limiter(LIMITS)
    for (let i = 0; i < 3; i++) expect(limiter.openConnection(`id-${i}`).ok).toBe(true)
    const a1 = limiter.openUnverified('10.0.0.1')
    limiter.openUnverified('10.0.0.1')
    expect(limiter.openUnverified('10.0.0.1')).toEqual({ ok: false, limit: 'unverified-per-address', max: 2 })
    limiter.openUnverified('10.0.0.2')
    expect(limiter.openUnverified('10.0.0.3')).toEqual({ ok: false, limit: 'unverified', max: 3 })
    expect(limiter.stats()).toMatchObject({ connections: 3, unverified: 3 })
    if (!a1.ok) throw new Error('an admitted connection expected')
    a1.release()
    a1.release()
    expect(limiter.stats().unverified).toBe(2)
    expect(limiter.openUnverified('10.0.0.3').ok).toBe(true)
  })
})

describe('addressKey', () => {
  it('counts IPv4 by address, IPv4-mapped IPv6 as IPv4, and IPv6 by /64 however it is spelled', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7')
    expect(addressKey('2001:db8:1:2::7')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64')
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('')).toBe('')
  })
})

describe('Limiter: request rate', () => {
  it('lets a burst through, then refills at the rate, per identity', () => {
    let now = 0
    const limiter = new Limiter({ ...LIMITS, requestsPerSecond: 2, requestBurst: 3 }, () => now)
    expect([1, 2, 3, 4].map(() => limiter.takeRequest('a').ok)).toEqual([true, true, true, false])
    expect(limiter.takeRequest('a')).toEqual({ ok: false, retryAfterSeconds: 1, max: 2 })
    expect(limiter.takeRequest('b').ok).toBe(true)
    now = 499
    expect(limiter.takeRequest('a').ok).toBe(false)
    now = 501
    expect(limiter.takeRequest('a').ok).toBe(true)
    expect(limiter.takeRequest('a').ok).toBe(false)
    now = 60_000
    expect([1, 2, 3, 4].map(() => limiter.takeRequest('a').ok)).toEqual([true, true, true, false])
  })

  it('takes everything without a rate, and forgets identities whose bucket refilled', () => {
    expect(new Limiter(LIMITS).takeRequest('a')).toEqual({ ok: true })
    let now = 0
    const limiter = new Limiter({ ...LIMITS, requestsPerSecond: 1000, requestBurst: 1 }, () => now)
    for (let i = 0; i < 5000; i++) limiter.takeRequest(`id-${i}`)
    now = 10_000
    limiter.takeRequest('late')
    expect((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size).toBeLessThan(5000)
  })
})

describe('requestKind', () => {
  const cases: Array<[string, string, string, string | null, string]> = [
    ['GET', '/events', '', null, 'stream'],
    ['GET', '/containers/x/logs', 'follow=1&stdout=1', null, 'stream'],
    ['GET', '/containers/x/logs', 'follow=true', null, 'stream'],
    ['GET', '/containers/x/logs', 'follow=0', null, 'request'],
    ['GET', '/containers/x/logs', 'follow=False', null, 'request'],
    ['GET', '/containers/x/logs', 'stdout=1', null, 'request'],
    ['GET', '/services/s/logs', 'follow=yes', null, 'stream'],
    ['GET', '/containers/x/stats', '', null, 'stream'],
    ['GET', '/containers/x/stats', 'stream=false', null, 'request'],
    ['GET', '/containers/x/stats', 'one-shot=1', null, 'request'],
    ['POST', '/containers/x/wait', 'condition=next-exit', null, 'stream'],
    ['POST', '/containers/x/attach', 'stream=1', null, 'stream'],
    ['POST', '/exec/e/start', '', null, 'stream'],
    ['POST', '/exec/e/start', '', 'tcp', 'session'],
    ['GET', '/containers/x/attach/ws', '', 'websocket', 'session'],
    ['POST', '/session', '', 'h2c', 'session'],
    ['GET', '/containers/json', 'all=1', null, 'request'],
    ['POST', '/containers/x/stop', 't=3', null, 'request'],
    ['GET', '/containers/x/export', '', null, 'request']
  ]
  for (const [method, path, query, upgrade, kind] of cases) {
    it(`${method} ${path}${query === '' ? '' : '?' + query}${upgrade === null ? '' : ` (Upgrade: ${upgrade})`} is a ${kind}`, () => {
      expect(requestKind(method, path, query, upgrade)).toBe(kind)
    })
  }

  it('reads the path without its API version', () => {
    expect(withoutVersion('/v1.41/events')).toBe('/events')
    expect(withoutVersion('/events')).toBe('/events')
    expect(withoutVersion('/v1.41')).toBe('/v1.41')
  })
})
