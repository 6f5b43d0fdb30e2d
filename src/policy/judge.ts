/**
 * The whole judgement of a request: method and path (decide.ts), then, for
 * endpoints that can reach the host, the request's query or body against
 * the `containers` rules of each team that allowed the path, then the mode.
 *
 * Semantics:
 * - A request is allowed iff some team of the caller's identity allows its
 *   method and path AND that team's `containers` rules allow what it asks
 *   of the host. Teams are tried in order; a team with `containers:
 *   unrestricted` needs no body, so its requests stream unread.
 * - Dry-run: a denial is forwarded anyway (outcome `would-deny`) iff every
 *   team of the matched identity is in audit mode, or, for a certificate
 *   matching no identity (or an identity with no teams), iff the policy's
 *   top-level mode is audit. One enforcing team is enough to enforce.
 * - Never relaxed by audit mode: a body that cannot be judged (not JSON,
 *   ambiguous, too large, wrong media type). Non-canonical targets and TLS
 *   refusals are decided before this module and never relaxed either.
 *
 * Two phases, so the proxy reads a body only when one is needed:
 * {@link judgeRequest} returns either a final verdict or a pending body
 * judgement, which {@link judgeBody} (or {@link bodyTooLarge}) completes.
 */
import { refusal, type Refusal } from '../shared/errors.js'
import { findJudgedEndpoint, checkJsonContentType, type JudgedEndpoint } from './body/endpoints.js'
import type { HostFact } from './body/facts.js'
import { FieldFault } from './body/fields.js'
import { parseJson, type BodyFault } from './body/json.js'
import { auditChoice, type AuditChoice, type AuditLevel } from './audit-level.js'
import type { CompiledIdentity, Policy } from './compiled.js'
import { firstViolation } from './containers.js'
import { evaluatePath, noIdentity, pathDenial, type Allowing } from './decide.js'
import type { CanonicalTarget, IdentityMatch, Principal, RuleRef } from './types.js'

/** What is known of a request before its body: who, method, canonical target, Content-Type values. */
export interface RequestFacts {
  readonly principal: Principal
  readonly method: string
  readonly target: CanonicalTarget
  readonly contentTypes: readonly string[]
}

/**
 * A final judgement. `outcome` is what happens: `allow` and `would-deny`
 * are forwarded, `deny` is refused with `refusal`. For `would-deny`,
 * `refusal` is what enforce mode would have answered. `rule` is the rule
 * that decided (an allow rule, a deny rule, a `containers` setting) or null
 * for default deny and input problems; `team` is the allowing team.
 */
export interface Verdict {
  readonly outcome: 'allow' | 'deny' | 'would-deny'
  readonly identity: IdentityMatch | null
  readonly team: string | null
  readonly rule: RuleRef | null
  readonly refusal: Refusal | null
  /** The audit level the policy sets for this request (audit-level.ts), or null: the gateway's default applies. */
  readonly audit: AuditChoice | null
}

/** A verdict before its audit level is attached. */
type Ruling = Omit<Verdict, 'audit'>

/** A judgement that needs the request body; opaque outside this module. */
export interface PendingBody {
  readonly endpoint: JudgedEndpoint & { readonly reads: 'body' }
  readonly contentTypes: readonly string[]
  readonly identity: IdentityMatch | null
  readonly candidates: readonly Allowing[]
  /** When no team allowed the path but audit mode forwards anyway: that verdict, returned once the body parses. */
  readonly otherwise: Verdict | null
  readonly dryRun: boolean
  readonly audit: AuditChoice | null
}

/** Either final, or waiting for the body. */
export type Judgement =
  | { readonly kind: 'final'; readonly verdict: Verdict }
  | { readonly kind: 'body'; readonly pending: PendingBody }

/**
 * Judges everything that can be judged without the body. Pure; never throws.
 * `defaultAuditLevel` is the gateway's `audit.level`: when the request's
 * level is `request`, the body of a judged endpoint is read even for an
 * unrestricted team, so it can be recorded (and must then be readable).
 */
