/**
 * Whether this process may open as many file descriptors as its limits
 * allow connections. Each verified connection holds two (the client's and
 * the daemon's side), each unverified one one; when the process limit
 * (RLIMIT_NOFILE, which Node raises to its hard limit at start) is lower,
 * connections past it are accepted and closed at once by libuv, with
 * nothing in any log: so dockgate says so when it starts, and, while the
 * limit is that low, again whenever its descriptors actually run out.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { Limits } from '../config/load.js'

/** Descriptors kept for the audit file, the admin listener, reloads and the runtime. */
const RESERVED = 64

/** The open-files limit of this process, or null where /proc does not tell (not Linux). */
export function openFilesLimit (limitsFile = '/proc/self/limits'): number | null {
  let text: string
  try {
    text = readFileSync(limitsFile, 'utf8')
  } catch {
    return null
  }
  const soft = /^Max open files\s+(\d+|unlimited)\s/m.exec(text)?.[1]
  if (soft === undefined) return null
  return soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft)
}

/** The sentence to log when `limit` is too low for `limits`, else null. */
export function descriptorShortfall (limits: Pick<Limits, 'maxConnections' | 'unverifiedConnections'>, limit: number | null): string | null {
  if (limit === null) return null
  const needed = 2 * limits.maxConnections + limits.unverifiedConnections + RESERVED
  if (limit >= needed) return null
  return `this process may open ${limit} files, but limits.maxConnections ${limits.maxConnections} and limits.unverifiedConnections ` +
    `${limits.unverifiedConnections} need ${needed} (two per connection); past the limit new connections are closed at once, unlogged: ` +
    `raise it (LimitNOFILE= in the systemd unit, ulimit -n, or --ulimit nofile= for a container) or lower ${whatFits(limits, limit)}`
}

// The connection limits that fit in `limit`: maxConnections alone when the
// unverified budget leaves room for a few connections, else both (a
// quarter of what is left to unverified connections).
function whatFits (limits: Pick<Limits, 'maxConnections' | 'unverifiedConnections'>, limit: number): string {
  const room = limit - RESERVED
  const fits = Math.floor((room - limits.unverifiedConnections) / 2)
  if (fits >= 16) return `limits.maxConnections to ${fits}`
  const unverified = Math.max(1, Math.floor(room / 4))
  return `limits.maxConnections to ${Math.max(1, Math.floor((room - unverified) / 2))} and limits.unverifiedConnections to ${unverified}`
}

/** The descriptors this process has open now, or null where /proc does not tell. */
export function openDescriptors (fdDir = '/proc/self/fd'): number | null {
  try {
    return readdirSync(fdDir).length
  } catch {
    return null
  }
}

/** How often the open descriptors are counted, while the limit is too low. */
const WATCH_EVERY_MS = 1000
/** The same warning is not repeated sooner than this. */
const REMIND_MS = 60_000

/**
 * While `limit` is too low for the connection limits (see
 * {@link descriptorShortfall}), counts the open descriptors every second and
 * calls `warn` when they reach 95% of the limit (at most once a minute):
 * past the limit, libuv accepts each new connection and closes it at once,
 * and nothing else would say so. Returns the function that stops it.
 */
export function watchDescriptors (limit: number, warn: (message: string) => void, count: () => number | null = openDescriptors): () => void {
  let warnedAt = -Infinity
  const timer = setInterval(() => {
    const open = count()
    if (open === null || open < limit * 0.95 || Date.now() - warnedAt < REMIND_MS) return
    warnedAt = Date.now()
    warn(`${open} of its ${limit} file descriptors are open: new connections past the limit are accepted and closed at once ` +
      '(the client sees a reset or an end of stream, and no record is written); raise the limit or lower limits.maxConnections (see the warning at start)')
  }, WATCH_EVERY_MS)
  timer.unref()
  return () => { clearInterval(timer) }
}
