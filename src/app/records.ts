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
import type { Refusal } from '../shared/errors.js'

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

/** The record for a client turned away at the TLS layer. */
export function tlsRejectedRecord (rejection: TlsRejection, receivedAt: Date): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'TLSRejected',
    receivedAt: receivedAt.toISOString(),
    client: { address: rejection.remoteAddress, port: rejection.remotePort },
    identity: rejection.peer === null ? null : auditIdentity(rejection.peer, null, null),
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
 * The record for a verified connection that sent bytes that are not HTTP
 * (or headers too large or too slow); `policy` gives the identity its
 * teams, so the refusal is counted for the client's team.
 */
export function malformedRecord (connection: { identity: CertificateIdentity; remoteAddress: string; remotePort: number }, refused: Refusal, policy: Policy): AuditRecord {
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

/**
 * The record for an open connection dockgate closed because a reloaded CRL
 * revokes its certificate. Whatever was in flight on it gets its own
 * (aborted) record as usual; this one says why it ended.
 */
export function revokedConnectionRecord (connection: { identity: CertificateIdentity; remoteAddress: string; remotePort: number }): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'ConnectionClosed',
    client: { address: connection.remoteAddress, port: connection.remotePort },
    identity: auditIdentity(connection.identity, null, null),
    decision: 'deny',
    code: 'DG_CONNECTION_REVOKED',
    tls: { reason: 'revoked', detail: 'CERT_REVOKED' },
    error: 'dockgate: the client certificate has been revoked; the connection was closed when the CRL was reloaded'
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
