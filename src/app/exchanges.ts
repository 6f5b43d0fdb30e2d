/**
 * The three kinds of exchange admit.ts hands the proxy, each writing its
 * own audit records: refused (the record is written before the answer),
 * forwarded (allow or would-deny, recorded when it ends), and pending (the
 * body is judged first; a refusal is recorded before it is answered).
 */
import { performance } from 'node:perf_hooks'
import { bodyTooLarge, judgeBody, type IdentityMatch, type PendingBody, type Verdict } from '../policy/index.js'
import type { Exchange, ExchangeOutcome } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { AuditRecord, AuditRequest } from '../audit/record.js'
import type { CertificateIdentity } from '../tls/identity.js'
import type { Refusal } from '../shared/errors.js'
import { auditIdentity, ruleOf } from './records.js'

/** What every exchange of one request shares. */
export interface Judged {
  readonly audit: AuditLog
  readonly requestId: string
  readonly upstreamPath: string
  readonly started: number
  readonly base: Pick<AuditRecord, 'schema' | 'auditID' | 'client'> & { readonly request: AuditRequest }
  readonly identity: CertificateIdentity
}

/** An exchange for a final verdict: refused now (and recorded), or forwarded. */
export function finalExchange (judged: Judged, verdict: Verdict): Exchange {
  if (verdict.outcome === 'deny') {
    writeRefused(judged, verdict)
    return refusedExchange(judged.requestId, verdict.refusal as Refusal)
  }
  return forwardedExchange(judged, () => verdict, null, verdict.identity)
}

/**
 * An exchange whose body is judged before anything is forwarded. If the
 * exchange ends before that (the client left mid-body, bad framing), the
 * record says nothing was forwarded.
 */
export function pendingExchange (judged: Judged, pending: PendingBody, limit: number): Exchange {
  let verdict: Verdict | null = null
  let refused = false
  const exchange = forwardedExchange(judged, () => verdict, {
    limit,
    judge: (body) => {
      verdict = body === null ? bodyTooLarge(pending, limit) : judgeBody(pending, body)
      if (verdict.outcome !== 'deny') return null
      refused = true
      writeRefused(judged, verdict)
      return verdict.refusal
    }
  }, pending.identity)
  return { ...exchange, end: (outcome) => { if (!refused) exchange.end(outcome) } }
}

/** A refused exchange: its record was written before the answer, so `end` has nothing to add. */
export function refusedExchange (requestId: string, denial: Refusal): Exchange {
  return { requestId, refusal: denial, upstreamPath: '', bodyJudge: null, sessionOpened () {}, end () {} }
}

function forwardedExchange (judged: Judged, verdictOf: () => Verdict | null, bodyJudge: Exchange['bodyJudge'], identity: IdentityMatch | null): Exchange {
  const { audit, started } = judged
  let sessionStarted: number | null = null
  const recordOf = (): Omit<AuditRecord, 'stage'> => {
    const verdict = verdictOf()
    if (verdict === null) {
      return { ...common(judged, identity), decision: 'deny', rule: null, error: 'the request ended before its body was judged; nothing was forwarded' }
    }
    return { ...common(judged, verdict.identity), decision: verdict.outcome, rule: ruleOf(verdict.rule), ...wouldDeny(verdict) }
  }
  return {
    requestId: judged.requestId,
    refusal: null,
    upstreamPath: judged.upstreamPath,
    bodyJudge,
    sessionOpened () {
      sessionStarted = performance.now()
      audit.write({ ...recordOf(), stage: 'RequestReceived', status: 101, durationMs: elapsed(started) })
    },
    end (outcome: ExchangeOutcome) {
      const record = recordOf()
      audit.write({
        ...record,
        stage: 'ResponseComplete',
        status: outcome.status,
        bytesIn: outcome.bytesIn,
        bytesOut: outcome.bytesOut,
        durationMs: elapsed(started),
        ...(sessionStarted === null ? {} : { sessionMs: elapsed(sessionStarted) }),
        aborted: outcome.aborted,
        ...(outcome.error === null ? {} : { error: outcome.error, code: 'DG_UPSTREAM_UNAVAILABLE' })
      })
    }
  }
}

function writeRefused (judged: Judged, verdict: Verdict): void {
  const denial = verdict.refusal as Refusal
  judged.audit.write({
    ...common(judged, verdict.identity),
    stage: 'Refused',
    decision: 'deny',
    code: denial.code,
    reason: denial.message,
    rule: ruleOf(verdict.rule),
    status: denial.status,
    durationMs: elapsed(judged.started)
  })
}

function common (judged: Judged, match: IdentityMatch | null): Pick<AuditRecord, 'schema' | 'auditID' | 'client' | 'request' | 'identity'> {
  return { ...judged.base, identity: auditIdentity(judged.identity, match) }
}

function wouldDeny (verdict: Verdict): Pick<AuditRecord, 'code' | 'reason'> {
  if (verdict.outcome !== 'would-deny' || verdict.refusal === null) return {}
  return { code: verdict.refusal.code, reason: verdict.refusal.message }
}

/** Milliseconds since `since`, rounded to microseconds. */
export function elapsed (since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000
}
