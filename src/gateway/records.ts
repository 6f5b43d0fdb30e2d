/**
 * Every audit record the gateway writes is built here, so the record
 * schema (src/audit/schema.ts) is filled in one way everywhere: the
 * records of one request (Refused; RequestReceived and ResponseComplete of
 * a forwarded one), and those of connections (TLSRejected, a connection
 * refused by a limit, one closed by dockgate, bytes that are not HTTP) and
 * of what the rate limits counted instead of writing (Suppressed).
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { AuditLevel, CanonicalResult, RuleRef } from '../policy/index.js'
import { objectRefOf, withCreatedId } from '../audit/object-ref.js'
import { redactTarget } from '../audit/redact.js'
import type { AuditClient, AuditIdentity, AuditRecord, AuditRequest, AuditRule } from '../audit/record.js'
import type { SuppressedSummary } from '../audit/rate-limit.js'
import type { ExchangeOutcome } from '../proxy/exchange.js'
import type { RecordingSummary } from '../audit/session-recorder.js'
import type { TlsRejection } from '../tls/gate.js'
import type { ErrorCode, Refusal } from '../shared/errors.js'
import { auditIdentity, certificateFacts, type ConnectionInfo } from './connection.js'

/** The fields every record of one request shares. */
export type RequestBase = Pick<AuditRecord, 'schema' | 'auditID' | 'receivedAt' | 'client' | 'objectRef'> & { readonly request: AuditRequest }

/** What every record of this request shares, as received and, when canonical, as judged. */
export function requestBase (auditID: string, connection: ConnectionInfo, req: IncomingMessage, canonical: CanonicalResult): RequestBase {
  const method = req.method ?? ''
  // Secrets in the query (a build remote's password, build args) never reach the trail.
  const target = redactTarget(req.url ?? '')
  const recordedQuery = target.includes('?') ? target.slice(target.indexOf('?') + 1) : ''
  const upgrade = req.headers.upgrade ?? null
  const request: AuditRequest = canonical.ok
    ? { method, target, path: canonical.target.path, apiVersion: canonical.target.apiVersion, upgrade }
    : { method, target, path: null, apiVersion: null, upgrade }
  return {
    schema: 1,
    auditID,
    receivedAt: new Date().toISOString(),
    client: clientOf(connection),
    request,
    // The names as the daemon reads them (an escaped space decoded).
    objectRef: canonical.ok ? objectRefOf(`/${canonical.target.segments.join('/')}`, recordedQuery) : null
  }
}

/** Each compiled rule's recorded form, made once: a rule belongs to one loaded policy and never changes. */
const recordedRules = new WeakMap<RuleRef, AuditRule>()

/** The deciding rule as `file:line` plus its text and team, or null for default deny. Frozen: records share it. */
export function ruleOf (rule: RuleRef | null): AuditRule | null {
  if (rule === null) return null
  let recorded = recordedRules.get(rule)
  if (recorded === undefined) {
    const base = { ref: `${rule.file}:${rule.line}`, text: rule.text, team: rule.team }
    recorded = Object.freeze(rule.group === undefined ? base : { ...base, group: rule.group })
    recordedRules.set(rule, recorded)
  }
  return recorded
}

/** What a request's records say about who asked and how it was decided. */
export interface RequestFacts {
  readonly base: RequestBase
  readonly identity: AuditIdentity
  readonly level: AuditLevel
  readonly rule: RuleRef | null
  /** The judged body as recorded at level request (redacted), when there is one. */
  readonly requestObject?: unknown
}

/**
 * The one shape of a refused request, whatever refused it (a limit,
 * shutdown, the audit trail, a non-canonical target, the policy, the
 * daemon's state). Written before the refusal is answered.
 */
