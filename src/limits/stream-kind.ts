/**
 * Which requests are long-lived. The per-identity stream cap and the
 * "open streams" gauges count these: hijacked sessions (any Upgrade) and
 * the endpoints whose answer stays open until something happens (events,
 * followed logs, streamed stats, wait). Ordinary requests, even large
 * transfers, end by themselves and are bounded by the connection limits.
 *
 * Pure: the canonical path (without the API version) and the raw query.
 */

/** `session`: a hijacked connection; `stream`: an open-ended response; `request`: everything else. */
export type RequestKind = 'session' | 'stream' | 'request'

const ID = '[^/]+'
const FOLLOWED_LOGS = new RegExp(`^/(containers|services|tasks)/${ID}/logs$`)
const STATS = new RegExp(`^/containers/${ID}/stats$`)
const OPEN_ENDED_POST = new RegExp(`^/(containers/${ID}/(wait|attach)|exec/${ID}/start)$`)

/**
 * Classifies one request. `upgrade` is the Upgrade header (null without
 * one). Query flags are read as dockerd reads booleans: anything but
 * empty, 0, no, false or none (any case) is true.
 */
export function requestKind (method: string, path: string, query: string, upgrade: string | null): RequestKind {
  if (upgrade !== null) return 'session'
  if (method === 'GET' && path === '/events') return 'stream'
  const params = new URLSearchParams(query)
  if (method === 'GET' && FOLLOWED_LOGS.test(path)) return isTrue(params.get('follow')) ? 'stream' : 'request'
  if (method === 'GET' && STATS.test(path)) {
    const streamed = params.has('stream') ? isTrue(params.get('stream')) : true
    return streamed && !isTrue(params.get('one-shot')) ? 'stream' : 'request'
  }
  if (method === 'POST' && OPEN_ENDED_POST.test(path)) return 'stream'
  return 'request'
}

const FALSE_WORDS: ReadonlySet<string> = new Set(['', '0', 'no', 'false', 'none'])

function isTrue (value: string | null): boolean {
  return value !== null && !FALSE_WORDS.has(value.trim().toLowerCase())
}

/** Splits a canonical upstream path (`/v1.41/events`) into the path rules see and the API version. */
export function withoutVersion (upstreamPath: string): string {
  return upstreamPath.replace(/^\/v\d+\.\d+(?=\/)/, '')
}
