/**
 * Rate limiting for TLSRejected records, so a scan cannot flood the disk.
 * Pure: the clock is passed in.
 *
 * Each source address has a token bucket (`burst` records at once, then
 * one per `refillMs`), and all addresses share a global bucket (a scan from
 * many addresses). An attempt without a token is not written but counted
 * per address; {@link RejectionLimiter.summaries} turns the counts into
 * Suppressed records (count, first and last time, reasons), so the trail
 * still says how many attempts there were, from where and why.
 *
 * Invariants: memory is bounded by `maxAddresses` (the least recently seen
 * address is dropped, its counts first handed out as a summary); no attempt
 * is ever lost from the counts.
 */

/** Limits; the defaults suit a gateway that sees a handful of bad clients. */
export interface RejectionLimits {
  readonly burst: number
  readonly refillMs: number
  readonly globalBurst: number
  readonly globalRefillMs: number
  readonly maxAddresses: number
}

/** 20 records per address at once, then one every 6 s; 200 overall, then 20 per second. */
export const DEFAULT_REJECTION_LIMITS: RejectionLimits = Object.freeze({
  burst: 20, refillMs: 6000, globalBurst: 200, globalRefillMs: 50, maxAddresses: 10_000
})

/** Attempts from one address that were counted instead of written. */
export interface SuppressedSummary {
  readonly address: string
  readonly count: number
  readonly since: Date
  readonly until: Date
  readonly reasons: Readonly<Record<string, number>>
}

interface Bucket { tokens: number; at: number }
interface Entry { bucket: Bucket; suppressed: { count: number; since: Date; until: Date; reasons: Record<string, number> } | null }

/** See the module comment. */
export class RejectionLimiter {
  private readonly entries = new Map<string, Entry>()
  private readonly global: Bucket
  private readonly evicted: SuppressedSummary[] = []

  constructor (private readonly limits: RejectionLimits = DEFAULT_REJECTION_LIMITS, now = new Date()) {
    this.global = { tokens: limits.globalBurst, at: now.getTime() }
  }

  /** True: write this attempt's record. False: it was counted for a summary. */
  admit (address: string, reason: string, now: Date): boolean {
    const entry = this.entryFor(address, now)
    const own = take(entry.bucket, this.limits.burst, this.limits.refillMs, now.getTime(), false)
    if (own && take(this.global, this.limits.globalBurst, this.limits.globalRefillMs, now.getTime(), true)) {
      entry.bucket.tokens -= 1
      return true
    }
    const s = entry.suppressed ??= { count: 0, since: now, until: now, reasons: {} }
    s.count += 1
    s.until = now
    s.reasons[reason] = (s.reasons[reason] ?? 0) + 1
    return false
  }

  /** Summaries of everything counted since the last call; the counts start again from zero. */
  summaries (): SuppressedSummary[] {
    const out = this.evicted.splice(0)
    for (const [address, entry] of this.entries) {
      if (entry.suppressed === null) continue
      out.push({ address, ...entry.suppressed })
      entry.suppressed = null
    }
    return out
  }

  private entryFor (address: string, now: Date): Entry {
    const found = this.entries.get(address)
    if (found !== undefined) {
      // Re-inserted so iteration order is least recently seen first.
      this.entries.delete(address)
      this.entries.set(address, found)
      return found
    }
    if (this.entries.size >= this.limits.maxAddresses) this.evictOldest()
    const entry: Entry = { bucket: { tokens: this.limits.burst, at: now.getTime() }, suppressed: null }
    this.entries.set(address, entry)
    return entry
  }

  private evictOldest (): void {
    const oldest = this.entries.keys().next()
    if (oldest.done === true) return
    const entry = this.entries.get(oldest.value)
    if (entry !== undefined && entry.suppressed !== null) this.evicted.push({ address: oldest.value, ...entry.suppressed })
    this.entries.delete(oldest.value)
  }
}

// Refills by elapsed time, then says whether a token is there, taking it
// when `commit`. The caller spends an address's token only once the global
// bucket had one too, so a global limit does not drain the address buckets.
function take (bucket: Bucket, burst: number, refillMs: number, now: number, commit: boolean): boolean {
  const refill = Math.floor((now - bucket.at) / refillMs)
  if (refill > 0) {
    bucket.tokens = Math.min(burst, bucket.tokens + refill)
    bucket.at += refill * refillMs
  }
  if (bucket.tokens < 1) return false
  if (commit) bucket.tokens -= 1
  return true
}
