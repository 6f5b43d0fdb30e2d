/**
 * Audit records for what the operational guards refuse: a request over a
 * limit or during shutdown, and a connection over a connection limit.
 * Same shape as every other refusal, so one query finds them all.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { AuditRecord } from '../audit/record.js'
import { canonicalize, matchIdentity, type Policy } from '../policy/index.js'
import type { Refusal } from '../shared/errors.js'
import type { ConnectionInfo } from './pipeline.js'
import { elapsed } from './exchange.js'
import { auditIdentity, requestBase } from './records.js'
import type { GuardRefusal } from './refusal-audit.js'

/** What the refusal audit's rate limit needs to know of a guard's refusal of `connection`. */
export function guardRefusalOf (connection: ConnectionInfo, policy: Policy, refused: Refusal): GuardRefusal {
  return {
    identity: connection.identity.fingerprint256,
    code: refused.code,
    address: connection.remoteAddress,
    auditIdentity: () => auditIdentity(connection.identity, matchIdentity(policy, connection.identity), policy.file)
  }
}

/** The record of a request refused before it was forwarded, by a limit or because dockgate is shutting down. */
export function guardRefusalRecord (requestId: string, connection: ConnectionInfo, policy: Policy, req: IncomingMessage, refused: Refusal, started: number): AuditRecord {
  return {
    ...requestBase(requestId, connection, req, canonicalize(req.url ?? '')),
    stage: 'Refused',
    identity: auditIdentity(connection.identity, matchIdentity(policy, connection.identity), policy.file),
    level: 'metadata',
    decision: 'deny',
    code: refused.code,
    reason: refused.message,
    rule: null,
    status: refused.status,
    durationMs: elapsed(started)
  }
}

/** The record of a verified connection refused as a whole by a connection limit. */
export function connectionRefusedRecord (connection: ConnectionInfo, policy: Policy, refused: Refusal): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'Refused',
    receivedAt: new Date().toISOString(),
    client: { address: connection.remoteAddress, port: connection.remotePort },
    identity: auditIdentity(connection.identity, matchIdentity(policy, connection.identity), policy.file),
    decision: 'deny',
    code: refused.code,
    reason: refused.message,
    status: refused.status
  }
}
