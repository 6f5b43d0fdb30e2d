/**
 * Set relations between rule patterns, for `policy check`: does one rule
 * cover another (every request the second matches, the first matches too),
 * and can two rules match a common request?
 *
 * A path pattern is a sequence of tokens: a literal segment, "one segment"
 * (`*` or `{name}`), and at most one "any number of segments" (`**`).
 * Both questions are answered exactly for this class by a small dynamic
 * program over token positions, so `policy check` never calls a rule
 * unreachable when it is not.
 */
import type { PathPattern, SegmentMatcher } from './rules.js'

/** One token of a path pattern: a literal, ONE (any one segment) or MANY (`**`). */
type Token = string | typeof ONE | typeof MANY
const ONE: unique symbol = Symbol('one segment')
const MANY: unique symbol = Symbol('any segments')

/** A method mask and a path pattern, as compiled rules carry them. */
export interface RuleShape extends PathPattern {
  readonly methods: number
}

/** True iff every request `inner` matches is matched by `outer` (methods and path). */
export function covers (outer: RuleShape, inner: RuleShape): boolean {
  if ((outer.methods & inner.methods) !== inner.methods) return false
  return pathCovers(tokens(outer), tokens(inner))
}

/** True iff some request is matched by both `a` and `b`. */
export function overlaps (a: RuleShape, b: RuleShape): boolean {
  if ((a.methods & b.methods) === 0) return false
  return pathsIntersect(tokens(a), tokens(b))
}

function tokens (pattern: PathPattern): Token[] {
  const asToken = (m: SegmentMatcher): Token => m ?? ONE
  // A `**` between segments stands for at least one (see rules.ts).
  const many: Token[] = !pattern.openEnded ? [] : pattern.tail.length > 0 ? [ONE, MANY] : [MANY]
  return [...pattern.segments.map(asToken), ...many, ...pattern.tail.map(asToken)]
}

/**
 * Outer covers inner iff outer matches inner read as a word where inner's ONE
 * is a segment outer cannot name and inner's MANY is any run of such
 * segments (including none). So a literal matches only the same literal, ONE
 * matches a literal or ONE, and only MANY can absorb inner's MANY.
 */
function pathCovers (outer: readonly Token[], inner: readonly Token[]): boolean {
  const memo = new Map<number, boolean>()
  const go = (i: number, j: number): boolean => {
    const key = i * (inner.length + 1) + j
    const known = memo.get(key)
    if (known !== undefined) return known
    let result: boolean
    if (i === outer.length) result = j === inner.length
    else if (outer[i] === MANY) result = go(i + 1, j) || (j < inner.length && go(i, j + 1))
    else if (j === inner.length || inner[j] === MANY) result = false
    else result = singleCovers(outer[i] as string | typeof ONE, inner[j] as string | typeof ONE) && go(i + 1, j + 1)
    memo.set(key, result)
    return result
  }
  return go(0, 0)
}

function singleCovers (outer: string | typeof ONE, inner: string | typeof ONE): boolean {
  return outer === ONE || outer === inner
}

/** Two patterns intersect iff both can consume the same segment sequence. */
function pathsIntersect (a: readonly Token[], b: readonly Token[]): boolean {
  const memo = new Map<number, boolean>()
  const go = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j
    const known = memo.get(key)
    if (known !== undefined) return known
    let result: boolean
    if (i === a.length && j === b.length) result = true
    else if (i < a.length && a[i] === MANY && go(i + 1, j)) result = true
    else if (j < b.length && b[j] === MANY && go(i, j + 1)) result = true
    else if (i === a.length || j === b.length) result = false
    else result = stepTogether(a, b, i, j, go)
    memo.set(key, result)
    return result
  }
  return go(0, 0)
}

// Both sides consume one concrete segment; a MANY may stay in place to consume more.
function stepTogether (a: readonly Token[], b: readonly Token[], i: number, j: number, go: (i: number, j: number) => boolean): boolean {
  const x = a[i] as Token
  const y = b[j] as Token
  if (typeof x === 'string' && typeof y === 'string' && x !== y) return false
  const nextI = x === MANY ? [i, i + 1] : [i + 1]
  const nextJ = y === MANY ? [j, j + 1] : [j + 1]
  return nextI.some((ni) => nextJ.some((nj) => go(ni, nj)))
}
