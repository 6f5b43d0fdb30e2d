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
 * An `allow` verdict may still carry `images` (image ids and names the
 * daemon may read as id prefixes, which only the daemon can resolve): the
 * gateway inspects each and completes it with {@link resolveImages} before
 * forwarding. An `allow` verdict's `memory` is for the team's quota
 * (quota.ts), which the gateway counts and enforces.
 */
import { refusal, type Refusal } from '../shared/errors.js'
import { findJudgedEndpoint, checkJsonContentType, type JudgedEndpoint } from './body/endpoints.js'
import type { HostFact } from './body/facts.js'
import { FieldFault } from './body/fields.js'
import { parseJson, type BodyFault } from './body/json.js'
import { auditChoice, recordsAtLeast, type AuditChoice, type AuditLevel } from './audit-level.js'
import type { CompiledIdentity, Policy } from './compiled.js'
import { checkFacts } from './containers.js'
import { allowedHint, imageAllowed, nameAllowed, type ImageRules } from './images.js'
import { normalizeImageRef } from '../shared/image-ref.js'
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
  /**
   * Only on `allow`: image references the policy can judge only once the
   * daemon says which image they name (image ids and possible id prefixes).
   * The gateway must inspect each and complete the verdict with
   * {@link resolveImages} before forwarding. Absent when there are none.
   */
  readonly images?: ImageResolution
  /**
   * Only on `allow`, for bodies that carry memory limits (container create,
   * old-API start with a HostConfig, update, service create/update): the
   * memory limit the request sets in bytes, or null for none (on create:
   * no limit at all). Absent when the request does not set or change it.
   * For the gateway's `quota.memory` (see quotaRefusal).
   */
  readonly memory?: number | null
}

/** Image references an allow verdict still depends on (see {@link Verdict.images}). */
export interface ImageResolution {
  /** The references as the request wrote them (`Image`, a tag's source), each to inspect on the daemon (GET /images/{ref}/json). */
  readonly refs: readonly string[]
  /** The teams that allowed everything else, in order: the first whose image rules allow the resolved images decides. */
  readonly teams: readonly PendingTeam[]
  readonly dryRun: boolean
}

/** A team an image resolution can still allow the request for. */
export interface PendingTeam {
  readonly team: string
  /** The allow rule that allowed the method and path. */
  readonly rule: RuleRef
  readonly images: ImageRules
  /** The `containers.images` (or `requireDigest`) setting, for refusals. */
  readonly imagesRule: RuleRef
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
  // A body is read for an unrestricted team too when the gateway needs it: to record it, or for the team's memory quota.
  const needsBody = recordsAtLeast(audit?.level ?? defaultAuditLevel, 'request') || (free?.team.quota?.memory ?? null) !== null
  if (free !== undefined && endpoint?.reads === 'body' && needsBody) return pending([free], null, endpoint)
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

/**
 * The first candidate team whose rules allow every fact decides; else the
 * first team whose rules allow everything but image references only the
 * daemon can resolve (the verdict then carries them, with every such team);
 * else the first team's first violation refuses.
 */
function judgeFacts (identity: IdentityMatch | null, candidates: readonly Allowing[], facts: readonly HostFact[], dryRun: boolean): Ruling {
  const ruling = judgeTeams(identity, candidates, facts, dryRun)
  const memory = facts.find((fact) => fact.rule === 'resources' && fact.resource.setting === 'memory')
  if (ruling.outcome !== 'allow' || memory?.rule !== 'resources' || memory.resource.unknown !== undefined) return ruling
  return { ...ruling, memory: memory.resource.value }
}

function judgeTeams (identity: IdentityMatch | null, candidates: readonly Allowing[], facts: readonly HostFact[], dryRun: boolean): Ruling {
  let first: { ref: RuleRef; denial: Refusal } | null = null
  const pending: Array<{ candidate: Allowing; refs: readonly string[] }> = []
  for (const candidate of candidates) {
    const team = candidate.team.name
    const check = checkFacts(candidate.team.containers, facts, team)
    const violation = check.violation
    if (violation === null && check.unresolved.length === 0) return allowed(identity, candidate)
    if (violation === null) {
      pending.push({ candidate, refs: check.unresolved })
      continue
    }
    first ??= { ref: violation.ref, denial: refusal(violation.code ?? 'DG_BODY_DENIED', violation.message ?? `${team} may not ${violation.fact.phrase}${violation.hint}`) }
  }
  const lead = pending[0]
  if (lead !== undefined) {
    const teams = pending.map(({ candidate }): PendingTeam => {
      const rules = candidate.team.containers
      return { team: candidate.team.name, rule: candidate.rule, images: rules.images, imagesRule: rules.images.patterns !== null ? rules.refs.images : rules.refs.requireDigest }
    })
    return { ...allowed(identity, lead.candidate), images: { refs: lead.refs, teams, dryRun } }
  }
  if (first === null) throw new Error('judgeFacts needs at least one candidate team')
  return refused(identity, first.ref, first.denial, dryRun)
}

/**
 * Completes a verdict that carries {@link Verdict.images}, once the gateway
 * has inspected each reference on the daemon: `resolved` maps each of
 * `verdict.images.refs` to the image's own references (its RepoTags and
 * RepoDigests, as the daemon lists them), or to null when the daemon has no
 * such image. A team allows iff, for every reference, one of the image's
 * references is allowed (imageAllowed) or, for an image the daemon does
 * not have, the text is a name the team allows by name (the daemon answers
 * "No such image", and a pull of that name is judged by name). The first
 * such team decides; if none, the request is refused (DG_IMAGE_DENIED), or
 * would be in dry-run. Pure; verdicts without `images` are returned as is.
 */
export function resolveImages (verdict: Verdict, resolved: ReadonlyMap<string, readonly string[] | null>): Verdict {
  const pending = verdict.images
  if (pending === undefined || verdict.outcome !== 'allow') return verdict
  const rest: Verdict = {
    outcome: verdict.outcome, identity: verdict.identity, team: verdict.team, rule: verdict.rule, refusal: verdict.refusal, audit: verdict.audit,
    ...(verdict.memory === undefined ? {} : { memory: verdict.memory })
  }
  const passes = (rules: ImageRules, text: string): boolean => {
    const references = resolved.get(text) ?? null
    if (references !== null) return imageAllowed(rules, references)
    const ref = normalizeImageRef(text)
    return ref.kind === 'named' && nameAllowed(rules, ref)
  }
  for (const team of pending.teams) {
    if (pending.refs.every((text) => passes(team.images, text))) return { ...rest, team: team.team, rule: team.rule }
  }
  const lead = pending.teams[0]
  if (lead === undefined) throw new Error('an image resolution needs at least one team')
  const text = pending.refs.find((ref) => !passes(lead.images, ref)) ?? ''
  const references = resolved.get(text) ?? null
  const what = references === null
    ? 'the daemon has no such image, so it cannot be judged'
    : references.length === 0 ? 'the image has no name or digest' : `the image is ${references.join(', ')}`
  const denial = refusal('DG_IMAGE_DENIED', `${lead.team} may not use image ${text}: ${what}${allowedHint(lead.images)}`)
  return { ...refused(verdict.identity, lead.imagesRule, denial, pending.dryRun), audit: verdict.audit }
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
