/**
 * Rules: `METHODS PATH`, e.g. `GET,HEAD /containers/{id}/json`.
 *
 * A rule is parsed and compiled once at load into a method bit mask and a
 * list of segment matchers; matching a request is then a few integer and
 * string comparisons, with no regex and no allocation.
 *
 * Path patterns match canonical paths (see canonical.ts), which never carry
 * the API version: segments are literals, `{name}` or `*` (exactly one
 * non-empty segment), and at most one `**`. At the end it matches zero or
 * more segments, so `/containers/**` also matches `/containers` itself;
 * between segments it matches one or more, so a `**` between `/images` and
 * `/json` inspects an image whose name has slashes, but does not match
 * `/images/json`, the list. One
 * `**` at most keeps matching a single linear pass.
 */
import type { RuleRef } from './types.js'

/** The methods the Docker Engine API uses; `*` in a rule means exactly these. */
export const HTTP_METHODS = Object.freeze(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const)

const METHOD_BITS: Readonly<Record<string, number>> = Object.freeze(Object.assign(
  Object.create(null) as Record<string, number>,
  Object.fromEntries(HTTP_METHODS.map((m, i) => [m, 1 << i]))))

const ALL_METHODS = (1 << HTTP_METHODS.length) - 1

/** A segment matcher: a literal segment, or `null` for `{name}` / `*` (any one non-empty segment). */
export type SegmentMatcher = string | null

/**
 * A parsed path pattern. Without `**`, `segments` is the whole pattern and
 * `tail` is empty. With `**`, `segments` are the segments before it and
 * `tail` those after it; `openEnded` says a `**` is present.
 */
export interface PathPattern {
  readonly segments: readonly SegmentMatcher[]
  readonly openEnded: boolean
  readonly tail: readonly SegmentMatcher[]
}

/**
 * A rule ready for matching. Invariants: `methods` is a non-zero mask over
 * {@link HTTP_METHODS}; see {@link PathPattern} for the path parts.
 */
export interface CompiledRule extends PathPattern {
  readonly ref: RuleRef
  readonly methods: number
}

/** A parsed rule text, or the reason it is invalid (phrased to say what would be valid). */
export type RuleParse =
  | ({ readonly ok: true; readonly methods: number } & PathPattern)
  | { readonly ok: false; readonly problem: string }

/** The bit for a request method; 0 for methods no rule can name, which therefore never match. */
export function methodBit (method: string): number {
  return METHOD_BITS[method] ?? 0
}

/** Parses `METHODS PATH`. Never throws; the failure says what is wrong and what would be valid. */
export function parseRule (text: string): RuleParse {
  const parts = text.split(' ')
  if (parts.length !== 2 || /\s/.test(text.replaceAll(' ', '')) || parts.some((p) => p === '')) {
    return invalid('a rule is METHODS and PATH separated by exactly one space, like "GET,HEAD /containers/json"')
  }
  const [methodText = '', pathText = ''] = parts
  const methods = parseMethods(methodText)
  if (typeof methods === 'string') return invalid(methods)
  const path = parsePathPattern(pathText)
  if (typeof path === 'string') return invalid(path)
  return { ok: true, methods, ...path }
}

/** Parses and compiles a rule for `ref`; the result is frozen. */
export function compileRule (ref: RuleRef): CompiledRule | string {
  const parsed = parseRule(ref.text)
  if (!parsed.ok) return parsed.problem
  return Object.freeze({
    ref,
    methods: parsed.methods,
    segments: Object.freeze(parsed.segments),
    openEnded: parsed.openEnded,
    tail: Object.freeze(parsed.tail)
  })
}

/**
 * True iff `rule` matches a request with method bit `method` (from
 * {@link methodBit}) and canonical path `segments`.
 */
export function ruleMatches (rule: CompiledRule, method: number, segments: readonly string[]): boolean {
  if ((rule.methods & method) === 0) return false
  return pathMatches(rule, segments)
}

/** True iff the path `pattern` matches the canonical `segments`. */
export function pathMatches (pattern: PathPattern, segments: readonly string[]): boolean {
  const head = pattern.segments
  const tail = pattern.tail
  const fixed = head.length + tail.length + (pattern.openEnded && tail.length > 0 ? 1 : 0)
  if (pattern.openEnded ? segments.length < fixed : segments.length !== fixed) return false
  const tailStart = segments.length - tail.length
  return segmentsMatch(head, segments, 0) && segmentsMatch(tail, segments, tailStart)
}

