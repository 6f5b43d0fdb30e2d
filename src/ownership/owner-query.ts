/**
 * The owner label on images an ownership team makes, where the API takes it
 * in the query: `POST /build` (`labels`, JSON), `POST /commit` and an
 * import (`POST /images/create?fromSrc=...`) (`changes`, Dockerfile
 * instructions). Pure.
 *
 * - build: every `labels` value is read (the daemon reads the first); one
 *   that sets `dockgate.owner` is refused; the request goes on with one
 *   `labels` holding the first value's labels plus the owner. The builder
 *   applies these labels after every Dockerfile instruction (and after
 *   ONBUILD triggers), so a LABEL in the Dockerfile cannot override them.
 * - commit and import: a change that names `dockgate.owner` is refused, and
 *   `LABEL dockgate.owner=<owner>` is appended as the last change. Changes
 *   apply in order, after the commit body's Config and the container's own
 *   labels, so the last LABEL wins even over a label spelled through ENV
 *   substitution (`ENV K=dockgate.owner` + `LABEL $K=x`, which the daemon
 *   honours). The daemon joins changes with newlines: a line ending in a
 *   line continuation (`\`, or `` ` `` after an escape directive) would
 *   swallow the appended LABEL, and an escape directive changes what
 *   continues a line, so both are refused.
 * - A pull (`fromImage`) cannot be labelled: the image is shared (scope.ts).
 * - Form-encoded bodies are refused: the daemon's ParseForm would read
 *   parameters from them in preference to the query.
 */
import { refusal, type Refusal } from '../shared/errors.js'
import { goParse, goTypeError, isGoObject } from './go-json.js'
import { formatQuery, formContentType, pair, parseQuery, QueryFault, replaceAll, valuesOf, type QueryPair } from './query.js'
import { OWNER_LABEL } from './scope.js'

/** The query to forward instead, or the refusal. */
export type QueryLabelling =
  | { readonly ok: true; readonly query: string }
  | { readonly ok: false; readonly refusal: Refusal }

/**
 * For `POST /build`, `POST /commit` and `POST /images/create` (an import:
 * no `fromImage`): the query with the owner label added, or a refusal.
 * Null for every other request, and for a pull (nothing can be labelled).
 */
export function labelQuery (method: string, segments: readonly string[], query: string, contentTypes: readonly string[], owner: string): QueryLabelling | null {
  if (method !== 'POST') return null
  const path = segments.join('/')
  if (path !== 'build' && path !== 'commit' && path !== 'images/create') return null
  const endpoint = `POST /${path}`
  const media = formContentType(contentTypes)
  if (media !== null) return refused('DG_BODY_MEDIA_TYPE', `${endpoint}: a body of type ${media} is read as parameters by the daemon and would override the owner label`)
  let pairs: QueryPair[]
  try {
    pairs = parseQuery(query)
  } catch (err) {
    if (!(err instanceof QueryFault)) throw err
    return refused('DG_BAD_REQUEST', `${endpoint}: ${err.message}`)
  }
  if (path === 'build') return labelBuild(pairs)
  // The daemon pulls when fromImage is set, and imports (fromSrc) otherwise.
  if (path === 'images/create' && (valuesOf(pairs, 'fromImage')[0] ?? '') !== '') return null
  return labelChanges(endpoint, pairs, owner)

  function labelBuild (all: QueryPair[]): QueryLabelling {
    const values = valuesOf(all, 'labels')
    let first: Record<string, string> = {}
    for (const [i, text] of values.entries()) {
      const labels = readLabels(text)
      if (typeof labels === 'string') return refused('DG_BODY_INVALID', `POST /build: the labels parameter is not a JSON object of strings: ${labels}`)
      if (Object.hasOwn(labels, OWNER_LABEL)) return forged('POST /build', 'labels')
      if (i === 0) first = labels
    }
    const merged = Object.fromEntries([...Object.entries(first), [OWNER_LABEL, owner]])
    return { ok: true, query: formatQuery(replaceAll(all, 'labels', pair('labels', JSON.stringify(merged)))) }
  }
}

/** Build `labels` as Go reads map[string]string ('' is none; the last repeat wins); the Go error message when it does not read. */
function readLabels (text: string): Record<string, string> | string {
  if (text === '') return {}
  const parsed = goParse(text)
  if (!parsed.ok) return parsed.message
  const value = parsed.value
  if (value === null) return {}
  if (!isGoObject(value)) return goTypeError(value, 'map[string]string')
  const out = new Map<string, string>()
  for (const [key, item] of value.members) {
    if (item !== null && typeof item !== 'string') return goTypeError(item, 'string')
    out.set(key, item ?? '')
  }
  return Object.fromEntries(out)
}

const CONTINUED = /[\\`]\s*$/
const DIRECTIVE = /^\s*#\s*(escape|syntax)\s*=/i

function labelChanges (endpoint: string, pairs: QueryPair[], owner: string): QueryLabelling {
  for (const change of valuesOf(pairs, 'changes')) {
    if (change.includes(OWNER_LABEL)) return forged(endpoint, 'changes')
    for (const line of change.split(/\r\n|\r|\n/)) {
      if (DIRECTIVE.test(line)) return refused('DG_OWNER_LABEL', `${endpoint}: changes may not hold a parser directive (# escape= or # syntax=)`)
      if (CONTINUED.test(line)) {
        return refused('DG_OWNER_LABEL', `${endpoint}: a changes line ends in a line continuation, which would join the next change (the ${OWNER_LABEL} label dockgate adds) to it`)
      }
    }
  }
  return { ok: true, query: formatQuery([...pairs, pair('changes', `LABEL ${OWNER_LABEL}=${owner}`)]) }
}

function forged (endpoint: string, parameter: string): QueryLabelling {
  return refused('DG_OWNER_LABEL', `${endpoint}: the ${OWNER_LABEL} label is set by dockgate to the team that owns the image; remove it from ${parameter}`)
}

function refused (code: 'DG_OWNER_LABEL' | 'DG_BODY_INVALID' | 'DG_BODY_MEDIA_TYPE' | 'DG_BAD_REQUEST', message: string): QueryLabelling {
  return { ok: false, refusal: refusal(code, message) }
}
