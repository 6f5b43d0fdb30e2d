/**
 * Whether this process may open as many file descriptors as its limits
 * allow connections. Each verified connection holds two (the client's and
 * the daemon's side), each unverified one one; when the process limit
 * (RLIMIT_NOFILE, which Node raises to its hard limit at start) is lower,
 * connections past it are accepted and closed at once by libuv, with
 * nothing in any log: so dockgate says so when it starts.
 */
import { readFileSync } from 'node:fs'
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