function segmentsMatch (matchers: readonly SegmentMatcher[], segments: readonly string[], offset: number): boolean {
  for (let i = 0; i < matchers.length; i++) {
    const expected = matchers[i]
    const actual = segments[offset + i]
    // Canonical segments are never empty, but a matcher must not rely on its caller.
    if (actual === undefined || actual === '') return false
    if (expected !== null && expected !== actual) return false
  }
  return true
}

function invalid (problem: string): RuleParse {
  return { ok: false, problem }
}

function parseMethods (text: string): number | string {
  if (text === '*') return ALL_METHODS
  let mask = 0
  for (const method of text.split(',')) {
    const problem = methodProblem(method, mask, text)
    if (problem !== null) return problem
    mask |= methodBit(method)
  }
  return mask
}

function methodProblem (method: string, seen: number, list: string): string | null {
  const valid = `* or a comma list of ${HTTP_METHODS.join(', ')}`
  if (method === '') return `empty method in "${list}"; methods are ${valid}`
  if (method === '*') return "'*' already means every method; do not combine it with others"
  const bit = methodBit(method)
  if (bit === 0 && methodBit(method.toUpperCase()) !== 0) {
    return `methods are upper-case: write ${method.toUpperCase()}, not ${method}`
  }
  if (bit === 0) return `unknown method '${method}'; methods are ${valid}`
  if ((seen & bit) !== 0) return `method ${method} is listed twice`
  return null
}

const PARAMETER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/
const VERSION_LIKE = /^v[0-9.]+$/
const LITERAL_CHARS = /^[A-Za-z0-9\-._~!$&'()+,=:@]+$/

function parsePathPattern (text: string): { segments: SegmentMatcher[]; openEnded: boolean; tail: SegmentMatcher[] } | string {
  if (!text.startsWith('/')) return `path "${text}" must start with /`
  if (text === '/') return 'path / matches no request (requests for / are refused); use /** to match every path'
  if (text.endsWith('/')) return `trailing slash in "${text}"; write ${text.slice(0, -1)}, or ${text}** for everything below it`
  const raw = text.slice(1).split('/')
  const head: SegmentMatcher[] = []
  const tail: SegmentMatcher[] = []
  let openEnded = false
  for (let i = 0; i < raw.length; i++) {
    const segment = raw[i] ?? ''
    if (segment === '**') {
      if (openEnded) return "only one '**' per path; it already matches any number of segments"
      openEnded = true
      continue
    }
    const matcher = parseSegment(segment, i)
    if (typeof matcher === 'object' && matcher !== null) return matcher.problem
    ;(openEnded ? tail : head).push(matcher)
  }
  return { segments: head, openEnded, tail }
}

function parseSegment (segment: string, index: number): SegmentMatcher | { problem: string } {
  if (segment === '') return { problem: 'empty segment (//) in path; segments are separated by one /' }
  if (segment === '*' || PARAMETER.test(segment)) return null
  if (segment.startsWith('{') && segment.endsWith('}')) {
    return { problem: `bad parameter '${segment}'; write {name} with a name of letters, digits and _ not starting with a digit` }
  }
  if (segment.includes('*')) return { problem: `'*' must be a whole segment, like /containers/*/json; '${segment}' mixes it with text` }
  if (segment.includes('{') || segment.includes('}')) {
    return { problem: `'{' and '}' may only wrap a whole segment, like {id}; got '${segment}'` }
  }
  if (segment === '.' || segment === '..') return { problem: `'${segment}' segments never reach a rule (requests with them are refused)` }
  if (segment.includes('%')) return { problem: 'no percent-encoding in rules: requests containing % are refused before matching; write the character itself' }
  if (!LITERAL_CHARS.test(segment)) {
    return { problem: `'${segment}' has a character that cannot appear in a canonical request path (allowed: letters, digits and -._~!$&'()+,=:@)` }
  }
  if (index === 0 && VERSION_LIKE.test(segment)) {
    return { problem: `rules never name the API version ('${segment}'); it is split off requests before matching` }
  }
  return segment
}
