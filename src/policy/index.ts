/**
 * The policy core's public surface. Pure: nothing here (or below) imports
 * fastify, node:net, node:tls, node:fs or pino. Callers read the policy text
 * themselves and hand it to loadPolicy; the TLS layer builds Principals.
 */
export type { CanonicalTarget, Decision, IdentityMatch, PolicyMode, Principal, RuleRef } from './types.js'
export type { CompiledTeam, Policy } from './compiled.js'
export { canonicalize, encodePath, nonCanonicalRefusal, renderTarget, type CanonicalResult } from './canonical.js'
export { checkPolicy, loadPolicy, POLICY_VERSION, type PolicyCheck, type PolicySource } from './load.js'
export { decide, matchIdentity } from './decide.js'
export { escapeForDisplay } from './display.js'
export { HTTP_METHODS, parseRule, type RuleParse } from './rules.js'
export { MATCH_FIELDS, type MatchKey } from './identity.js'
export { bodyTooLarge, judgeBody, judgeRequest, resolveImages, type ImageResolution, type Judgement, type PendingBody, type PendingTeam, type RequestFacts, type Verdict } from './judge.js'
export { imageAllowed, nameAllowed, type ImageRules, type Quota, type ResourceCaps } from './images.js'
export { quotaRefusal, type QuotaClaim, type QuotaUse } from './quota.js'
export { GROUPS, type EndpointGroup } from './groups.js'
export { explain, type Explanation } from './explain.js'
export { principalFromSubject, socketPrincipal, type SubjectAltNames } from './subject.js'
export { formatRuleRef } from './display.js'
export { AUDIT_LEVELS, recordsAtLeast, type AuditChoice, type AuditLevel } from './audit-level.js'
export { parseJson as readJsonBody, type JsonValue } from './body/json.js'
export { OWNER_LABEL, ownershipScope, type OwnershipScope } from './ownership.js'
export { checkOwnerLabel, checkOwnerLabelBytes, labelCreateBody, type LabelChecked, type LabelledBody, type LabelledCreate } from './body/owner-label.js'
export { containerCreateReferences, networkConnectReferences, type BodyReference, type MissingReference, type ReferenceKind } from './body/references.js'
export { imageDrift, judgeExisting, quotaDrifts, type Drift, type DriftJudgement, type DriftKind, type QuotaEntry } from './drift.js'
