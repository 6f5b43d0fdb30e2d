/**
 * The per-request decision. Default deny; fails closed: anything not
 * explicitly allowed by a team of the caller's identity is refused.
 *
 * Semantics:
 * - Identity: the FIRST identity entry whose every match field matches wins,
 *   even if a later entry would also match.
 * - Within one team, deny beats allow: the team allows a request iff one of
 *   its allow rules matches and none of its deny rules does.
 * - Across teams, roles are additive: an identity with several teams is
 *   allowed iff ANY of its teams allows. A team's deny rules only carve
 *   holes in that team's own allows; they do not veto another team.
 *
 * Cheap by construction: everything was compiled at load, so this is a loop
 * over precompiled matchers plus one result object.
 */
import { refusal } from '../shared/errors.js'
import type { CompiledIdentity, CompiledTeam, Policy } from './compiled.js'
import { escapeForDisplay } from './display.js'
import { principalMatches } from './identity.js'
import { methodBit } from './rules.js'
import { firstMatch, indexOf } from './rule-index.js'
import type { CanonicalTarget, Decision, IdentityMatch, Principal, RuleRef } from './types.js'

/**
 * The identity entry `principal` belongs to (the first that matches), or
 * null. The returned object is the policy's own frozen value.
 */
export function matchIdentity (policy: Policy, principal: Principal): IdentityMatch | null {
  return findIdentity(policy, principal)?.match ?? null
}

/**
 * Judges one request. `method` is the request method as received (methods
 * outside the Docker API's seven never match any rule, not even `*`);
 * `target` must come from canonicalize(). When denied, `rule` is the first
 * matching deny rule (team order, then rule order), or null when nothing
 * matched (default deny) or no identity matched.
 */
export function decide (policy: Policy, principal: Principal, method: string, target: CanonicalTarget): Decision {
  const path = evaluatePath(policy, principal, method, target)
  if (path.identity === null) return noIdentity(principal)
  const first = path.allowing[0]
  if (first !== undefined) return { allowed: true, identity: path.identity.match, team: first.team.name, rule: first.rule }
  return pathDenial(path, method, target)
}

/** One team with the rule that decided a request's method and path for it (allowing or denying). */
export interface Allowing {
  readonly team: CompiledTeam
  readonly rule: RuleRef
}

/**
 * Method-and-path judgement for every team of the caller's identity:
 * `allowing` lists, in team order, each team that allows the request (its
 * first matching allow rule, and no deny rule of its own matched);
 * `denyingRule` is the first deny rule that matched in any team.
 */
export interface PathEvaluation {
  readonly identity: CompiledIdentity | null
  readonly allowing: readonly Allowing[]
  readonly denyingRule: RuleRef | null
  /** Every team whose deny rules matched, with its first matching deny rule. */
  readonly denying: readonly Allowing[]
}

/** Evaluates method and path for all teams at once; {@link decide} and the body phase build on it. */
export function evaluatePath (policy: Policy, principal: Principal, method: string, target: CanonicalTarget): PathEvaluation {
  const identity = findIdentity(policy, principal) ?? null
  if (identity === null) return { identity, allowing: [], denyingRule: null, denying: [] }
  const bit = methodBit(method)
  const denying: Allowing[] = []
  const allowing: Allowing[] = []
  for (const team of identity.teams) {
    const deny = firstMatch(indexOf(team.deny), bit, target.segments)
    if (deny !== null) {
      denying.push({ team, rule: deny.ref })
      continue
    }
    const allow = firstMatch(indexOf(team.allow), bit, target.segments)
    if (allow !== null) allowing.push({ team, rule: allow.ref })
  }
  return { identity, allowing, denyingRule: denying[0]?.rule ?? null, denying }
}

/** The refusal for a request no team allows by method and path (identity known). */
export function pathDenial (path: PathEvaluation, method: string, target: CanonicalTarget): Decision & { allowed: false } {
  return {
    allowed: false,
    identity: path.identity?.match ?? null,
    rule: path.denyingRule,
    refusal: refusal('DG_DENIED', `${path.identity?.who ?? 'nobody'} may not ${escapeForDisplay(method)} ${target.path}`)
  }
}

/**
 * The refusal for a certificate that matches no identity. The subject comes
 * from the certificate, so control characters are escaped before it is
 * shown to anyone.
 */
export function noIdentity (principal: Principal): Decision & { allowed: false } {
  const socket = principal.socket?.[0]
  const subject = principal.subject === '' ? '(empty subject)' : escapeForDisplay(principal.subject)
  const message = socket === undefined
    ? `certificate ${subject} matches no identity in the policy`
    : `socket identity ${escapeForDisplay(socket)} matches no identity in the policy (add one with match: { socket: ${escapeForDisplay(socket)} })`
  return { allowed: false, identity: null, rule: null, refusal: refusal('DG_NO_IDENTITY', message) }
}

function findIdentity (policy: Policy, principal: Principal): CompiledIdentity | undefined {
  for (const identity of policy.identities) {
    if (principalMatches(identity.matchers, principal)) return identity
  }
  return undefined
}

