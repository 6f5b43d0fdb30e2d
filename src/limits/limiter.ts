/**
 * Per-identity and global limits, as counters and token buckets. Pure
 * bookkeeping: it never touches a socket; callers refuse and count. An
 * identity is whatever key the caller uses (dockgate uses the client
 * certificate's SHA-256 fingerprint).
 *
 * Invariants: every successful `open*` returns a release function that is
 * safe to call more than once and frees exactly one slot; counts never go
 * negative; new limits (a reload) apply to the next admission and never
 * close anything already admitted.
 */

/** The limits the limiter enforces; a subset of the config's `limits:`. */
export interface LimitSettings {
  readonly maxConnections: number
  readonly connectionsPerIdentity: number
  readonly streamsPerIdentity: number
  /** Null: no rate limit. */
  readonly requestsPerSecond: number | null
  readonly requestBurst: number
  /** Connections not (yet) admitted as verified, all sources together: a budget of their own. */
  readonly unverifiedConnections: number
  /** The same, per source (see address-key.ts), so one client cannot take the whole budget. */
  readonly unverifiedPerAddress: number
}

/** Every limit's name, in one list so metrics can start each at zero. */
export const LIMIT_NAMES = ['connections', 'identity-connections', 'streams', 'rate', 'unverified', 'unverified-per-address'] as const

/** Which limit refused something; stable strings for metrics and tests. */
export type LimitName = typeof LIMIT_NAMES[number]

/** An admission: a slot to give back, or the limit that refused it. */
export type Admission =
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly limit: LimitName; readonly max: number }

/** What is open right now, for gauges and readiness. */
export interface LimiterStats {
  readonly connections: number
  readonly streams: number
  readonly unverified: number
}

interface Bucket { tokens: number; at: number }

/** Sweep buckets that refilled completely once this many exist, so idle identities cost nothing. */
const SWEEP_AT = 4096

/** See the module comment. `now` returns milliseconds (monotonic in production). */
export class Limiter {
  private readonly connections = new CappedCounts()
  private streams = 0
  private readonly unverified = new CappedCounts()
  private readonly streamsBy = new Map<string, number>()
  private readonly buckets = new Map<string, Bucket>()

  constructor (private limits: LimitSettings, private readonly now: () => number = () => performance.now()) {}

  /** Applies new limits to everything admitted from now on. */
  update (limits: LimitSettings): void {
    this.limits = limits
  }

  /** Admits a connection of `key`, within the global and the per-identity cap. */
  openConnection (key: string): Admission {
    return this.connections.admit(key,
      { limit: 'connections', max: this.limits.maxConnections },
      { limit: 'identity-connections', max: this.limits.connectionsPerIdentity })
  }

  /**
   * Admits a connection from source `address` that has not been verified
   * yet. Its slot is released when it closes or is admitted as verified
   * ({@link Limiter.openConnection}), so unverified connections never take
   * the slots of verified ones.
   */
  openUnverified (address: string): Admission {
    return this.unverified.admit(address,
      { limit: 'unverified', max: this.limits.unverifiedConnections },
      { limit: 'unverified-per-address', max: this.limits.unverifiedPerAddress })
  }

  /** Admits a long-lived stream or hijacked session of `key`. */
  openStream (key: string): Admission {
    const mine = this.streamsBy.get(key) ?? 0
    if (mine >= this.limits.streamsPerIdentity) return { ok: false, limit: 'streams', max: this.limits.streamsPerIdentity }
    this.streams += 1
    this.streamsBy.set(key, mine + 1)
    return { ok: true, release: once(() => { this.streams -= 1; decrement(this.streamsBy, key) }) }
  }

  /**
   * Takes one request from `key`'s token bucket (`requestBurst` tokens,
   * refilled at `requestsPerSecond`). Without a rate limit, always true.
   * On refusal, `retryAfterSeconds` says when one token will be back.
   */
  takeRequest (key: string): { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number; readonly max: number } {
    const rate = this.limits.requestsPerSecond
    if (rate === null) return { ok: true }
    const burst = this.limits.requestBurst
    const now = this.now()
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now }
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate)
    bucket.at = now
    if (!this.buckets.has(key)) {
      if (this.buckets.size >= SWEEP_AT) this.sweep(now, rate, burst)
      this.buckets.set(key, bucket)
    }
    if (bucket.tokens < 1) return { ok: false, retryAfterSeconds: Math.ceil((1 - bucket.tokens) / rate), max: rate }
    bucket.tokens -= 1
    return { ok: true }
  }

  /** Open connections and streams over all identities. */
  stats (): LimiterStats {
    return { connections: this.connections.total, streams: this.streams, unverified: this.unverified.total }
  }

  /** Open streams of one identity (for tests and messages). */
  streamsOf (key: string): number {
    return this.streamsBy.get(key) ?? 0
  }

  private sweep (now: number, rate: number, burst: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * rate >= burst) this.buckets.delete(key)
    }
  }
}

/** A count in total and per key, admitted only while both are under their caps. */
class CappedCounts {
  total = 0
  private readonly byKey = new Map<string, number>()

  /** One more for `key`, unless the total or the key's count is at its cap. */
  admit (key: string, total: { limit: LimitName; max: number }, perKey: { limit: LimitName; max: number }): Admission {
    if (this.total >= total.max) return { ok: false, ...total }
    const mine = this.byKey.get(key) ?? 0
    if (mine >= perKey.max) return { ok: false, ...perKey }
    this.total += 1
    this.byKey.set(key, mine + 1)
    return { ok: true, release: once(() => { this.total -= 1; decrement(this.byKey, key) }) }
  }
}

function decrement (counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1
  if (left <= 0) counts.delete(key)
  else counts.set(key, left)
}

function once (fn: () => void): () => void {
  let done = false
  return () => {
    if (done) return
    done = true
    fn()
  }
}
