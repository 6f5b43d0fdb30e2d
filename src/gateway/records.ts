/**
 * Builders for the parts of audit records that come from other modules'
 * types, so the record schema is filled in one way everywhere.
 */
import { randomUUID } from 'node:crypto'
import type { IdentityMatch, RuleRef } from '../policy/types.js'
import type { IncomingMessage } from 'node:http'
import { matchIdentity, type CanonicalResult, type Policy } from '../policy/index.js'
import { objectRefOf } from '../audit/object-ref.js'
import type { AuditIdentity, AuditRecord, AuditRequest, AuditRule } from '../audit/record.js'
import type { SuppressedSummary } from '../audit/rate-limit.js'
import type { CertificateIdentity } from '../tls/identity.js'
import type { TlsRejection } from '../tls/gate.js'
import type { ErrorCode, Refusal } from '../shared/errors.js'

/**
 * The identity block: certificate facts plus what the policy made of them.
 * `policyFile` names the policy the entry is in (for `entry.ref`).
 */
export function auditIdentity (identity: CertificateIdentity, match: IdentityMatch | null, policyFile: string | null): AuditIdentity {
  return {
    subject: identity.subject,
    sans: { dns: [...identity.sanDns], uri: [...identity.sanUri], email: [...identity.sanEmail] },
    issuer: identity.issuer,
    serial: identity.serial,
    fingerprint256: identity.fingerprint256,
    entry: match === null || policyFile === null ? null : { ref: `${policyFile}:${match.line}`, index: match.index },
    teams: [...(match?.teams ?? [])]
  }
}

/** The deciding rule as `file:line` plus its text and team, or null for default deny. */
export function ruleOf (rule: RuleRef | null): AuditRule | null {
  if (rule === null) return null
  const base = { ref: `${rule.file}:${rule.line}`, text: rule.text, team: rule.team }
  return rule.group === undefined ? base : { ...base, group: rule.group }
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
    identity: rejection.peer === null ? null : { ...auditIdentity(rejection.peer, null, null), verified: false },
    decision: 'deny',
    code: 'DG_TLS_REJECTED',
    tls: { reason: rejection.reason, detail: rejection.detail }
  }
}

/** The record summing up TLS rejections from one address that were counted instead of written. */
export function suppressedRecord (summary: SuppressedSummary): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'Suppressed',
    client: { address: summary.address },
    suppressed: {
      kind: 'TLSRejected',
      count: summary.count,
      since: summary.since.toISOString(),
      until: summary.until.toISOString(),
      reasons: { ...summary.reasons }
    }
  }
}

/**
 * The record for a verified connection that sent bytes that are not HTTP.
 * Its identity is filled like any request's (entry and teams from `policy`),
 * so a query by team finds it too.
 */
export function malformedRecord (connection: { identity: CertificateIdentity; remoteAddress: string; remotePort: number }, policy: Policy, refused: Refusal): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'Refused',
    receivedAt: new Date().toISOString(),
    client: { address: connection.remoteAddress, port: connection.remotePort },
    identity: auditIdentity(connection.identity, matchIdentity(policy, connection.identity), policy.file),
    decision: 'deny',
    code: refused.code,
    status: refused.status,
    error: refused.message
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
 * connection was open, or a reloaded `tls.ca` no longer trusts its issuer. Whatever was in flight on it gets its own
 * (aborted) record as usual; this one says why it ended.
 */
export function closedConnectionRecord (connection: { identity: CertificateIdentity; remoteAddress: string; remotePort: number }, why: CloseReason): AuditRecord {
  const closed = CLOSED[why]
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'ConnectionClosed',
    client: { address: connection.remoteAddress, port: connection.remotePort },
    identity: auditIdentity(connection.identity, null, null),
    decision: 'deny',
    code: closed.code,
    tls: { reason: closed.reason, detail: closed.detail },
    error: closed.error
  }
}

/** The fields every record of one request shares. */
export type RequestBase = Pick<AuditRecord, 'schema' | 'auditID' | 'receivedAt' | 'client' | 'objectRef'> & { readonly request: AuditRequest }

/** What every record of this request shares, as received and, when canonical, as judged. */
export function requestBase (auditID: string, connection: { remoteAddress: string; remotePort: number }, req: IncomingMessage, canonical: CanonicalResult): RequestBase {
  const method = req.method ?? ''
  const target = req.url ?? ''
  const upgrade = req.headers.upgrade ?? null
  const request: AuditRequest = canonical.ok
    ? { method, target, path: canonical.target.path, apiVersion: canonical.target.apiVersion, upgrade }
    : { method, target, path: null, apiVersion: null, upgrade }
  return {
    schema: 1,
    auditID,
    receivedAt: new Date().toISOString(),
    client: { address: connection.remoteAddress, port: connection.remotePort },
    request,
    objectRef: canonical.ok ? objectRefOf(canonical.target.path, canonical.target.query) : null
  }
}
