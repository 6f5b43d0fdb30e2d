/**
 * The three kinds of exchange admit.ts hands the proxy, each writing its
 * own audit records: refused (the record is written before the answer),
 * forwarded (allow or would-deny: recorded when it ends, and also when a
 * long-lived one starts), and pending (the body is judged first; a refusal
 * is recorded before it is answered).
 */
import { performance } from 'node:perf_hooks'
import { bodyTooLarge, judgeBody, readJsonBody, type AuditLevel, type IdentityMatch, type PendingBody, type Verdict } from '../policy/index.js'
import type { Exchange, ExchangeOutcome } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { AuditRecord } from '../audit/record.js'
import { createsObject, withCreatedId } from '../audit/object-ref.js'
import { redactBody } from '../audit/redact.js'
import type { CertificateIdentity } from '../tls/identity.js'
import type { Refusal } from '../shared/errors.js'
import { auditIdentity, ruleOf, type RequestBase } from './records.js'


/** What every exchange of one request shares. */
export interface Judged {
  readonly audit: AuditLog
  readonly requestId: string
  readonly upstreamPath: string
  readonly started: number
  readonly base: RequestBase
  readonly identity: CertificateIdentity
  readonly policyFile: string
  /** The gateway's `audit.level`; the policy's level for the request wins when it sets one. */
  readonly defaultLevel: AuditLevel
}

/** An exchange for a final verdict: refused now (and recorded), or forwarded. */
export function finalExchange (judged: Judged, verdict: Verdict): Exchange {
  if (verdict.outcome === 'deny') {
    writeRefused(judged, verdict, undefined)
    return refusedExchange(judged.requestId, verdict.refusal as Refusal)
  }
  return forwardedExchange(judged, () => verdict, null, verdict.identity, () => undefined)
}

/**
 * An exchange whose body is judged before anything is forwarded. If the
 * exchange ends before that (the client left mid-body, bad framing), the
 * record says nothing was forwarded. At level `request` the judged body is
 * recorded, redacted.
 */
export function pendingExchange (judged: Judged, pending: PendingBody, limit: number): Exchange {
  let verdict: Verdict | null = null
  let refused = false
  let requestObject: unknown
  const exchange = forwardedExchange(judged, () => verdict, {
    limit,
    judge: (body) => {
      verdict = body === null ? bodyTooLarge(pending, limit) : judgeBody(pending, body)
      if (body !== null && levelOf(judged, verdict) === 'request') requestObject = recordedBody(body)
      if (verdict.outcome !== 'deny') return null
      refused = true
      writeRefused(judged, verdict, requestObject)
      return verdict.refusal
    }
  }, pending.identity, () => requestObject)
  return { ...exchange, end: (outcome) => { if (!refused) exchange.end(outcome) } }
}

/** A refused exchange: its record was written before the answer, so `end` has nothing to add. */
export function refusedExchange (requestId: string, denial: Refusal): Exchange {
  return { requestId, refusal: denial, upstreamPath: '', bodyJudge: null, started () {}, end () {} }
}

function forwardedExchange (judged: Judged, verdictOf: () => Verdict | null, bodyJudge: Exchange['bodyJudge'], identity: IdentityMatch | null, bodyOf: () => unknown): Exchange {
  const { audit, started } = judged
  let startedAt: { at: number; status: number } | null = null
  const recordOf = (): Omit<AuditRecord, 'stage'> => {
    const verdict = verdictOf()
    if (verdict === null) {
      return { ...common(judged, identity, judged.defaultLevel), decision: 'deny', rule: null, error: 'the request ended before its body was judged; nothing was forwarded' }
    }
    const body = bodyOf()
    return {
      ...common(judged, verdict.identity, levelOf(judged, verdict)),
      decision: verdict.outcome,
      rule: ruleOf(verdict.rule),
      ...wouldDeny(verdict),
      ...(body === undefined ? {} : { requestObject: body })
    }
  }
  return {
    requestId: judged.requestId,
    refusal: null,
    upstreamPath: judged.upstreamPath,
    bodyJudge,
    wantsCreatedId: createsObject(judged.base.request.method, judged.base.request.path),
    started (status) {
      startedAt = { at: performance.now(), status }
      audit.write({ ...recordOf(), stage: 'RequestReceived', status, durationMs: elapsed(started) })
    },
    end (outcome: ExchangeOutcome) {
      audit.write({
        ...recordOf(),
        stage: 'ResponseComplete',
        status: outcome.status,
        upstreamStatus: outcome.upstreamStatus,
        bytesIn: outcome.bytesIn,
        bytesOut: outcome.bytesOut,
        durationMs: elapsed(started),
        ...(startedAt?.status === 101 ? { sessionMs: elapsed(startedAt.at) } : {}),
        aborted: outcome.aborted,
        ...(outcome.error === null ? {} : { error: outcome.error, code: 'DG_UPSTREAM_UNAVAILABLE' }),
        // Links the request that made an object to every later one naming its Id.
        ...(outcome.createdId === undefined || outcome.createdId === null ? {} : { objectRef: withCreatedId(judged.base.objectRef ?? null, outcome.createdId) })
      })
    }
  }
}

function writeRefused (judged: Judged, verdict: Verdict, requestObject: unknown): void {
  const denial = verdict.refusal as Refusal
  judged.audit.write({
    ...common(judged, verdict.identity, levelOf(judged, verdict)),
    stage: 'Refused',
    decision: 'deny',
    code: denial.code,
    reason: denial.message,
    rule: ruleOf(verdict.rule),
    status: denial.status,
    durationMs: elapsed(judged.started),
    ...(requestObject === undefined ? {} : { requestObject })
  })
}

function common (judged: Judged, match: IdentityMatch | null, level: AuditLevel): Omit<AuditRecord, 'stage'> {
  return { ...judged.base, identity: auditIdentity(judged.identity, match, judged.policyFile), level }
}

/** The level a request is recorded at: the policy's when it sets one, else the gateway's default. */
function levelOf (judged: Judged, verdict: Verdict): AuditLevel {
  return verdict.audit?.level ?? judged.defaultLevel
}

// The body as the judge read it, secrets redacted; null when it is not JSON
// (it was then refused as such, and the code says why).
function recordedBody (body: Buffer): unknown {
  const parsed = readJsonBody(body)
  return parsed.ok ? redactBody(parsed.value) : null
}

function wouldDeny (verdict: Verdict): Pick<AuditRecord, 'code' | 'reason'> {
  if (verdict.outcome !== 'would-deny' || verdict.refusal === null) return {}
  return { code: verdict.refusal.code, reason: verdict.refusal.message }
}

/** Milliseconds since `since`, rounded to microseconds. */
export function elapsed (since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000
}
