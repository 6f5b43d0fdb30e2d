/**
 * Query strings read like Go's url.ParseQuery and edited in place: pairs
 * dockgate does not touch keep their exact text. Pure.
 *
 * Strict where Go is lenient: Go skips a pair with a bad %-escape or a
 * semicolon and reads the rest, so a rewritten query could mean something
 * else to the daemon than to dockgate; such queries are refused instead.
 * Names are exact (Go's url.Values is case-sensitive; the daemon reads
 * `filters`, never `Filters`).
 */
import { formMediaType } from '../shared/media-type.js'

/** One `name=value` pair: `raw` as received, `name` and `value` decoded. */
export interface QueryPair {
  readonly raw: string
  readonly name: string
  readonly value: string
}

/** Why a query cannot be read safely. */
export class QueryFault extends Error {}

/** The pairs of `query` (without `?`), in order. Throws QueryFault. */
export function parseQuery (query: string): QueryPair[] {
  if (query === '') return []
  return query.split('&').filter((raw) => raw !== '').map((raw) => {
    if (raw.includes(';')) throw new QueryFault('the query has a semicolon, which the daemon would drop a parameter for')
    const eq = raw.indexOf('=')
    return { raw, name: unescape(eq === -1 ? raw : raw.slice(0, eq)), value: unescape(eq === -1 ? '' : raw.slice(eq + 1)) }
  })
}

/** The values of `name`, in order (Go's `r.Form[name]`; `r.FormValue(name)` is the first). */
export function valuesOf (pairs: readonly QueryPair[], name: string): string[] {
  return pairs.filter((p) => p.name === name).map((p) => p.value)
}

/** A pair encoded the way Go's url.Values.Encode would (any escaping Go decodes is fine). */
export function pair (name: string, value: string): QueryPair {
  return { raw: `${encodeURIComponent(name)}=${encodeURIComponent(value)}`, name, value }
}

/**
 * `pairs` with every `name` pair removed and `replacement` put where the
 * first one was (at the end when there was none), so the daemon's first
 * (and only) value is the replacement.
 */
export function replaceAll (pairs: readonly QueryPair[], name: string, replacement: QueryPair): QueryPair[] {
  const out: QueryPair[] = []
  let placed = false
  for (const p of pairs) {
    if (p.name !== name) out.push(p)
    else if (!placed) {
      out.push(replacement)
      placed = true
    }
  }
  if (!placed) out.push(replacement)
  return out
}

/** The query text of `pairs` (without `?`). */
export function formatQuery (pairs: readonly QueryPair[]): string {
  return pairs.map((p) => p.raw).join('&')
}

/**
 * A Content-Type whose body Go's ParseForm reads as more parameters (they
 * would override the query's), or that Go may read as one (not printable
 * ASCII: shared/media-type.ts); null when there is none.
 */
export function formContentType (contentTypes: readonly string[]): string | null {
  return formMediaType(contentTypes)
}

function unescape (text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    throw new QueryFault('the query has a malformed %-escape, which the daemon would drop a parameter for')
  }
}
