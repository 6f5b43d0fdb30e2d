/**
 * POST /build is judged on its query, not its body: the body is the build
 * context (a tar, possibly gigabytes), and it still streams unbuffered. The
 * classic builder runs each step in a container whose network mode and
 * cgroup parent come from the query; BuildKit behind /build grants the
 * `network.host` entitlement from the same `networkmode`.
 *
 * The query is read like Go's url.ParseQuery: `&`-separated, `+` is a space,
 * %XX escapes decode. Every value of a judged key counts (Go reads the first;
 * judging all leaves nothing to disagree on), and names are compared
 * without case. A form-encoded content type (or one Go might read as such:
 * shared/media-type.ts) is refused: Go's ParseForm and FormValue would read
 * more parameters from such a body, ahead of the query's, and dockgate
 * never reads it.
 */
import { formMediaType } from '../../shared/media-type.js'
import type { FactList } from './facts.js'
import { sharesNamespace } from './facts.js'
import { FieldFault } from './fields.js'

/** Reads the facts of a /build request from its raw query and Content-Type values. */
export function readBuildRequest (query: string, contentTypes: readonly string[], facts: FactList): void {
  const form = formMediaType(contentTypes)
  if (form !== null) {
    throw new FieldFault({ kind: 'media-type', message: `a build context must not be sent as ${form}: the daemon would read more build parameters from it` })
  }
  facts.unjudgedImage('POST /build', 'build images: builds are not judged by their FROM lines yet (the base images come from the streamed build context)')
  for (const [name, value] of parseQuery(query)) {
    const key = name.toLowerCase()
    if (key === 'networkmode' && sharesNamespace(value)) facts.namespace('networkmode', value)
    if (key === 'cgroupparent' && value !== '') {
      facts.hostNamespace('cgroupparent', `place build steps in a host cgroup of their choosing (cgroupparent=${value})`)
    }
  }
}

/** Go's url.ParseQuery, strictly: a pair that Go would skip as malformed is refused instead. */
export function parseQuery (query: string): Array<[string, string]> {
  if (query === '') return []
  return query.split('&').filter((pair) => pair !== '').map((pair) => {
    if (pair.includes(';')) throw new FieldFault({ kind: 'invalid', message: 'the query has a semicolon, which the daemon would silently drop a parameter for' })
    const eq = pair.indexOf('=')
    const rawName = eq === -1 ? pair : pair.slice(0, eq)
    const rawValue = eq === -1 ? '' : pair.slice(eq + 1)
    return [unescape(rawName), unescape(rawValue)]
  })
}

function unescape (text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    throw new FieldFault({ kind: 'invalid', message: 'the query has a malformed %-escape, which the daemon would silently drop a parameter for' })
  }
}
