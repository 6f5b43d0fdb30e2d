/**
 * Checks a compiled policy for mistakes that parse fine but cannot be what
 * the author meant. Errors stop `policy check` and `serve`; warnings are
 * printed by `policy check` and logged by `serve`.
 *
 * Errors (DG_POLICY_UNREACHABLE):
 * - an allow entry every rule of which is covered by one deny rule of its
 *   team (it can never allow anything) or by an earlier allow entry (it can
 *   never be the deciding rule: a duplicate or a narrower repeat);
 * - a deny entry covered by an earlier deny entry;
 * - an identity entry that an earlier entry shadows (the earlier one
 *   matches every certificate this one does; the first match wins).
 * Warnings: a deny rule that removes nothing its team allows (deny never
 * affects other teams); a deny rule that only covers hijacked endpoints
 * (the docker CLI cannot show its reason); a team no identity uses; an
 * identity entry that mixes ownership teams with teams without ownership
 * (its certificates are then not isolated at all: see ownership.ts).
 *
 * Coverage is decided exactly (pattern-algebra.ts); a missed case only
 * means a missed warning, never a false error.
 */
import type { Diagnostic } from '../shared/diagnostics.js'
import type { ErrorCode } from '../shared/errors.js'
import type { Locator } from '../shared/yaml-source.js'
import type { CompiledIdentity, CompiledTeam, Policy } from './compiled.js'
import { globMatches, type Glob } from './identity.js'
import { covers, overlaps } from './pattern-algebra.js'
import { compileRule, type CompiledRule } from './rules.js'

/** What lint found, split by severity. */
export interface LintResult {
  readonly errors: Diagnostic[]
  readonly warnings: Diagnostic[]
}

/** One allow or deny list entry as written: a rule, or a `@group` with its expansion. */
interface Entry {
  readonly rules: readonly CompiledRule[]
  readonly label: string
  readonly line: number
  readonly col: number
}

/** Endpoints whose refusal the docker CLI cannot print, with advice for each. */
const HIJACK_ONLY: ReadonlyArray<readonly [string, string]> = [
  ['POST /exec/*/start', 'deny POST /containers/{id}/exec (exec create) instead'],
  ['POST /containers/*/attach', 'the refusal still stands; users just see no reason'],
  ['GET /containers/*/attach/ws', 'the refusal still stands; users just see no reason'],
  ['POST /session', 'the refusal still stands; users just see no reason'],
  ['POST /grpc', 'the refusal still stands; users just see no reason']
]
const HIJACK_SHAPES = HIJACK_ONLY.map(([text, advice]) => ({ rule: mustCompile(text), text, advice }))

/** Lints `policy`; `source` locates identity entries and team names. Pure. */
export function lintPolicy (policy: Policy, source: Pick<Locator, 'file' | 'keyAt' | 'valueAt'>): LintResult {
  const result: LintResult = { errors: [], warnings: [] }
  const add = (list: Diagnostic[], code: ErrorCode, line: number, col: number, message: string, severity?: 'warning'): void => {
    list.push({ file: source.file, line, col, code, message, ...(severity === undefined ? {} : { severity }) })
  }
  for (const team of policy.compiledTeams) lintTeam(team, result, add)
  lintIdentities(policy.identities, source, result, add)
  lintOwnership(policy.identities, source, result, add)
  const used = new Set(policy.identities.flatMap((identity) => identity.match.teams))
  for (const team of policy.teams) {
    if (used.has(team)) continue
    const { line, col } = source.keyAt(['teams', team])
    add(result.warnings, 'DG_POLICY_TEAM_UNUSED', line, col, `team '${team}' is given to no identity, so its rules never apply`, 'warning')
  }
  return result
}

type Add = (list: Diagnostic[], code: ErrorCode, line: number, col: number, message: string, severity?: 'warning') => void

function lintTeam (team: CompiledTeam, result: LintResult, add: Add): void {
  const allows = entries(team.allow)
  const denies = entries(team.deny)
  allows.forEach((entry, i) => {
    const reason = unreachableAllow(entry, denies, allows.slice(0, i))
    if (reason !== null) add(result.errors, 'DG_POLICY_UNREACHABLE', entry.line, entry.col, `allow ${entry.label} in team '${team.name}' ${reason}`)
  })
  denies.forEach((entry, i) => {
    const earlier = firstCoverAll(entry, denies.slice(0, i))
    if (earlier !== null) {
      add(result.errors, 'DG_POLICY_UNREACHABLE', entry.line, entry.col, `deny ${entry.label} in team '${team.name}' can never decide: ${describe(earlier)} already denies all of it`)
      return
    }
    lintDenyWarnings(team, entry, result, add)
  })
}

function lintDenyWarnings (team: CompiledTeam, entry: Entry, result: LintResult, add: Add): void {
  if (!entry.rules.some((deny) => team.allow.some((allow) => overlaps(deny, allow)))) {
    add(result.warnings, 'DG_POLICY_DENY_UNUSED', entry.line, entry.col,
      `deny ${entry.label} removes nothing: team '${team.name}' allows none of it (a deny only narrows its own team's allow rules; it never affects other teams)`, 'warning')
  }
  // Only an entry that refuses nothing but hijacked requests leaves users without a reason.
  const shapes = entry.rules.map((rule) => HIJACK_SHAPES.find((shape) => covers(shape.rule, rule)))
  const first = shapes[0]
  if (first === undefined || shapes.some((shape) => shape === undefined)) return
  add(result.warnings, 'DG_POLICY_HIJACK_DENY', entry.line, entry.col,
    `deny ${entry.label} refuses a hijacked (upgraded) request: the docker CLI prints only "unable to upgrade to tcp, received 403", not the reason; ${first.advice}`, 'warning')
}

