/**
 * Audit levels set in a policy, per team (`audit: request`) or per rule
 * (`- { rule: "POST /containers/create", audit: request }`), and the level
 * they give one request. Pure.
 *
 * Semantics: for each team of the caller's identity, the level of the rule
 * that decided the request's method and path for that team (its first
 * matching deny rule, else its first matching allow rule) if that rule sets
 * one, else the team's own level. Across teams the most detailed level
 * wins. A policy that sets nothing for a request leaves it to the gateway's
 * `audit.level` (metadata unless set). So the most specific setting wins
 * within a team, and one team asking for bodies gets them.
 */
import type { CompiledIdentity } from './compiled.js'
import type { PathEvaluation } from './decide.js'
import type { RuleRef } from './types.js'

/** The levels a policy may set, least detailed first. */
export const AUDIT_LEVELS = ['metadata', 'request', 'session'] as const

/**
 * `metadata` records who did what; `request` adds the judged request body,
 * redacted; `session` adds, to what `request` records, a recording of each
 * hijacked session (exec, attach, `run -i`).
 */
export type AuditLevel = typeof AUDIT_LEVELS[number]

/** The level the policy gives a request, and where it is set (for `policy explain`). */
export interface AuditChoice {
  readonly level: AuditLevel
  /** `team ci (policy.yaml:12)` or `rule policy.yaml:14 "POST /containers/create"`. */
  readonly from: string
}

/** A team's own `audit:` setting and where it is written. */
export interface TeamAuditLevel {
  readonly level: AuditLevel
  readonly file: string
  readonly line: number
}

/** The level names as a message lists them: `metadata, request or session`. */
export const AUDIT_LEVEL_NAMES = `${AUDIT_LEVELS.slice(0, -1).join(', ')} or ${AUDIT_LEVELS[AUDIT_LEVELS.length - 1]}`

/** True iff `value` is a level name. */
export function isAuditLevel (value: unknown): value is AuditLevel {
  return (AUDIT_LEVELS as readonly unknown[]).includes(value)
}

/** The level the policy gives a request judged as `path` for `identity`'s teams, or null when it sets none. */
export function auditChoice (identity: CompiledIdentity | null, path: PathEvaluation): AuditChoice | null {
  let best: AuditChoice | null = null
  for (const team of identity?.teams ?? []) {
    const rule = path.denying.find((d) => d.team === team)?.rule ?? path.allowing.find((a) => a.team === team)?.rule
    const choice = rule?.audit !== undefined
      ? { level: rule.audit, from: ruleText(rule) }
      : team.audit === null ? null : { level: team.audit.level, from: `team ${team.name} (${team.audit.file}:${team.audit.line})` }
    if (choice !== null && (best === null || rank(choice.level) > rank(best.level))) best = choice
  }
  return best
}

function rank (level: AuditLevel): number {
  return AUDIT_LEVELS.indexOf(level)
}

/** True iff `level` records at least what `floor` records (`session` records everything `request` does). */
export function recordsAtLeast (level: AuditLevel, floor: AuditLevel): boolean {
  return rank(level) >= rank(floor)
}

function ruleText (rule: RuleRef): string {
  return `rule ${rule.file}:${rule.line} "${rule.text}"${rule.group === undefined ? '' : ` (from ${rule.group})`} of team ${rule.team}`
}
