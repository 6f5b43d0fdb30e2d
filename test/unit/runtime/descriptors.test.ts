/**
 * A descriptor limit too low for the connection limits is said at start:
 * past it, libuv closes new connections at once and nothing is logged.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { descriptorShortfall, openDescriptors, openFilesLimit, watchDescriptors } from '../../../src/runtime/descriptors.js'

const limitsFile = (soft: string): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'dg-limits-')), 'limits')
  writeFileSync(file, `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                65536                files\n`)
  return file
}

describe('the open-files limit against the connection limits', () => {
  it('reads the soft limit of this process, as Node raised it', () => {
    expect(openFilesLimit(limitsFile('256'))).toBe(256)
    expect(openFilesLimit(limitsFile('unlimited'))).toBe(Number.POSITIVE_INFINITY)
    expect(openFilesLimit(join(tmpdir(), 'no-such-limits'))).toBeNull()
    expect(openFilesLimit()).toBeGreaterThan(0)
  })

  it('says what is needed and what would fit when the limit is too low, and nothing when it is enough', () => {
    expect(descriptorShortfall({ maxConnections: 4096, unverifiedConnections: 1024 }, 256)).toBe(
      'this process may open 256 files, but limits.maxConnections 4096 and limits.unverifiedConnections 1024 need 9280 (two per connection); ' +
      'past the limit new connections are closed at once, unlogged: raise it (LimitNOFILE= in the systemd unit, ulimit -n, or --ulimit nofile= for a container) ' +
      'or lower limits.maxConnections to 72 and limits.unverifiedConnections to 48')
    expect(descriptorShortfall({ maxConnections: 4096, unverifiedConnections: 1024 }, 5000)).toContain('lower limits.maxConnections to 1956')
    // What it proposes fits: two per connection, one per unverified one, and the reserve.
    expect(2 * 72 + 48 + 64).toBeLessThanOrEqual(256)
    expect(descriptorShortfall({ maxConnections: 4096, unverifiedConnections: 1024 }, 1100)).toContain('lower limits.maxConnections to 388 and limits.unverifiedConnections to 259')
    expect(descriptorShortfall({ maxConnections: 4096, unverifiedConnections: 1024 }, 65536)).toBeNull()
    expect(descriptorShortfall({ maxConnections: 4096, unverifiedConnections: 1024 }, null)).toBeNull()
  })
})

describe('running out of descriptors while the limit is too low', () => {
  afterEach(() => { vi.useRealTimers() })

  it('counts this process\'s open descriptors', () => {
    expect(openDescriptors()).toBeGreaterThan(2)
    expect(openDescriptors(join(tmpdir(), 'no-such-fd-dir'))).toBeNull()
  })

  it('warns once the descriptors reach 95% of the limit, at most once a minute, and not after it is stopped', () => {
    vi.useFakeTimers()
    let open = 100
    const warnings: string[] = []
    const stop = watchDescriptors(256, (m) => { warnings.push(m) }, () => open)
    vi.advanceTimersByTime(5000)
    expect(warnings).toEqual([])
    open = 250
    vi.advanceTimersByTime(1000)
    expect(warnings).toEqual([expect.stringMatching(/^250 of its 256 file descriptors are open: new connections past the limit are accepted and closed at once/)])
    vi.advanceTimersByTime(30_000)
    expect(warnings).toHaveLength(1)
    vi.advanceTimersByTime(31_000)
    expect(warnings).toHaveLength(2)
    stop()
    vi.advanceTimersByTime(120_000)
    expect(warnings).toHaveLength(2)
  })
})
