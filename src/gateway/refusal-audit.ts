/**
 * Audit records that one client can cause at any rate, rate limited so a
 * scan or a client hammering a limit cannot flood the disk: TLS rejections
 * (per source address) and the refusals of dockgate's own guards (limits,
 * shutdown, a daemon that does not answer; per identity and code). Each key
 * has a token bucket and all keys share one (src/audit/rate-limit.ts);
 * what goes over is not written but counted, and written each minute (and
 * when the gateway closes) as one Suppressed record per key, so the trail
 * still says how many there were, from whom and why. Metrics count every
 * one as it happens, written or not.
 */
import type { AuditLog } from '../audit/log.js'
import type { AuditClient, AuditIdentity, AuditRecord } from '../audit/record.js'
import { DEFAULT_REJECTION_LIMITS, RejectionLimiter, type RejectionLimits } from '../audit/rate-limit.js'
import type { TlsRejection } from '../tls/gate.js'
import { suppressedRecord, tlsRejectedRecord } from './records.js'

/** How often counted (suppressed) records are written as Suppressed summaries. */
const SUMMARY_INTERVAL_MS = 60_000

/** A guard's refusal, as far as rate limiting it needs to know. */
export interface GuardRefusal {
  /** Whose refusal it is: the connection's key (a certificate's fingerprint, a socket listener's path). */
  readonly identity: string
  readonly code: string
  /** For the summary: the identity block and where the refused client came from. */
  readonly auditIdentity: () => AuditIdentity
  readonly client: AuditClient
}

/** The rate-limited writers; `close` writes what is still counted and stops the timer. */
export interface RefusalAudit {
  /** Writes the TLSRejected record unless the address went over its share; its auditID, or null when only counted. */
  readonly tlsRejected: (rejection: TlsRejection) => string | null
  /** Writes `record()` unless this identity went over its share for this code; its auditID, or null when only counted. */
  readonly refused: (refusal: GuardRefusal, record: () => AuditRecord) => string | null
  readonly close: () => void
}

/** Creates both writers on `audit`, with the same limits (the TLS rejection limits in docs/audit.md). */
export function createRefusalAudit (audit: AuditLog, limits: RejectionLimits = DEFAULT_REJECTION_LIMITS): RefusalAudit {
  const tls = new RejectionLimiter(limits)
  const guards = new RejectionLimiter(limits)
  // Who a counted key belongs to, kept from its last refusal until its summary is written.
  const owners = new Map<string, { identity: AuditIdentity; client: AuditClient; code: string }>()
  const flush = (): void => {
    for (const summary of tls.summaries()) audit.write(suppressedRecord(summary, null))
    for (const summary of guards.summaries()) {
      const owner = owners.get(summary.address)
      owners.delete(summary.address)
      if (owner !== undefined) audit.write(suppressedRecord(summary, owner))
    }
  }
  const timer = setInterval(flush, SUMMARY_INTERVAL_MS)
  timer.unref()
  return {
    tlsRejected: (rejection) => {
      const now = new Date()
      if (!tls.admit(rejection.remoteAddress, rejection.reason, now)) return null
      const written = tlsRejectedRecord(rejection, now)
      audit.write(written)
      return written.auditID
    },
    refused: (refusal, record) => {
      const key = `${refusal.identity} ${refusal.code}`
      if (guards.admit(key, refusal.code, new Date())) {
        const written = record()
        audit.write(written)
        return written.auditID
      }
      owners.set(key, { identity: refusal.auditIdentity(), client: refusal.client, code: refusal.code })
      return null
    },
    close: () => {
      clearInterval(timer)
      flush()
    }
  }
}
