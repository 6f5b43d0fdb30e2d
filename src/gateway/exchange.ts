/**
 * The one {@link Exchange} the pipeline builds for each request: refused
 * (its record was written before the answer), or forwarded, with or
 * without a body phase. A forwarded exchange writes its RequestReceived
 * record when a long-lived answer starts and its ResponseComplete record
 * when it ends; it gives back its stream slot and leaves the in-flight set
 * exactly once.
 */
import { performance } from 'node:perf_hooks'
import type { Transform } from 'node:stream'
import { bodyTooLarge, judgeBody, readJsonBody, recordsAtLeast, type AuditLevel, type Judgement, type Verdict } from '../policy/index.js'
import type { BodyJudge, BodyVerdict, Exchange, ExchangeOutcome, SessionTap } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { AuditIdentity } from '../audit/record.js'
import { createsObject } from '../audit/object-ref.js'
import { redactBody } from '../audit/redact.js'
import { refusal, type Refusal } from '../shared/errors.js'
import type { IsolationPlan } from './isolation.js'
import type { QuotaDecision } from './quota.js'
import type { InFlight, InFlightEntry } from './in-flight.js'
import { isTerminalSession, openRecordingTap, type RecordingTap, type SessionSettings } from './session-recording.js'
import { completeRecord, receivedRecord, refusedRecord, unjudgedBodyRecord, type ForwardedDecision, type RequestBase, type RequestFacts } from './records.js'

/** One request on its way through the pipeline: what its records share, and where it is tracked. */
export interface Admitted {
  readonly requestId: string
  /** performance.now() when the request arrived. */
  readonly started: number
  readonly base: RequestBase
  /** The identity block for a verdict's identity match (or, with null, the connection's own). */
  readonly identity: (match: Verdict['identity'] | null) => AuditIdentity
  /** The gateway's `audit.level`; the policy's level for the request wins when it sets one. */
  readonly defaultLevel: AuditLevel
}

/** What a forwarded exchange needs besides its request. */
export interface ForwardParts {
  readonly audit: AuditLog
  /** Where the exchange is tracked until it ends. */
  readonly inFlight: InFlight
  readonly entry: InFlightEntry
  /** The path to forward, exactly as judged (version prefix kept). */
  readonly upstreamPath: string
  /** Gives the request's stream slot back; null when it holds none. */
  readonly releaseSlot: (() => void) | null
  /** `limits.bodyBytes`: the most of a body read for judging. */
  readonly bodyLimit: number
  /** The 502 for an allowed body while the daemon does not answer /_ping; null while it does. */
  readonly daemonDown: () => Refusal | null
  /** The query to forward instead of the client's, when the gateway rewrote it (never empty). */
  readonly upstreamQuery?: string
  /** Judges the image references a verdict could not judge by name, on the daemon (images.ts). */
  readonly resolveImages: (verdict: Verdict) => Promise<Verdict>
  /** The quota decision for a create or memory update of an ownership team with `quota:` (quota.ts); absent or null: none applies. */
  readonly quota?: (verdict: Verdict) => Promise<QuotaDecision | null>
  /** Where and how sessions at level `session` are recorded; absent: none are. */
  readonly sessions?: SessionSettings
  /** Team isolation's plan for this request; `dryRun`: what it refuses is recorded as would-deny and forwarded. */
  readonly isolation?: { readonly plan: IsolationPlan; readonly dryRun: boolean; readonly wouldDeny: Refusal | null }
}

/** A refused exchange: its record was written before the answer, so `end` only leaves the in-flight set. */
export function refusedExchange (requestId: string, refused: Refusal, tracked: { inFlight: InFlight; entry: InFlightEntry } | null): Exchange {
  return {
    requestId,
    refusal: refused,
    upstreamPath: '',
    bodyJudge: null,
    keepAlive: () => tracked?.inFlight.isDraining !== true,
    started () {},
    end () { if (tracked !== null) tracked.inFlight.leave(tracked.entry) }
  }
}