/** Why an allow entry can never decide, or null. */
function unreachableAllow (entry: Entry, denies: readonly Entry[], earlier: readonly Entry[]): string | null {
  const denyRules = denies.flatMap((e) => e.rules)
  const earlierRules = earlier.flatMap((e) => e.rules)
  let firstDeny: CompiledRule | null = null
  let firstAllow: CompiledRule | null = null
  for (const rule of entry.rules) {
    const deny = denyRules.find((d) => covers(d, rule)) ?? null
    const allow = deny === null ? earlierRules.find((a) => covers(a, rule)) ?? null : null
    if (deny === null && allow === null) return null
    firstDeny ??= deny
    firstAllow ??= allow
  }
  if (firstAllow === null && firstDeny !== null) return `can never allow anything: ${describe(firstDeny)} denies all of it`
  if (firstDeny === null && firstAllow !== null) return `can never decide: ${describe(firstAllow)} already allows all of it`
  return `can never decide: earlier allow rules and this team's deny rules cover all of it (for example ${describe(firstDeny ?? firstAllow)})`
}

function firstCoverAll (entry: Entry, earlier: readonly Entry[]): CompiledRule | null {
  const rules = earlier.flatMap((e) => e.rules)
  let first: CompiledRule | null = null
  for (const rule of entry.rules) {
    const cover = rules.find((r) => covers(r, rule))
    if (cover === undefined) return null
    first ??= cover
  }
  return first
}

function describe (rule: CompiledRule | null): string {
  if (rule === null) return 'another rule'
  const from = rule.ref.group === undefined ? '' : ` (from ${rule.ref.group})`
  return `"${rule.ref.text}"${from} at line ${rule.ref.line}`
}

/** Groups compiled rules back into the entries they were written as (a group shares its entry's position). */
function entries (rules: readonly CompiledRule[]): Entry[] {
  const out: Entry[] = []
  for (const rule of rules) {
    const last = out[out.length - 1]
    if (last !== undefined && last.line === rule.ref.line && last.col === rule.ref.col) {
      out[out.length - 1] = { ...last, rules: [...last.rules, rule] }
      continue
    }
    const label = rule.ref.group === undefined ? `rule "${rule.ref.text}"` : `group ${rule.ref.group}`
    out.push({ rules: [rule], label, line: rule.ref.line, col: rule.ref.col })
  }
  return out
}

function lintIdentities (identities: readonly CompiledIdentity[], source: Pick<Locator, 'valueAt'>, result: LintResult, add: Add): void {
  identities.forEach((identity, j) => {
    if (identity.matchers.length === 0) return
    const shadow = identities.slice(0, j).find((earlier) => earlier.matchers.length > 0 && identityCovers(earlier, identity))
    if (shadow === undefined) return
    const { line, col } = source.valueAt(['identities', identity.match.index])
    add(result.errors, 'DG_POLICY_UNREACHABLE', line, col,
      `identity entry never matches: the entry at line ${shadow.match.line} matches every certificate this one does, and the first match wins (put the narrower entry first)`)
  })
}

function lintOwnership (identities: readonly CompiledIdentity[], source: Pick<Locator, 'valueAt'>, result: LintResult, add: Add): void {
  for (const identity of identities) {
    const isolated = identity.teams.filter((t) => t.ownership).map((t) => t.name)
    const open = identity.teams.filter((t) => !t.ownership).map((t) => t.name)
    if (isolated.length === 0 || open.length === 0) continue
    const { line, col } = source.valueAt(['identities', identity.match.index, 'teams'])
    add(result.warnings, 'DG_POLICY_OWNERSHIP_MIXED', line, col,
      `identity entry gives ownership team${isolated.length === 1 ? '' : 's'} ${isolated.join(', ')} together with ${open.join(', ')}, which ${open.length === 1 ? 'has' : 'have'} no ownership: ` +
      'its certificates see and touch every team\'s objects and create unlabelled ones (give the entry only ownership teams, or only admin teams)', 'warning')
  }
}

/** True iff every certificate `inner` matches is matched by `outer`. */
function identityCovers (outer: CompiledIdentity, inner: CompiledIdentity): boolean {
  return outer.matchers.every((o) => inner.matchers.some((i) => i.key === o.key && globCovers(o.glob, i.glob)))
}

/** A sound (not complete) test that every string `inner` matches, `outer` matches. */
function globCovers (outer: Glob, inner: Glob): boolean {
  if (outer.parts.join('*') === inner.parts.join('*')) return true
  if (inner.parts.length === 1) return globMatches(outer, inner.parts[0] ?? '')
  if (outer.parts.length !== 2) return false
  const [prefix = '', suffix = ''] = outer.parts
  return (inner.parts[0] ?? '').startsWith(prefix) && (inner.parts[inner.parts.length - 1] ?? '').endsWith(suffix)
}


function mustCompile (text: string): CompiledRule {
  const rule = compileRule({ file: '<built-in>', line: 0, col: 0, text, team: '', effect: 'deny' })
  if (typeof rule === 'string') throw new Error(`built-in rule "${text}": ${rule}`)
  return rule
}