export function judgeRequest (policy: Policy, request: RequestFacts, defaultAuditLevel: AuditLevel = 'metadata'): Judgement {
  const { principal, method, target } = request
  const path = evaluatePath(policy, principal, method, target)
  const dryRun = isDryRun(policy, path.identity)
  const audit = auditChoice(path.identity, path)
  const endpoint = findJudgedEndpoint(method, target.segments)
  const identity = path.identity?.match ?? null
  const final = (ruling: Ruling): Judgement => ({ kind: 'final', verdict: { ...ruling, audit } })
  const pending = (candidates: readonly Allowing[], otherwise: Verdict | null, body: JudgedEndpoint & { reads: 'body' }): Judgement =>
    ({ kind: 'body', pending: { endpoint: body, contentTypes: request.contentTypes, identity, candidates, otherwise, dryRun, audit } })
  if (path.identity === null || path.allowing.length === 0) {
    const denied = path.identity === null ? noIdentity(principal) : pathDenial(path, method, target)
    const verdict = refused(identity, denied.rule, denied.refusal, dryRun)
    // A forwarded body must still be one dockgate could read.
    if (dryRun && endpoint?.reads === 'body') return pending([], { ...verdict, audit }, endpoint)
    return final(verdict)
  }
  const free = endpoint === null ? path.allowing[0] : path.allowing.find((a) => a.team.containers.unrestricted)
  if (free !== undefined && endpoint?.reads === 'body' && (audit?.level ?? defaultAuditLevel) === 'request') return pending([free], null, endpoint)
  if (free !== undefined || endpoint === null) return final(allowed(identity, free ?? (path.allowing[0] as Allowing)))
  if (endpoint.reads === 'body') return pending(path.allowing, null, endpoint)
  try {
    return final(judgeFacts(identity, path.allowing, endpoint.fromRequest(target, request.contentTypes), dryRun))
  } catch (err) {
    return final(faultVerdict(identity, endpoint, faultOf(err)))
  }
}

/** Completes a pending judgement with the whole body, exactly the bytes that will be forwarded. Pure; never throws. */
export function judgeBody (pending: PendingBody, body: Uint8Array): Verdict {
  let facts: HostFact[]
  try {
    checkJsonContentType(pending.contentTypes)
    const parsed = parseJson(body)
    if (!parsed.ok) throw new FieldFault(parsed.fault)
    facts = pending.endpoint.fromBody(parsed.value)
  } catch (err) {
    return { ...faultVerdict(pending.identity, pending.endpoint, faultOf(err)), audit: pending.audit }
  }
  return pending.otherwise ?? { ...judgeFacts(pending.identity, pending.candidates, facts, pending.dryRun), audit: pending.audit }
}

/** The verdict for a body larger than `limit` bytes: refused unread (413), whatever the mode. */
export function bodyTooLarge (pending: PendingBody, limit: number): Verdict {
  const message = `${pending.endpoint.name}: the request body is larger than ${limit} bytes (limits.bodyBytes), so it cannot be judged`
  return { ...refused(pending.identity, null, refusal('DG_BODY_TOO_LARGE', message), false), audit: pending.audit }
}

/** The first candidate team whose rules allow every fact decides; else the first team's first violation refuses. */
function judgeFacts (identity: IdentityMatch | null, candidates: readonly Allowing[], facts: readonly HostFact[], dryRun: boolean): Ruling {
  let first: { team: string; phrase: string; hint: string; ref: RuleRef } | null = null
  for (const candidate of candidates) {
    const violation = firstViolation(candidate.team.containers, facts)
    if (violation === null) return allowed(identity, candidate)
    first ??= { team: candidate.team.name, phrase: violation.fact.phrase, hint: violation.hint, ref: violation.ref }
  }
  if (first === null) throw new Error('judgeFacts needs at least one candidate team')
  return refused(identity, first.ref, refusal('DG_BODY_DENIED', `${first.team} may not ${first.phrase}${first.hint}`), dryRun)
}

function isDryRun (policy: Policy, identity: CompiledIdentity | null): boolean {
  if (identity === null || identity.teams.length === 0) return policy.mode === 'audit'
  return identity.teams.every((team) => team.mode === 'audit')
}

function faultOf (err: unknown): BodyFault {
  if (err instanceof FieldFault) return err.fault
  throw err
}

const FAULT_CODES = { invalid: 'DG_BODY_INVALID', ambiguous: 'DG_BODY_AMBIGUOUS', 'media-type': 'DG_BODY_MEDIA_TYPE' } as const

function faultVerdict (identity: IdentityMatch | null, endpoint: JudgedEndpoint, fault: BodyFault): Ruling {
  return refused(identity, null, refusal(FAULT_CODES[fault.kind], `${endpoint.name}: ${fault.message}`), false)
}

function allowed (identity: IdentityMatch | null, by: Allowing): Ruling {
  return { outcome: 'allow', identity, team: by.team.name, rule: by.rule, refusal: null }
}

function refused (identity: IdentityMatch | null, rule: RuleRef | null, denial: Refusal, dryRun: boolean): Ruling {
  return { outcome: dryRun ? 'would-deny' : 'deny', identity, team: null, rule, refusal: denial }
}