/** A forwarded exchange; see the module comment. */
export class ForwardedExchange implements Exchange {
  readonly refusal = null
  readonly requestId: string
  readonly upstreamPath: string
  readonly upstreamQuery?: string
  readonly bodyJudge: BodyJudge | null
  readonly wantsCreatedId: boolean
  readonly responseFilter?: () => Transform
  /** Null until the body phase judged the body (always set for a final judgement). */
  private verdict: Verdict | null
  /** The identity match the judgement was made for (kept for a body that never gets judged). */
  private readonly match: Verdict['identity']
  private requestObject: unknown = undefined
  /** What isolation would have refused in a dry run (forwarded anyway); null when nothing. */
  private isolationWouldDeny: Refusal | null
  /** The body phase refused and recorded it: `end` has nothing to add. */
  private refusedByBody = false
  private sessionStart: number | null = null
  private ended = false
  /** Ends the team's quota turn (quota.ts): when this exchange ends, so its container is counted by the next. */
  private releaseQuota: (() => void) | null = null
  /** The session's recording, at level `session`, and what takes it off the open recordings. */
  private recording: RecordingTap | null = null
  private unlist: (() => void) | null = null

  constructor (private readonly request: Admitted, private readonly judgement: Judgement, private readonly parts: ForwardParts) {
    this.requestId = request.requestId
    this.upstreamPath = parts.upstreamPath
    if (parts.upstreamQuery !== undefined) this.upstreamQuery = parts.upstreamQuery
    this.wantsCreatedId = createsObject(request.base.request.method, request.base.request.path)
    this.verdict = judgement.kind === 'final' ? judgement.verdict : null
    this.match = judgement.kind === 'final' ? judgement.verdict.identity : judgement.pending.identity
    this.isolationWouldDeny = parts.isolation?.wouldDeny ?? null
    const plan = parts.isolation?.plan
    if (plan?.response !== undefined) this.responseFilter = plan.response
    this.bodyJudge = judgement.kind === 'final' && plan?.body === undefined
      ? null
      : { limit: parts.bodyLimit, judge: async (body) => await this.judgeBody(body), tooLarge: () => this.refuseTooLarge() }
  }

  keepAlive (): boolean {
    return !this.parts.inFlight.isDraining
  }

  started (status: number): void {
    this.parts.entry.opened = true
    if (status === 101) this.sessionStart = performance.now()
    if (this.verdict === null) return
    this.parts.audit.write(receivedRecord(this.facts(this.verdict), this.decisionOf(this.verdict), status, this.request.started))
  }

  /**
   * At level `session`, an exec or attach session is recorded: its file is
   * created now, before anything is forwarded, and a session whose file
   * cannot be created is refused (and recorded as refused) rather than run
   * unrecorded.
   */
  openSession (body: Buffer): SessionTap | Refusal | null {
    const { sessions } = this.parts
    const verdict = this.verdict
    if (sessions === undefined || verdict === null || !recordsAtLeast(this.levelOf(verdict), 'session') || !isTerminalSession(this.request.base)) return null
    try {
      this.recording = openRecordingTap(sessions, this.request.base, this.request.identity(verdict.identity), body)
      this.unlist = sessions.open.add(this.request.base, this.recording)
      return this.recording
    } catch (err) {
      const refused = refusal('DG_SESSION_UNRECORDED', `this session must be recorded (audit level session) and ${(err as Error).message}; it was not started`)
      return this.refuseBody(verdict, refused, verdict.rule).refusal
    }
  }

  end (outcome: ExchangeOutcome): void {
    if (this.ended) return
    this.ended = true
    this.parts.releaseSlot?.()
    this.unlist?.()
    this.parts.sessions?.open.ended(this.request.base, outcome.status)
    try {
      if (this.refusedByBody) return
      if (outcome.createdId !== undefined && outcome.createdId !== null) this.parts.isolation?.plan.created?.(outcome.createdId)
      const record = this.verdict === null
        ? unjudgedBodyRecord(this.unjudgedFacts(), outcome, this.request.started)
        : completeRecord(this.facts(this.verdict), this.decisionOf(this.verdict), outcome, this.request.started, this.sessionStart, this.recording?.summary() ?? null)
      this.parts.audit.write(record)
    } finally {
      this.releaseQuota?.()
      this.parts.inFlight.leave(this.parts.entry)
    }
  }

