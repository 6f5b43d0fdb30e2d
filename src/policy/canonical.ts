/**
 * The one canonical form of a request target that rules are matched against.
 *
 * Security-critical. The gateway judges a request by its target and then
 * forwards that same target to dockerd, whose router decodes percent-escapes
 * (Go turns %2F into /), treats any first segment like `v1.41` as an API
 * version, and cleans paths. Any target where the gateway and dockerd could
 * read a different path is refused here instead of being normalised: we never
 * normalise-then-forward, we forward exactly what we judged.
 *
 * Each character has one spelling. A character a path may hold as it is
 * must not be percent-encoded; one a Docker object name may hold but a
 * path may not (a space in a network name, `test 01`) must be, as `%XX`
 * with upper-case hex, and is decoded once into the name the rules and
 * isolation see (`segments`). Anything that decodes to a separator, a
 * backslash, `%` (encoded twice), `;`, `?`, `#`, a control or a non-ASCII
 * byte is refused.
 *
 * Invariant (tested): for every accepted target,
 * `(apiVersion ? '/v' + apiVersion : '') + path + (query ? '?' + query : '')`
 * equals the raw target exactly.
 */
import { refusal, type Refusal } from '../shared/errors.js'
import type { CanonicalTarget } from './types.js'

/** Either the canonical target, or a short human phrase saying why there is none. */
export type CanonicalResult =
  | { readonly ok: true; readonly target: CanonicalTarget }
  | { readonly ok: false; readonly reason: string }

/** Anything dockerd's router would take as a version prefix (`/v{version:[0-9.]+}`). */
const LOOKS_LIKE_VERSION = /^v[0-9.]+$/
/** The only version prefix we accept: `v` MAJOR `.` MINOR, as every Docker client sends. */
const STRICT_VERSION = /^v(\d{1,3}\.\d{1,3})$/

/** RFC 3986 pchar without `%` (escapes are checked on their own) and without `;` (no matrix parameters). */
const PATH_CHARS = asciiTable("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@")
/** Printable characters a Docker object name may hold that a path must percent-encode (network names may hold them). */
const ENCODED_NAME_CHARS = asciiTable(' "<>[]^`{|}')

/**
 * Judges a raw request target (`req.url`, exactly as received). Cheap: one
 * pass over the characters, no regex compilation, no decoding. Give the
 * request's `method` whenever there is one: a few paths name one object
 * for some methods and another for others (see trailingNameProblem).
 */
export function canonicalize (rawTarget: string, method?: string): CanonicalResult {
  const formProblem = targetFormProblem(rawTarget)
  if (formProblem !== null) return refused(formProblem)
  const queryStart = rawTarget.indexOf('?')
  const rawPath = queryStart === -1 ? rawTarget : rawTarget.slice(0, queryStart)
  const query = queryStart === -1 ? '' : rawTarget.slice(queryStart + 1)
  const segments = rawPath.slice(1).split('/')
  const pathProblem = segmentsProblem(segments)
  if (pathProblem !== null) return refused(pathProblem)
  const queryProblem = queryStart === -1 ? null : queryTextProblem(query)
  if (queryProblem !== null) return refused(queryProblem)
  const result = splitVersion(rawPath, segments, query)
  if (!result.ok || method === undefined) return result
  const trailing = trailingNameProblem(method, result.target.segments, result.target.query)
  return trailing === null ? result : refused(trailing)
}

/** The refusal answered for a non-canonical target: DG_NON_CANONICAL with the reason. */
export function nonCanonicalRefusal (reason: string): Refusal {
  return refusal('DG_NON_CANONICAL', `request target is not canonical: ${reason}`)
}

/** Rebuilds the raw target from its canonical parts; the inverse of {@link canonicalize}. */
export function renderTarget (target: CanonicalTarget): string {
  const version = target.apiVersion === null ? '' : `/v${target.apiVersion}`
  return `${version}${target.path}${target.query === '' ? '' : `?${target.query}`}`
}

function refused (reason: string): CanonicalResult {
  return { ok: false, reason }
}

