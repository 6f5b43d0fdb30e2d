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
import type { CompiledIdentity, Policy } from './compiled.js'
import { escapeForDisplay } from './display.js'
import { principalMatches } from './identity.js'
import { methodBit, ruleMatches, type CompiledRule } from './rules.js'
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
  const identity = findIdentity(policy, principal)
  if (identity === undefined) return noIdentity(principal)
  const bit = methodBit(method)
  let denyingRule: RuleRef | null = null
  for (const team of identity.teams) {
    const deny = firstMatch(team.deny, bit, target.segments)
    if (deny !== null) {
      denyingRule ??= deny.ref
      continue
    }
    const allow = firstMatch(team.allow, bit, target.segments)
    if (allow !== null) return { allowed: true, identity: identity.match, team: team.name, rule: allow.ref }
  }
  return {
    allowed: false,
    identity: identity.match,
    rule: denyingRule,
    refusal: refusal('DG_DENIED', `${identity.who} may not ${escapeForDisplay(method)} ${target.path}`)
  }
}

/**
 * The refusal for a certificate that matches no identity. The subject comes
 * from the certificate, so control characters are escaped before it is
 * shown to anyone.
 */
function noIdentity (principal: Principal): Decision {
  const subject = principal.subject === '' ? '(empty subject)' : escapeForDisplay(principal.subject)
  return {
    allowed: false,
    identity: null,
    rule: null,
    refusal: refusal('DG_NO_IDENTITY', `certificate ${subject} matches no identity in the policy`)
  }
}

function findIdentity (policy: Policy, principal: Principal): CompiledIdentity | undefined {
  for (const identity of policy.identities) {
    if (principalMatches(identity.matchers, principal)) return identity
  }
  return undefined
}

function firstMatch (rules: readonly CompiledRule[], bit: number, segments: readonly string[]): CompiledRule | null {
  for (const rule of rules) {
    if (ruleMatches(rule, bit, segments)) return rule
  }
  return null
}