  /**
   * The body phase: the policy's answer first (403, 413; recorded before
   * it is answered), then isolation's (labels, references), then the
   * daemon's state, so a refused body is refused whether or not dockerd
   * answers. At level `request` the judged body is recorded, redacted.
   */
  private async judgeBody (body: Buffer): Promise<BodyVerdict> {
    try {
      return await this.judgeBodyOrThrow(body)
    } catch (err) {
      // The daemon could not be asked (an image, a quota count): refused, never forwarded unjudged.
      return { refusal: refusal('DG_UPSTREAM_UNAVAILABLE', `the request body could not be judged: ${err instanceof Error ? err.message : String(err)}`) }
    }
  }

  private async judgeBodyOrThrow (body: Buffer): Promise<BodyVerdict> {
    if (this.judgement.kind === 'body') {
      let verdict = judgeBody(this.judgement.pending, body)
      if (verdict.images !== undefined) verdict = await this.parts.resolveImages(verdict)
      this.verdict = verdict
      if (recordsAtLeast(this.levelOf(verdict), 'request')) this.requestObject = recordedBody(body)
      if (verdict.outcome === 'deny') return this.refuseBody(verdict, verdict.refusal as Refusal, verdict.rule)
    }
    const decided = this.verdict as Verdict
    const quota = await this.parts.quota?.(decided) ?? null
    if (quota !== null && 'refusal' in quota) {
      if (this.parts.isolation?.dryRun !== true) return this.refuseBody(decided, quota.refusal, decided.rule)
      this.isolationWouldDeny ??= quota.refusal
    } else if (quota !== null) {
      this.releaseQuota = quota.release
    }
    let forward = body
    const isolated = await this.parts.isolation?.plan.body?.(body)
    if (isolated !== undefined && 'refusal' in isolated) {
      if (this.parts.isolation?.dryRun !== true) return this.refuseBody(this.verdict as Verdict, isolated.refusal, null)
      this.isolationWouldDeny ??= isolated.refusal
    } else if (isolated !== undefined) {
      forward = isolated.forward
    }
    const down = this.parts.daemonDown()
    return down === null ? { forward } : { refusal: down }
  }

  /** A body larger than limits.bodyBytes: refused, since it cannot be judged. */
  private refuseTooLarge (): Refusal {
    const verdict = this.judgement.kind === 'body'
      ? bodyTooLarge(this.judgement.pending, this.parts.bodyLimit)
      : this.judgement.verdict
    const refused = verdict.outcome === 'deny'
      ? verdict.refusal as Refusal
      : refusal('DG_BODY_TOO_LARGE', `the request body is larger than ${this.parts.bodyLimit} bytes (limits.bodyBytes), so its owner label and the objects it names cannot be checked`)
    this.verdict = verdict
    return this.refuseBody(verdict, refused, verdict.outcome === 'deny' ? verdict.rule : null).refusal
  }

  private refuseBody (verdict: Verdict, refused: Refusal, rule: Verdict['rule']): { refusal: Refusal } {
    this.refusedByBody = true
    this.verdict = verdict
    this.parts.audit.write(refusedRecord({ ...this.facts(verdict), rule }, refused, this.request.started))
    return { refusal: refused }
  }

  private facts (verdict: Verdict): RequestFacts {
    return {
      base: this.request.base,
      identity: this.request.identity(verdict.identity),
      level: this.levelOf(verdict),
      rule: verdict.rule,
      ...(this.requestObject === undefined ? {} : { requestObject: this.requestObject })
    }
  }

  private unjudgedFacts (): RequestFacts {
    return { base: this.request.base, identity: this.request.identity(this.match), level: this.request.defaultLevel, rule: null }
  }

  /** The level a request is recorded at: the policy's when it sets one, else the gateway's default. */
  private levelOf (verdict: Verdict): AuditLevel {
    return verdict.audit?.level ?? this.request.defaultLevel
  }

  private decisionOf (verdict: Verdict): ForwardedDecision {
    if (verdict.outcome === 'would-deny') return { decision: 'would-deny', wouldDeny: verdict.refusal }
    if (this.isolationWouldDeny !== null) return { decision: 'would-deny', wouldDeny: this.isolationWouldDeny }
    return { decision: 'allow', wouldDeny: null }
  }
}

// The body as the judge read it, secrets redacted; null when it is not JSON
// (it was then refused as such, and the code says why).
function recordedBody (body: Buffer): unknown {
  const parsed = readJsonBody(body)
  return parsed.ok ? redactBody(parsed.value) : null
}
