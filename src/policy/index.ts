/**
 * The policy core's public surface. Pure: nothing here (or below) imports
 * fastify, node:net, node:tls, node:fs or pino. Callers read the policy text
 * themselves and hand it to loadPolicy; the TLS layer builds Principals.
 */
export type { CanonicalTarget, Decision, IdentityMatch, Principal, RuleRef } from './types.js'
export type { Policy } from './compiled.js'
export { canonicalize, nonCanonicalRefusal, renderTarget, type CanonicalResult } from './canonical.js'
export { loadPolicy, POLICY_VERSION, type PolicySource } from './load.js'
export { decide, matchIdentity } from './decide.js'
export { escapeForDisplay } from './display.js'
export { HTTP_METHODS, parseRule, type RuleParse } from './rules.js'
export { MATCH_FIELDS, type MatchKey } from './identity.js'
