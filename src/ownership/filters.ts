/**
 * List scoping: what an ownership team's list, events, disk-usage and
 * prune requests become so that they show and remove only what the team
 * may see. Pure.
 *
 * The daemon filters whenever one label filter can say it: for a scope
 * with one visible owner, `label=dockgate.owner=<owner>` is added to the
 * request's `filters` (label filters are ANDed with whatever the client
 * asked for, so a client cannot widen it), and nothing is buffered.
 * Otherwise the response is filtered as it streams (response-filter.ts):
 * - several visible owners: a label filter cannot express OR;
 * - `/images/json`: images without an owner are shared, and "no such
 *   label" cannot be filtered for either;
 * - `/events`: volume and network events carry no labels (only containers
 *   and images copy their labels into event attributes), so a label filter
 *   would drop a team's own volume and network events; the filter asks the
 *   owner index instead;
 * - `/system/df`: API 1.41 takes no filters there (the `type` parameter
 *   came in 1.42, and it selects sections, not owners).
 * Prunes cannot be filtered afterwards: with several owners they become
 * one prune per owner (merge the answers with mergePruneReports). The
 * build cache has no owners at all, so `/build/prune` is refused.
 *
 * `filters` is read as dockerd's filters.FromJSON reads it: the first
 * `filters` value; the map-of-bools form `{"label":{"a=b":true}}` (what
 * the docker CLI sends) and the older map-of-lists form `{"label":["a=b"]}`
 * (what API < 1.22 clients send). Label filters match by key whatever the
 * bool. The rewritten value is always the map-of-bools form. A value the
 * daemon would refuse is refused here with the daemon's status and message
 * (fail closed: never forward a filter dockgate could not add to).
 * Form-encoded POST bodies are refused: Go's ParseForm would read
 * `filters` from the body in preference to the query.
 */
import { refusal, type Refusal } from '../shared/errors.js'
import { goParse, goTypeError, isGoObject, type GoValue } from './go-json.js'
import { formatQuery, formContentType, pair, parseQuery, QueryFault, replaceAll, valuesOf } from './query.js'
import { OWNER_LABEL, type OwnershipScope } from './scope.js'

/** How to filter a response the daemon could not filter. */
export type ResponseFilterKind = 'containers' | 'networks' | 'images' | 'volumes' | 'events' | 'system-df'

/** What to do with a list, events, disk-usage or prune request of an ownership team. */
export type ListScoping =
  /** Forward with this query; the daemon filters. */
  | { readonly kind: 'forward'; readonly query: string }
  /** Forward with this query (the client's own) and filter the 2xx response. */
  | { readonly kind: 'filter'; readonly query: string; readonly response: ResponseFilterKind }
  /** A prune for several owners: send one request per query, in order, and merge the answers (mergePruneReports). */
  | { readonly kind: 'per-owner'; readonly queries: readonly string[] }
  /** `filters` the daemon would refuse: answer `{"message": message}` with this status, as the daemon would. */
  | { readonly kind: 'answer'; readonly status: number; readonly message: string }
  | { readonly kind: 'refuse'; readonly refusal: Refusal }

interface ListEndpoint {
  readonly method: 'GET' | 'POST'
  /** Status and message prefix of the daemon's answer to a malformed `filters`. */
  readonly status: number
  readonly prefix: string
  /** Set for endpoints whose response is always filtered. */
  readonly always?: ResponseFilterKind
  /** The response filter for a scope with several owners (list endpoints); absent for prunes. */
  readonly several?: ResponseFilterKind
}

const ENDPOINTS: Readonly<Record<string, ListEndpoint>> = {
  'containers/json': { method: 'GET', status: 500, prefix: '', several: 'containers' },
  volumes: { method: 'GET', status: 400, prefix: 'error reading volume filters: ', several: 'volumes' },
  networks: { method: 'GET', status: 500, prefix: '', several: 'networks' },
  'images/json': { method: 'GET', status: 500, prefix: '', always: 'images' },
  events: { method: 'GET', status: 500, prefix: '', always: 'events' },
  'system/df': { method: 'GET', status: 500, prefix: '', always: 'system-df' },
  'containers/prune': { method: 'POST', status: 400, prefix: '' },
  'volumes/prune': { method: 'POST', status: 500, prefix: '' },
  'networks/prune': { method: 'POST', status: 500, prefix: '' },
  'images/prune': { method: 'POST', status: 500, prefix: '' }
}

/**
 * The scoping of `method /segments?query` for `scope`, or null when the
 * request is none of the list, events, disk-usage or prune endpoints.
 * `contentTypes` are the request's Content-Type values.
 */
