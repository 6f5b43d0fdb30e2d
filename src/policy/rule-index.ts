/**
 * A team's rules indexed by their first two path segments, so a decision
 * looks only at the rules that could match the request: with 1,000 rules
 * naming different objects it checks a handful instead of all of them.
 *
 * Invariant: `firstMatch(indexOf(rules), bit, segments)` is exactly the
 * first rule of `rules`, in the order written, that matches (what a scan
 * from the start finds). A rule is filed under a literal segment only when
 * that segment must equal the request's for it to match (pathMatches), so
 * the rules left out can never match; rules with a wildcard there stay in
 * the lists always looked at. Among the candidates the lowest position wins.
 */
import { ruleMatches, type CompiledRule } from './rules.js'

interface Entry {
  /** Position in the team's list as written. */
  readonly order: number
  readonly rule: CompiledRule
}

interface Bucket {
  /** Rules whose first segment is this literal and whose second is not a literal. */
  readonly any: Entry[]
  /** By the literal second segment. */
  readonly bySecond: Map<string, Entry[]>
}

/** The index of one rule list; see the module comment. */
export interface RuleIndex {
  /** Rules whose first segment is not a literal (`*`, `**`, or none): always looked at. */
  readonly any: readonly Entry[]
  readonly byFirst: ReadonlyMap<string, Bucket>
}

const indexes = new WeakMap<readonly CompiledRule[], RuleIndex>()

/**
 * The index of `rules`, built on the first call for that (frozen) list and
 * kept with it: the policy loader builds every team's at load, so no
 * request pays for it.
 */
export function indexOf (rules: readonly CompiledRule[]): RuleIndex {
  const known = indexes.get(rules)
  if (known !== undefined) return known
  const any: Entry[] = []
  const byFirst = new Map<string, Bucket>()
  rules.forEach((rule, order) => {
    const [first, second] = rule.segments
    if (first === undefined || first === null) {
      any.push({ order, rule })
      return
    }
    let bucket = byFirst.get(first)
    if (bucket === undefined) byFirst.set(first, bucket = { any: [], bySecond: new Map() })
    if (second === undefined || second === null) {
      bucket.any.push({ order, rule })
      return
    }
    const list = bucket.bySecond.get(second)
    if (list === undefined) bucket.bySecond.set(second, [{ order, rule }])
    else list.push({ order, rule })
  })
  const index: RuleIndex = { any, byFirst }
  indexes.set(rules, index)
  return index
}

/** The first rule as written that matches `bit` (methodBit) and the canonical `segments`, or null. */
export function firstMatch (index: RuleIndex, bit: number, segments: readonly string[]): CompiledRule | null {
  let best = scan(index.any, bit, segments, null)
  const first = segments[0]
  const bucket = first === undefined ? undefined : index.byFirst.get(first)
  if (bucket !== undefined) {
    best = scan(bucket.any, bit, segments, best)
    const second = segments[1]
    const list = second === undefined ? undefined : bucket.bySecond.get(second)
    if (list !== undefined) best = scan(list, bit, segments, best)
  }
  return best?.rule ?? null
}

/** The first entry of `entries` (in order) that matches and comes before `best`; else `best`. */
function scan (entries: readonly Entry[], bit: number, segments: readonly string[], best: Entry | null): Entry | null {
  for (const entry of entries) {
    if (best !== null && entry.order > best.order) return best
    if (ruleMatches(entry.rule, bit, segments)) return entry
  }
  return best
}