function targetFormProblem (raw: string): string | null {
  if (raw === '') return 'empty request target'
  if (raw === '*') return 'asterisk-form target (*) is not an API path'
  if (!raw.startsWith('/')) {
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(raw)
      ? 'absolute-form target (a full URL); send only the path'
      : 'target does not start with /'
  }
  if (raw.includes('#')) return 'fragment (#) in request target'
  if (raw.endsWith('?')) return "empty query after '?'"
  return null
}

function segmentsProblem (segments: readonly string[]): string | null {
  if (segments.length === 1 && segments[0] === '') return 'empty path (/)'
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? ''
    if (segment === '') return i === segments.length - 1 ? 'trailing slash in path' : 'doubled slash in path'
    if (segment === '.' || segment === '..') return `dot segment '${segment}' in path`
    const characterProblem = pathCharacterProblem(segment)
    if (characterProblem !== null) return characterProblem
  }
  return null
}

function pathCharacterProblem (segment: string): string | null {
  for (let i = 0; i < segment.length; i++) {
    const code = segment.charCodeAt(i)
    if (code < 128 && PATH_CHARS[code] === 1) continue
    if (code !== 0x25) return describeBadPathCharacter(code)
    const problem = escapeProblem(segment.slice(i, i + 3))
    if (problem !== null) return problem
    i += 2
  }
  return null
}

// One `%XX` escape: allowed only for a name character a path cannot hold, in its one spelling.
function escapeProblem (escape: string): string | null {
  if (!/^%[0-9A-Fa-f]{2}$/.test(escape)) return 'percent-encoding (%) in path not followed by two hex digits'
  const code = parseInt(escape.slice(1), 16)
  const shown = code >= 0x20 && code < 0x7f ? ` is '${String.fromCharCode(code)}'` : ''
  if (code < 128 && PATH_CHARS[code] === 1) return `percent-encoding (%) in path: ${escape}${shown}, which needs no encoding; send it as it is`
  if (code >= 128 || ENCODED_NAME_CHARS[code] !== 1) return `percent-encoding (%) in path: ${escape}${shown}, which no name may hold`
  if (escape !== escape.toUpperCase()) return `percent-encoding (%) in path: write ${escape.toUpperCase()}, with upper-case hex`
  return null
}

/** The names a canonical path's segments stand for: each allowed escape decoded once. */
function decodedSegments (segments: readonly string[]): string[] {
  return segments.map((segment) => segment.includes('%') ? segment.replace(/%([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))) : segment)
}