export function refusedRecord (facts: RequestFacts, refused: Refusal, started: number): AuditRecord {
  return {
    ...facts.base,
    stage: 'Refused',
    identity: facts.identity,
    level: facts.level,
    decision: 'deny',
    code: refused.code,
    reason: refused.message,
    rule: ruleOf(facts.rule),
    status: refused.status,
    durationMs: elapsed(started),
    ...(facts.requestObject === undefined ? {} : { requestObject: facts.requestObject })
  }
}

/** How a forwarded request was decided: allow, or would-deny in audit mode (with the refusal it was spared). */
export interface ForwardedDecision {
  readonly decision: 'allow' | 'would-deny'
  readonly wouldDeny: Refusal | null
}

/** The record of a forwarded request whose long-lived answer starts now (a hijack's 101, a stream's head). */
export function receivedRecord (facts: RequestFacts, decided: ForwardedDecision, status: number, started: number): AuditRecord {
  return { ...forwarded(facts, decided), stage: 'RequestReceived', status, durationMs: elapsed(started) }
}

/**
 * The record of a forwarded request that ended, however it ended. A
 * session's length is given when it switched protocols at `sessionStart`;
 * a created object's Id links this request to every later one naming it;
 * a recorded session's recording is named with its size and SHA-256, so
 * this record's hash protects the file too.
 */
export function completeRecord (facts: RequestFacts, decided: ForwardedDecision, outcome: ExchangeOutcome, started: number, sessionStart: number | null, recording: RecordingSummary | null = null): AuditRecord {
  return {
    ...forwarded(facts, decided),
    ...ended(outcome, started),
    ...(sessionStart === null ? {} : { sessionMs: elapsed(sessionStart) }),
    ...(recording === null ? {} : { recording }),
    ...(outcome.error === null ? {} : { error: outcome.error, code: 'DG_UPSTREAM_UNAVAILABLE' }),
    ...(outcome.createdId === undefined || outcome.createdId === null ? {} : { objectRef: withCreatedId(facts.base.objectRef ?? null, outcome.createdId, facts.base.request.path) })
  }
}

/** The record of a request that ended before its body was judged: nothing was forwarded. */
export function unjudgedBodyRecord (facts: RequestFacts, outcome: ExchangeOutcome, started: number): AuditRecord {
  return {
    ...facts.base,
    identity: facts.identity,
    level: facts.level,
    decision: 'deny',
    rule: null,
    error: 'the request ended before its body was judged; nothing was forwarded',
    ...ended(outcome, started)
  }
}

/** What every ResponseComplete record says of how its exchange ended. */
function ended (outcome: ExchangeOutcome, started: number): Pick<AuditRecord, 'stage' | 'status' | 'upstreamStatus' | 'bytesIn' | 'bytesOut' | 'durationMs' | 'aborted'> {
  return {
    stage: 'ResponseComplete',
    status: outcome.status,
    upstreamStatus: outcome.upstreamStatus,
    bytesIn: outcome.bytesIn,
    bytesOut: outcome.bytesOut,
    durationMs: elapsed(started),
    aborted: outcome.aborted
  }
}

function forwarded (facts: RequestFacts, decided: ForwardedDecision): Omit<AuditRecord, 'stage'> {
  return {
    ...facts.base,
    identity: facts.identity,
    level: facts.level,
    decision: decided.decision,
    rule: ruleOf(facts.rule),
    ...(decided.wouldDeny === null ? {} : { code: decided.wouldDeny.code, reason: decided.wouldDeny.message }),
    ...(facts.requestObject === undefined ? {} : { requestObject: facts.requestObject })
  }
}

/**
 * The record for a client turned away at the TLS layer. The certificate it
 * presented was not accepted, so its facts carry `verified: false`: they
 * may be forged and must never be read as who the client was.
 */
export function tlsRejectedRecord (rejection: TlsRejection, receivedAt: Date): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'TLSRejected',
    receivedAt: receivedAt.toISOString(),
    client: { address: rejection.remoteAddress, port: rejection.remotePort },
    identity: rejection.peer === null ? null : { ...certificateFacts(rejection.peer), entry: null, teams: [], verified: false },
    decision: 'deny',
    code: 'DG_TLS_REJECTED',
    tls: { reason: rejection.reason, detail: rejection.detail }
  }
}