export function scopeList (method: string, segments: readonly string[], query: string, contentTypes: readonly string[], scope: OwnershipScope): ListScoping | null {
  const path = segments.join('/')
  if (path === 'build/prune' && method === 'POST') {
    return { kind: 'refuse', refusal: refusal('DG_OWNER_CONFLICT', 'the build cache is shared by every team and has no owners; only an admin team may prune it') }
  }
  const endpoint = ENDPOINTS[path]
  if (endpoint === undefined || endpoint.method !== method) return null
  const media = method === 'POST' ? formContentType(contentTypes) : null
  if (media !== null) {
    return { kind: 'refuse', refusal: refusal('DG_BODY_MEDIA_TYPE', `POST /${path}: a body of type ${media} is read as parameters by the daemon and would override the owner filter; send filters in the query`) }
  }
  if (endpoint.always !== undefined) return { kind: 'filter', query, response: endpoint.always }
  if (scope.visible.length > 1 && endpoint.several !== undefined) return { kind: 'filter', query, response: endpoint.several }
  let pairs
  try {
    pairs = parseQuery(query)
  } catch (err) {
    if (!(err instanceof QueryFault)) throw err
    return { kind: 'refuse', refusal: refusal('DG_BAD_REQUEST', `${method} /${path}: ${err.message}`) }
  }
  const parsed = readFilters(valuesOf(pairs, 'filters')[0] ?? '')
  if (typeof parsed === 'string') return { kind: 'answer', status: endpoint.status, message: endpoint.prefix + parsed }
  const queries = scope.visible.map((owner) => formatQuery(replaceAll(pairs, 'filters', pair('filters', formatFilters(withOwner(parsed, owner))))))
  if (queries.length === 1) return { kind: 'forward', query: queries[0] as string }
  return { kind: 'per-owner', queries }
}

/** Filters as the daemon holds them: field -> values (the bools do not matter for matching). */
export type Filters = ReadonlyMap<string, readonly string[]>

/**
 * Reads a `filters` value like filters.FromJSON: '' is no filters; the
 * map-of-bools form first, then the map-of-lists form. Returns the
 * daemon's error message (of the first form's attempt, as it reports)
 * when neither reads.
 */
export function readFilters (text: string): Filters | string {
  if (text === '') return new Map()
  const parsed = goParse(text)
  if (!parsed.ok) return parsed.message
  if (parsed.value === null) return new Map()
  const modern = readMapOfBools(parsed.value)
  if (typeof modern !== 'string') return modern
  return readMapOfLists(parsed.value) ?? modern
}

/** map[string]map[string]bool: every member is decoded in order (the first type error is Go's), the last repeat wins. */
function readMapOfBools (value: GoValue): Filters | string {
  if (!isGoObject(value)) return goTypeError(value, 'map[string]map[string]bool')
  const out = new Map<string, string[]>()
  for (const [field, inner] of value.members) {
    if (inner === null) {
      out.set(field, [])
      continue
    }
    if (!isGoObject(inner)) return goTypeError(inner, 'map[string]bool')
    for (const [, flag] of inner.members) {
      if (flag !== null && typeof flag !== 'boolean') return goTypeError(flag, 'bool')
    }
    out.set(field, [...new Set(inner.members.map(([key]) => key))])
  }
  return out
}

/** map[string][]string (a null item is ""), or null when the value is not one. */
function readMapOfLists (value: GoValue): Filters | null {
  if (!isGoObject(value)) return null
  const out = new Map<string, string[]>()
  for (const [field, list] of value.members) {
    if (list === null) {
      out.set(field, [])
      continue
    }
    if (!Array.isArray(list)) return null
    const items: string[] = []
    for (const item of list as readonly GoValue[]) {
      if (item !== null && typeof item !== 'string') return null
      items.push(item ?? '')
    }
    out.set(field, items)
  }
  return out
}

/** `filters` with `label=dockgate.owner=<owner>` added (label filters are ANDed). */
export function withOwner (filters: Filters, owner: string): Filters {
  const out = new Map(filters)
  const labels = out.get('label') ?? []
  const term = `${OWNER_LABEL}=${owner}`
  out.set('label', labels.includes(term) ? labels : [...labels, term])
  return out
}

/** The map-of-bools JSON of `filters`, the form the docker CLI sends. */
export function formatFilters (filters: Filters): string {
  // fromEntries defines own properties, so a field named __proto__ stays a field.
  return JSON.stringify(Object.fromEntries([...filters].map(([field, values]) => [field, Object.fromEntries(values.map((v) => [v, true]))])))
}

/**
 * Merges the answers of one prune per owner into one answer of the same
 * shape: lists (`ContainersDeleted`, `ImagesDeleted`, ...) are joined,
 * numbers (`SpaceReclaimed`) summed; a list that is null in every answer
 * stays null, as the daemon sends it.
 */
export function mergePruneReports (reports: readonly unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const report of reports) {
    if (!isPlainObject(report)) continue
    for (const [key, value] of Object.entries(report)) {
      const before = Object.hasOwn(out, key) ? out[key] : undefined
      const merged = typeof value === 'number'
        ? (typeof before === 'number' ? before : 0) + value
        : Array.isArray(value) ? [...(Array.isArray(before) ? before as unknown[] : []), ...value as unknown[]] : before ?? value
      Object.defineProperty(out, key, { value: merged, enumerable: true, writable: true, configurable: true })
    }
  }
  return out
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