/** The canonical path for `names` (decoded segments), the inverse of the decoding: what is forwarded after isolation rewrote a name. */
export function encodePath (names: readonly string[]): string {
  return '/' + names.map((name) => name.replace(/[^A-Za-z0-9\-._~!$&'()*+,=:@]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)).join('/')
}

function describeBadPathCharacter (code: number): string {
  if (code === 0x25) return 'percent-encoding (%) in path'
  if (code === 0x5c) return 'backslash in path'
  if (code === 0x3b) return 'semicolon in path'
  if (code < 0x20 || code === 0x7f) return 'control character in path'
  if (code === 0x20) return 'space in path'
  if (code >= 0x80) return 'non-ASCII character in path'
  return `character '${String.fromCharCode(code)}' not allowed in path`
}

// The query is forwarded untouched (escaped JSON filters are normal), so
// only characters no HTTP client sends raw are refused.
function queryTextProblem (query: string): string | null {
  for (let i = 0; i < query.length; i++) {
    const code = query.charCodeAt(i)
    if (code < 0x20 || code === 0x7f) return 'control character in query'
    if (code === 0x20) return 'space in query'
    if (code >= 0x80) return 'non-ASCII character in query'
  }
  return null
}

function splitVersion (rawPath: string, segments: readonly string[], query: string): CanonicalResult {
  const first = segments[0] ?? ''
  if (!LOOKS_LIKE_VERSION.test(first)) return accepted(rawPath, segments, null, query)
  const version = STRICT_VERSION.exec(first)?.[1]
  if (version === undefined) return refused(`malformed API version prefix '${first}'`)
  const rest = segments.slice(1)
  if (rest.length === 0) return refused('API version prefix with no path after it')
  if (LOOKS_LIKE_VERSION.test(rest[0] ?? '')) return refused('doubled API version prefix')
  return accepted(rawPath.slice(first.length + 1), rest, version, query)
}

function accepted (path: string, segments: readonly string[], apiVersion: string | null, query: string): CanonicalResult {
  const spanProblem = nameSpanProblem(segments)
  if (spanProblem !== null) return refused(spanProblem)
  const target: CanonicalTarget = Object.freeze({ path, segments: Object.freeze(decodedSegments(segments)), apiVersion, query })
  return { ok: true, target }
}

/**
 * dockerd routes `/containers/{name:.*}/start`, so `/containers/web/db/start`
 * starts the container whose name is `web/db` (a legacy link alias of
 * another container), while a rule's `{id}` is one segment: such a path
 * would slip past `deny: POST /containers/{id}/exec` and past the body rules
 * an allow of `/containers/**` leaves to them. Container, exec, network and
 * volume names never need a slash otherwise, so those paths are refused.
 * Image, plugin and distribution names do have slashes; rules reach them
 * with `**`.
 */
const MAX_SEGMENTS: Readonly<Record<string, number>> = { containers: 3, exec: 3, networks: 3, volumes: 2 }

function nameSpanProblem (segments: readonly string[]): string | null {
  const [first = '', , third] = segments
  const max = MAX_SEGMENTS[first]
  if (max === undefined || segments.length <= max) return null
  // The one longer route: GET /containers/{name}/attach/ws.
  if (first === 'containers' && segments.length === 4 && third === 'attach' && segments[3] === 'ws') return null
  const noun = first === 'containers' ? 'container' : first === 'exec' ? 'exec instance' : first.slice(0, -1)
  return `${noun} name with a slash in /${segments.join('/')} (dockerd would read one name where rules see several segments); ` +
    `address the ${noun} by its own name or ID`
}

/**
 * Where a name ENDS the path, dockerd's `{name:.*}` takes every segment
 * after the prefix: `DELETE /containers/{name:.*}` removes what
 * `/containers/web/db` names (the legacy link alias `web/db`: the container
 * web's link points at, which may belong to another team), and
 * `GET|DELETE /networks/{id:.*}` reads or removes a network named `a/b`,
 * while a rule's `{id}` and team isolation see two segments. Other methods
 * on the same paths end in an action (`POST /containers/{name}/start`), so
 * these are refused for these methods only.
 *
 * One such path is accepted: `DELETE /containers/{name}/{alias}` with a true
 * `link` query (what `docker rm --link web/db` and docker-py's
 * `remove_container(link=True)` send). dockerd then removes only the link
 * alias from the container `name` and returns before any removal of a
 * container (moby daemon/delete.go, ContainerRm: `if config.RemoveLink
 * { return daemon.rmLink(...) }`), so the request acts on `name`'s links
 * and rules see it as the three segments it is.
 */
const NAME_ENDS_PATH: Readonly<Record<string, readonly string[]>> = { containers: ['DELETE'], networks: ['GET', 'DELETE'] }

function trailingNameProblem (method: string, segments: readonly string[], query: string): string | null {
  const first = segments[0] ?? ''
  if (segments.length <= 2 || !(NAME_ENDS_PATH[first] ?? []).includes(method.toUpperCase())) return null
  if (isLinkRemoval(method, segments, query)) return null
  const noun = first === 'containers' ? 'container' : 'network'
  return `${noun} name with a slash in /${segments.join('/')} (dockerd would read one name where rules see several segments); ` +
    `address the ${noun} by its own name or ID`
}

/**
 * True for `DELETE /containers/{name}/{alias}?link=TRUE`: the removal of a
 * legacy link alias, never of a container. `link` is read as dockerd reads
 * it (httputils.BoolValue on the first value: false only when empty, `0`,
 * `no`, `false` or `none`, in any case, after trimming spaces).
 */
export function isLinkRemoval (method: string, segments: readonly string[], query: string): boolean {
  if (method.toUpperCase() !== 'DELETE' || segments.length !== 3 || segments[0] !== 'containers' || query === '') return false
  const value = new URLSearchParams(query).get('link')
  if (value === null) return false
  return !['', '0', 'no', 'false', 'none'].includes(value.trim().toLowerCase())
}

function asciiTable (allowed: string): Uint8Array {
  const table = new Uint8Array(128)
  for (const ch of allowed) table[ch.charCodeAt(0)] = 1
  return table
}
