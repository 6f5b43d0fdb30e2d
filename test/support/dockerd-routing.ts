/**
 * A model of how dockerd reads a request target, for the property tests of
 * the canonical form: Go's net/http parses the target (url.ParseRequestURI:
 * origin or absolute form, the query split at the first `?`, the path
 * percent-decoded, a bad escape a 400), and the gorilla/mux router dockerd
 * serves with (moby api/server/server.go: no SkipClean, no UseEncodedPath)
 * matches the DECODED path, after answering any path that path.Clean would
 * change with a 301 and no handler. Routes are registered twice, with and
 * without `/v{version:[0-9.]+}` in front, and name variables are `.*`
 * (moby api/server/router/*: `/containers/{name:.*}/json`), so a name may
 * take several segments.
 */

/** What dockerd does with a target: refuse it in Go's parser, redirect it, or route it. */
export type DockerdView =
  | { readonly kind: 'bad-request' }
  | { readonly kind: 'redirect' }
  | { readonly kind: 'route'; readonly version: string | null; readonly path: string; readonly query: string }

/** dockerd 20.10's routes for the objects whose names rules see as one segment, in registration order (moby api/server/router). */
export const ROUTES: ReadonlyArray<readonly [method: string, template: string]> = [
  ['GET', '/containers/json'], ['POST', '/containers/create'], ['POST', '/containers/prune'],
  ['GET', '/containers/{name:.*}/json'], ['GET', '/containers/{name:.*}/logs'], ['GET', '/containers/{name:.*}/attach/ws'],
  ['POST', '/containers/{name:.*}/start'], ['POST', '/containers/{name:.*}/attach'], ['POST', '/containers/{name:.*}/exec'],
  ['POST', '/containers/{name:.*}/rename'], ['DELETE', '/containers/{name:.*}'],
  ['GET', '/exec/{id:.*}/json'], ['POST', '/exec/{name:.*}/start'],
  ['GET', '/networks'], ['GET', '/networks/{id:.*}'], ['POST', '/networks/create'], ['POST', '/networks/{id:.*}/connect'], ['DELETE', '/networks/{id:.*}'],
  ['GET', '/volumes'], ['GET', '/volumes/{name:.*}'], ['POST', '/volumes/create'], ['DELETE', '/volumes/{name:.*}'],
  ['GET', '/_ping'], ['GET', '/version'], ['GET', '/info']
]

// gorilla/mux turns `{name}` into `([^/]+)` and `{name:PATTERN}` into `(PATTERN)`, anchored at both ends.
function templateRegex (template: string): RegExp {
  const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  let source = '^'
  let at = 0
  for (const variable of template.matchAll(/\{(\w+)(?::([^}]+))?\}/g)) {
    source += escape(template.slice(at, variable.index)) + `(${variable[2] ?? '[^/]+'})`
    at = variable.index + variable[0].length
  }
  return new RegExp(`${source}${escape(template.slice(at))}$`)
}

const compiled = ROUTES.map(([method, template]) => ({ method, template, regex: templateRegex(template) }))

/** The route dockerd picks for `method` and a decoded path without its version, and the values of its variables; null for its 404. */
export function routeOf (method: string, path: string): { readonly template: string; readonly vars: readonly string[] } | null {
  for (const route of compiled) {
    if (route.method !== method) continue
    const match = route.regex.exec(path)
    if (match !== null) return { template: route.template, vars: match.slice(1) }
  }
  return null
}

/** How dockerd reads `raw`, the request target exactly as sent. */
export function dockerdView (raw: string): DockerdView {
  // A control byte is refused by Go's URL parser (a space would end the target in the request line).
  if ([...raw].some((ch) => ch.charCodeAt(0) <= 0x20 || ch.charCodeAt(0) === 0x7f)) return { kind: 'bad-request' }
  const split = splitTarget(raw)
  if (split === null) return { kind: 'bad-request' }
  const { rawPath, query } = split
  const path = unescapePath(rawPath)
  if (path === null) return { kind: 'bad-request' }
  if (cleanPath(path) !== path) return { kind: 'redirect' }
  const versioned = /^\/v([0-9.]+)(\/.*)$/.exec(path)
  return versioned === null
    ? { kind: 'route', version: null, path, query }
    : { kind: 'route', version: versioned[1] ?? '', path: versioned[2] ?? '', query }
}

// url.ParseRequestURI: `*` is the path `*`; an origin-form target is a path; a target with a
// scheme is a URL, whose path follows `//authority`, or the scheme itself when one slash
// follows it (none at all for an opaque `docker:2375`); anything else ("invalid URI for
// request") is a 400.
function splitTarget (raw: string): { rawPath: string; query: string } | null {
  if (raw === '*') return { rawPath: '*', query: '' }
  const question = raw.indexOf('?')
  const beforeQuery = question < 0 ? raw : raw.slice(0, question)
  const query = question < 0 ? '' : raw.slice(question + 1)
  if (beforeQuery.startsWith('/')) return { rawPath: beforeQuery, query }
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(beforeQuery)
  if (scheme === null) return null
  const rest = beforeQuery.slice(scheme[0].length)
  if (!rest.startsWith('/')) return { rawPath: '', query }
  if (!rest.startsWith('//')) return { rawPath: rest, query }
  const authorityEnd = rest.indexOf('/', 2)
  const authority = authorityEnd < 0 ? rest.slice(2) : rest.slice(2, authorityEnd)
  if (!validAuthority(authority)) return null
  return { rawPath: authorityEnd < 0 ? '' : rest.slice(authorityEnd), query }
}

// Go's host rules (url.unescape in encodeHost mode): only unreserved and sub-delimiter
// characters, and no percent-escape of an ASCII byte but %25.
function validAuthority (authority: string): boolean {
  if (!/^[A-Za-z0-9\-._~!$&'()*+,;=:[\]<>"%]*$/.test(authority)) return false
  return [...authority.matchAll(/%(.)(.)?/g)].every((m) => m[0] === '%25' || (/^[89A-Fa-f]$/.test(m[1] ?? '') && /^[0-9A-Fa-f]$/.test(m[2] ?? '')))
}

// Go's url.unescape in encodePath mode: every % must start two hex digits.
function unescapePath (raw: string): string | null {
  let out = ''
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== '%') {
      out += raw[i]
      continue
    }
    const hex = raw.slice(i + 1, i + 3)
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
    out += String.fromCharCode(parseInt(hex, 16))
    i += 2
  }
  return out
}

/** gorilla/mux cleanPath: path.Clean, a leading slash, a trailing slash kept. */
export function cleanPath (p: string): string {
  if (p === '') return '/'
  const rooted = p.startsWith('/') ? p : `/${p}`
  const cleaned = goPathClean(rooted)
  return rooted.endsWith('/') && cleaned !== '/' ? `${cleaned}/` : cleaned
}

// Go's path.Clean for a rooted path: drop empty and `.` elements, let `..` remove the one before.
function goPathClean (p: string): string {
  const out: string[] = []
  for (const element of p.split('/')) {
    if (element === '' || element === '.') continue
    if (element === '..') out.pop()
    else out.push(element)
  }
  return `/${out.join('/')}`
}
