import { describe, expect, it } from 'vitest'
import { Timeline, TopCounter } from '../../../src/audit/report-counters.js'

describe('report counters stay bounded', () => {
  it('TopCounter keeps at most twice its limit of keys, keeps the frequent ones, and says it is approximate', () => {
    const counter = new TopCounter<null>(10)
    for (let round = 0; round < 50; round++) counter.add('frequent', null)
    for (let i = 0; i < 100_000; i++) counter.add(`rare-${i}`, null)
    expect(counter.top(1_000_000).length).toBeLessThanOrEqual(20)
    expect(counter.top(1)[0]).toEqual({ key: 'frequent', count: 50, meta: null })
    expect(counter.approximate).toBe(true)
    expect(counter.droppedKeys).toBeGreaterThan(99_000)
  })

  it('Timeline widens its buckets to stay under its bound, losing no count, and folds teams past its bound together', () => {
    const timeline = new Timeline(100, 5)
    const hour = 3_600_000
    for (let i = 0; i < 10_000; i++) timeline.add(i * hour, `team-${i % 8}`, i % 2 === 0)
    const series = timeline.series()
    expect(series.length).toBeLessThanOrEqual(100)
    expect(timeline.bucketMs).toBeGreaterThanOrEqual(128 * hour)
    let requests = 0
    let refusals = 0
    for (const bucket of series) for (const cell of bucket.cells.values()) { requests += cell.requests; refusals += cell.refusals }
    expect({ requests, refusals }).toEqual({ requests: 10_000, refusals: 5000 })
    expect(timeline.teamNames()).toEqual(['team-0', 'team-1', 'team-2', 'team-3', 'team-4', '(other teams)'])
  })
})