/** The record of a reload that applied or refused something (src/reload/reload-event.ts). */
export function reloadedRecord (event: NonNullable<AuditRecord['reload']>): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'Reloaded',
    reload: { ...event, problems: [...event.problems], config: event.config === null ? null : { ...event.config }, policy: event.policy === null ? null : { ...event.policy } }
  }
}

/** The record summing up what a rate limit counted instead of writing: TLS rejections of one address, or one identity's refusals with one code. */
export function suppressedRecord (summary: SuppressedSummary, owner: { identity: AuditIdentity; client: AuditClient; code: string } | null): AuditRecord {
  const suppressed = {
    kind: owner === null ? 'TLSRejected' as const : 'Refused' as const,
    count: summary.count,
    since: summary.since.toISOString(),
    until: summary.until.toISOString(),
    reasons: { ...summary.reasons }
  }
  const base = { schema: 1 as const, auditID: randomUUID(), stage: 'Suppressed' as const }
  return owner === null
    ? { ...base, client: { address: summary.address }, suppressed }
    : { ...base, client: 'address' in owner.client ? { address: owner.client.address } : owner.client, identity: owner.identity, decision: 'deny', code: owner.code, suppressed }
}

/**
 * The record for a verified connection refused before any request: by a
 * connection limit (`reason`), or because it sent bytes that are not HTTP
 * (`error`). Its identity is filled like any request's, so a query by
 * team finds it too.
 */
export function connectionRefusedRecord (connection: ConnectionInfo, identity: AuditIdentity, refused: Refusal, as: 'reason' | 'error'): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'Refused',
    receivedAt: new Date().toISOString(),
    client: clientOf(connection),
    identity,
    decision: 'deny',
    code: refused.code,
    ...(as === 'reason' ? { reason: refused.message, status: refused.status } : { status: refused.status, error: refused.message })
  }
}

/** Why dockgate closed an open connection itself. */
export type CloseReason = 'revoked' | 'expired' | 'untrusted'

const CLOSED: Readonly<Record<CloseReason, { code: ErrorCode; reason: string; detail: string; error: string }>> = {
  revoked: {
    code: 'DG_CONNECTION_REVOKED', reason: 'revoked', detail: 'CERT_REVOKED',
    error: 'dockgate: the client certificate has been revoked; the connection was closed when the CRL was reloaded'
  },
  expired: {
    code: 'DG_CONNECTION_EXPIRED', reason: 'expired', detail: 'CERT_HAS_EXPIRED',
    error: 'dockgate: the client certificate has expired; the connection was closed at its notAfter'
  },
  // What OpenSSL would answer this certificate at a new handshake.
  untrusted: {
    code: 'DG_CONNECTION_UNTRUSTED', reason: 'unknown-ca', detail: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    error: 'dockgate: the client certificate is not issued by a CA the gateway trusts any more; the connection was closed when tls.ca was reloaded'
  }
}

/**
 * The record for an open connection dockgate closed itself, and why: a
 * reloaded CRL revokes its certificate, the certificate expired while the
 * connection was open, or a reloaded `tls.ca` no longer trusts its issuer.
 * Whatever was in flight on it gets its own (aborted) record as usual;
 * this one says why it ended.
 */
export function closedConnectionRecord (connection: ConnectionInfo, why: CloseReason): AuditRecord {
  const closed = CLOSED[why]
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'ConnectionClosed',
    client: clientOf(connection),
    identity: auditIdentity(connection, null, null),
    decision: 'deny',
    code: closed.code,
    tls: { reason: closed.reason, detail: closed.detail },
    error: closed.error
  }
}

function clientOf (connection: ConnectionInfo): AuditClient {
  return connection.client
}

/** Milliseconds since `since` (a performance.now() reading), rounded to microseconds. */
export function elapsed (since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000
}
