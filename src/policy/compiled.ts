/**
 * The compiled, frozen form of a policy: everything per-request matching
 * needs, resolved at load time (team references are object links, rules are
 * segment matchers, globs are split), plus what `policy explain` shows.
 */
import type { Diagnostic } from '../shared/diagnostics.js'
import type { TeamAuditLevel } from './audit-level.js'
import type { ContainerRules } from './containers.js'
import type { FieldMatcher } from './identity.js'
import type { Quota } from './images.js'
import type { CompiledRule } from './rules.js'
import type { IdentityMatch, PolicyMode, RuleRef } from './types.js'

/**
 * A team with its compiled rules, in the order written (group entries
 * expanded in place), its effective mode (its own, else the policy's), its
 * `containers:` rules (safe defaults when absent) and its effective
 * `ownership` (its own, else `defaults.ownership`, else false).
 */
export interface CompiledTeam {
  readonly name: string
  readonly allow: readonly CompiledRule[]
  readonly deny: readonly CompiledRule[]
  readonly mode: PolicyMode
  readonly containers: ContainerRules
  /** The team's `audit:` level, or null when it sets none. */
  readonly audit: TeamAuditLevel | null
  /** True iff the team's objects are isolated: labelled `dockgate.owner=<name>`, and only its own are visible to it (see ownership.ts). */
  readonly ownership: boolean
  /** The team's `quota:` (only with ownership; the gateway counts and enforces it), or null. */
  readonly quota: Quota | null
}

/** The policy's `defaults:`, each the value a team gets when it does not set the key itself. */
export interface PolicyDefaults {
  readonly ownership: boolean
}

/**
 * One `identities:` entry. `matchers` is never empty (an empty match is a
 * load error); `teams` are the entry's teams in the order written;
 * `match` is the precomputed, frozen result handed to callers.
 */
export interface CompiledIdentity {
  readonly match: IdentityMatch
  readonly matchers: readonly FieldMatcher[]
  readonly teams: readonly CompiledTeam[]
  /** Team names for refusal messages, e.g. `ci, readonly`. */
  readonly who: string
}

/**
 * A loaded policy. Opaque to callers except for the read-only views below;
 * deeply frozen, so it can be shared by concurrent requests and swapped
 * atomically on reload.
 */
export interface Policy {
  /** The file it was loaded from, as given to loadPolicy. */
  readonly file: string
  /** Team names in the order written. */
  readonly teams: readonly string[]
  /** Every rule, teams in order, allow before deny, for `policy explain`. */
  readonly rules: readonly RuleRef[]
  /** Identity entries in order; the first whose matchers all match wins. */
  readonly identities: readonly CompiledIdentity[]
  /** Teams with their compiled rules, in the order written. */
  readonly compiledTeams: readonly CompiledTeam[]
  /** The top-level mode: used for certificates that match no identity, and teams without their own. */
  readonly mode: PolicyMode
  /** `defaults:` as written, with false for what it does not set. */
  readonly defaults: PolicyDefaults
  /** Problems that do not stop the policy from loading (`policy check` prints them). */
  readonly warnings: readonly Diagnostic[]
}

/**
 * Deep-freezes plain data (objects and arrays) and returns it. Descends into
 * already-frozen objects too, since a shallow freeze elsewhere must not leave
 * mutable children; shared references are visited once.
 */
export function deepFreeze<T> (value: T, seen = new WeakSet<object>()): T {
  if (value === null || typeof value !== 'object' || seen.has(value)) return value
  seen.add(value)
  Object.freeze(value)
  for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key], seen)
  return value
}
