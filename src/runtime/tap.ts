/**
 * The app-level tap on the audit trail: every record written also feeds
 * the metrics, so requests are counted exactly as they are audited (one
 * count per final record) without the proxy knowing about metrics.
 */
import type { AuditLog } from '../audit/log.js'
import type { AuditHealth } from '../audit/file-writer.js'
import type { AuditRecord } from '../audit/record.js'
import { requestKind } from '../limits/stream-kind.js'
import type { GatewayMetrics } from '../metrics/registry.js'
import { ERRORS, type ErrorCode } from '../shared/errors.js'

export type { AuditHealth } from '../audit/file-writer.js'

/** An audit log whose writes are observed, and the writer's own health. */
export interface TappedAudit {
  readonly audit: AuditLog
  readonly health: () => AuditHealth
}

/**
 * Wraps `audit` so `onRecord` sees every record after it is written; every
 * other member is the writer's own. `onRecord` errors are swallowed:
 * metrics must never fail a request.
 */
export function tapAudit (audit: AuditLog, onRecord: (record: AuditRecord) => void): TappedAudit {
  const write = (record: AuditRecord): boolean => {
    const ok = audit.write(record)
    try {
      onRecord(record)
    } catch {
      // a metrics bug is not worth a request
    }
    return ok
  }
  return { audit: { ...audit, write }, health: () => audit.health() }
}

/**
 * Feeds one audit record to the metrics. Final records (`ResponseComplete`,
 * `Refused`) count a request, and a `Suppressed` summary of refusals the
 * requests it stands for; `ConnectionClosed` counts a closed connection.
 * `TLSRejected` is counted at the TLS gate instead, where every rejection
 * is seen even if the audit trail summarises them.
 */
export function observeRecord (metrics: GatewayMetrics, record: AuditRecord): void {
  if (record.stage === 'ConnectionClosed') {
    metrics.observeConnectionClosed(record.tls?.reason ?? 'closed')
    return
  }
  if (record.stage === 'Suppressed' && record.suppressed?.kind === 'Refused') {
    const team = record.identity?.teams[0] ?? 'none'
    for (const [code, count] of Object.entries(record.suppressed.reasons)) {
      metrics.countRequests({ team, decision: 'deny', status: code in ERRORS ? ERRORS[code as ErrorCode].status : 0 }, count)
    }
    return
  }
  if (record.stage !== 'ResponseComplete' && record.stage !== 'Refused') return
  const request = record.request
  const query = request === undefined || !request.target.includes('?') ? '' : request.target.slice(request.target.indexOf('?') + 1)
  metrics.observeRequest({
    team: record.rule?.team ?? record.identity?.teams[0] ?? 'none',
    decision: record.decision ?? 'deny',
    status: record.status ?? 0,
    kind: request === undefined ? 'request' : requestKind(request.method, request.path ?? '', query, request.upgrade),
    durationSeconds: (record.durationMs ?? 0) / 1000,
    bytesIn: record.bytesIn ?? 0,
    bytesOut: record.bytesOut ?? 0
  })
}
