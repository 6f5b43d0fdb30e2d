/**
 * The app-level tap on the audit trail: every record written also feeds
 * the metrics, so requests are counted exactly as they are audited (one
 * count per final record) without the proxy knowing about metrics.
 *
 * Audit health: the writer's own `health()` when it has one (issue 4's
 * writer); until then a stand-in that counts writes reporting failure.
 */
import type { AuditLog } from '../audit/log.js'
import type { AuditRecord } from '../audit/record.js'
import { requestKind } from '../limits/stream-kind.js'
import type { GatewayMetrics } from '../metrics/registry.js'

/** What the audit writer says about itself; the shape agreed with the audit trail's owner. */
export interface AuditHealth {
  readonly writable: boolean
  readonly writeFailures: number
  readonly lastError: string | null
}

type MaybeHealthy = AuditLog & { readonly health?: () => AuditHealth }

/** An audit log whose writes are observed, and its health. */
export interface TappedAudit {
  readonly audit: AuditLog
  readonly health: () => AuditHealth
}

/**
 * Wraps `audit` so `onRecord` sees every record after it is written. Every
 * other member is the writer's own (a Proxy, so members the writer gains
 * later pass through untouched). `onRecord` errors are swallowed: metrics
 * must never fail a request.
 */
export function tapAudit (audit: MaybeHealthy, onRecord: (record: AuditRecord) => void): TappedAudit {
  let failures = 0
  let lastOk = true
  const write = (record: AuditRecord): boolean => {
    const ok = audit.write(record)
    if (!ok) failures += 1
    lastOk = ok
    try {
      onRecord(record)
    } catch {
      // a metrics bug is not worth a request
    }
    return ok
  }
  const tapped = new Proxy(audit, {
    get (target, prop) {
      if (prop === 'write') return write
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  })
  const health = (): AuditHealth => typeof audit.health === 'function'
    ? audit.health()
    : { writable: lastOk, writeFailures: failures, lastError: lastOk ? null : 'the last audit record could not be written' }
  return { audit: tapped, health }
}

/**
 * Feeds one audit record to the metrics. Final records (`ResponseComplete`,
 * `Refused`) count a request; `ConnectionClosed` counts a closed
 * connection. `TLSRejected` is counted at the TLS gate instead, where every
 * rejection is seen even if the audit trail summarises them.
 */
export function observeRecord (metrics: GatewayMetrics, record: AuditRecord): void {
  if (record.stage === 'ConnectionClosed') {
    metrics.observeConnectionClosed(record.tls?.reason ?? 'closed')
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
