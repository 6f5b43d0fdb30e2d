/**
 * Bounded counters for the auditor's report (report-data.ts), so a trail
 * of any length streams through in bounded memory. Pure.
 *
 * Invariants: a {@link TopCounter} holds at most `2 × limit` keys and a
 * {@link Timeline} at most `maxBuckets × maxTeams` cells, whatever is fed
 * in; when a bound is reached the result says it is approximate, never
 * silently wrong about what it kept.
 */

/** One counted key, with what was last noted about it. */
export interface Counted<M> {
  readonly key: string
  readonly count: number
  readonly meta: M
}

/**
 * Counts keys, keeping the most frequent ones. Past `2 × limit` distinct
 * keys, the less frequent half is dropped (and `approximate` set): the top
 * of a skewed distribution survives, the long tail is summarised.
 */
export class TopCounter<M> {
  private readonly counts = new Map<string, { count: number; meta: M }>()
  private dropped = 0
  /** True once keys were dropped: counts below the top may then be missing. */
  approximate = false

  constructor (private readonly limit: number) {}

  /** Adds `by` to `key`, noting `meta` (the first meta is kept). */
  add (key: string, meta: M, by = 1): void {
    const entry = this.counts.get(key)
    if (entry !== undefined) {
      entry.count += by
      return
    }
    this.counts.set(key, { count: by, meta })
    if (this.counts.size > 2 * this.limit) this.shrink()
  }

  /** The `n` most frequent keys, most frequent first. */
  top (n: number): Array<Counted<M>> {
    return [...this.counts].map(([key, v]) => ({ key, count: v.count, meta: v.meta }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, n)
  }

  /** How many distinct keys were dropped to stay bounded. */
  get droppedKeys (): number { return this.dropped }

  private shrink (): void {
    const kept = this.top(this.limit)
    this.dropped += this.counts.size - kept.length
    this.counts.clear()
    for (const entry of kept) this.counts.set(entry.key, { count: entry.count, meta: entry.meta })
    this.approximate = true
  }
}

/** Requests and refusals of one team in one bucket. */
export interface Cell { requests: number; refusals: number }

const HOUR = 3_600_000

/** Requests and refusals over time, per team, in buckets that widen (1 h, 2 h, 4 h, ...) to stay under `maxBuckets`. */
export class Timeline {
  private width = HOUR
  private readonly buckets = new Map<number, Map<string, Cell>>()
  private readonly teams = new Set<string>()

  constructor (private readonly maxBuckets = 2000, private readonly maxTeams = 40) {}

  /** Counts one request (refused or not) of `team` at `at` (ms since the epoch). */
  add (at: number, team: string, refused: boolean): void {
    const name = this.teams.has(team) || this.teams.size < this.maxTeams ? team : '(other teams)'
    this.teams.add(name)
    const start = Math.floor(at / this.width) * this.width
    let bucket = this.buckets.get(start)
    if (bucket === undefined) {
      bucket = new Map()
      this.buckets.set(start, bucket)
      if (this.buckets.size > this.maxBuckets) this.widen()
      bucket = this.buckets.get(Math.floor(at / this.width) * this.width) ?? bucket
    }
    let cell = bucket.get(name)
    if (cell === undefined) {
      cell = { requests: 0, refusals: 0 }
      bucket.set(name, cell)
    }
    cell.requests += 1
    if (refused) cell.refusals += 1
  }

  /** The bucket width in ms. */
  get bucketMs (): number { return this.width }

  /** Teams in the order first seen. */
  teamNames (): string[] { return [...this.teams] }

  /** Buckets in time order, each with its start (ms) and cells by team. */
  series (): Array<{ start: number; cells: ReadonlyMap<string, Cell> }> {
    return [...this.buckets].sort((a, b) => a[0] - b[0]).map(([start, cells]) => ({ start, cells }))
  }

  // Doubles the width until the buckets fit, merging cells: memory stays bounded however long the trail.
  private widen (): void {
    while (this.buckets.size > this.maxBuckets) {
      this.width *= 2
      const old = [...this.buckets]
      this.buckets.clear()
      for (const [start, cells] of old) {
        const merged = Math.floor(start / this.width) * this.width
        let into = this.buckets.get(merged)
        if (into === undefined) {
          into = new Map()
          this.buckets.set(merged, into)
        }
        for (const [team, cell] of cells) {
          const target = into.get(team)
          if (target === undefined) into.set(team, { ...cell })
          else {
            target.requests += cell.requests
            target.refusals += cell.refusals
          }
        }
      }
    }
  }
}
