/**
 * The one {@link Exchange} the pipeline builds for each request: refused
 * (its record was written before the answer), or forwarded, with or
 * without a body phase. A forwarded exchange writes its RequestReceived
 * record when a long-lived answer starts and its ResponseComplete record
 * when it ends; it gives back its stream slot and leaves the in-flight set
 * exactly once.
 */
import { performance } from 'node:perf_hooks'
import { bodyTooLarge, judgeBody, readJsonBody, type AuditLevel, type Judgement, type Verdict } from '../policy/index.js'
import type { BodyJudge, BodyVerdict, Exchange, ExchangeOutcome } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { AuditIdentity } from '../audit/record.js'
import { createsObject } from '../audit/object-ref.js'
import { redactBody } from '../audit/redact.js'
import type { Refusal } from '../shared/errors.js'
import type { InFlight, InFlightEntry } from './in-flight.js'
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
  readonly bodyJudge: BodyJudge | null
  readonly wantsCreatedId: boolean
  /** Null until the body phase judged the body (always set for a final judgement). */
  private verdict: Verdict | null
  /** The identity match the judgement was made for (kept for a body that never gets judged). */
  private readonly match: Verdict['identity']
  private requestObject: unknown = undefined
  /** The body phase refused and recorded it: `end` has nothing to add. */
  private refusedByBody = false
  private sessionStart: number | null = null
  private ended = false

  constructor (private readonly request: Admitted, judgement: Judgement, private readonly parts: ForwardParts) {
    this.requestId = request.requestId
    this.upstreamPath = parts.upstreamPath
    this.wantsCreatedId = createsObject(request.base.request.method, request.base.request.path)
    this.verdict = judgement.kind === 'final' ? judgement.verdict : null
    this.match = judgement.kind === 'final' ? judgement.verdict.identity : judgement.pending.identity
    this.bodyJudge = judgement.kind === 'final' ? null : { limit: parts.bodyLimit, judge: (body) => this.judgeBody(judgement.pending, body) }
  }

  keepAlive (): boolean {
    return !this.parts.inFlight.isDraining
  }

  started (status: number): void {
    this.parts.entry.opened = true
    if (status === 101) this.sessionStart = performance.now()
    if (this.verdict === null) return
    this.parts.audit.write(receivedRecord(this.facts(this.verdict), decisionOf(this.verdict), status, this.request.started))
  }

  end (outcome: ExchangeOutcome): void {
    if (this.ended) return
    this.ended = true
    this.parts.releaseSlot?.()
    try {
      if (this.refusedByBody) return
      const record = this.verdict === null
        ? unjudgedBodyRecord(this.unjudgedFacts(), outcome, this.request.started)
        : completeRecord(this.facts(this.verdict), decisionOf(this.verdict), outcome, this.request.started, this.sessionStart)
      this.parts.audit.write(record)
    } finally {
      this.parts.inFlight.leave(this.parts.entry)
    }
  }

  /**
   * The body phase: the policy's answer first (403, 413; recorded before
   * it is answered), then the daemon's state, so a refused body is refused
   * whether or not dockerd answers. At level `request` the judged body is
   * recorded, redacted.
   */
  private judgeBody (pending: Extract<Judgement, { kind: 'body' }>['pending'], body: Buffer | null): BodyVerdict {
    const verdict = body === null ? bodyTooLarge(pending, this.parts.bodyLimit) : judgeBody(pending, body)
    this.verdict = verdict
    if (body !== null && this.levelOf(verdict) === 'request') this.requestObject = recordedBody(body)
    if (verdict.outcome === 'deny') {
      this.refusedByBody = true
      this.parts.audit.write(refusedRecord(this.facts(verdict), verdict.refusal as Refusal, this.request.started))
      return { refusal: verdict.refusal as Refusal }
    }
    // A body too large is always refused by the policy core; this keeps the type honest.
    if (body === null) return { refusal: verdict.refusal as Refusal }
    const down = this.parts.daemonDown()
    return down === null ? { forward: body } : { refusal: down }
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
}

function decisionOf (verdict: Verdict): ForwardedDecision {
  const decision = verdict.outcome === 'would-deny' ? 'would-deny' : 'allow'
  return { decision, wouldDeny: verdict.outcome === 'would-deny' ? verdict.refusal : null }
}

// The body as the judge read it, secrets redacted; null when it is not JSON
// (it was then refused as such, and the code says why).
function recordedBody (body: Buffer): unknown {
  const parsed = readJsonBody(body)
  return parsed.ok ? redactBody(parsed.value) : null
}
