/**
 * The `audit:` section with its defaults filled in. The schema check has
 * already reported values of the wrong type (they fall back to defaults
 * here, and loading fails anyway); this adds what a schema cannot say: the
 * syslog address must be HOST:PORT.
 */
import type { ValuePath } from '../shared/yaml-source.js'
import { parseRemote } from './address.js'

/** Validated `audit:` settings; the shapes match what src/audit takes. */
export interface AuditConfig {
  readonly file: string
  /** The level for requests the policy gives none: metadata unless set. */
  readonly level: 'metadata' | 'request'
  readonly fsync: boolean
  readonly onFailure: 'refuse' | 'continue'
  /** maxBytes 0: no size limit. */
  readonly rotate: { readonly maxBytes: number; readonly daily: boolean }
  readonly sinks: {
    readonly stdout: boolean
    readonly syslog: {
      readonly host: string
      readonly port: number
      readonly tls: boolean
      readonly facility: number
      readonly appName: string
      readonly queueRecords: number
    } | null
  }
}

/** RFC 5424 facility 13, "log audit". */
export const DEFAULT_SYSLOG_FACILITY = 13
const DEFAULT_QUEUE_RECORDS = 10_000

type Rec = Record<string, unknown>

/**
 * Reads `audit:` (the raw, schema-checked value) for the audit file at
 * `file` (already resolved); `report` is told about a bad syslog address.
 */
export function readAuditConfig (raw: unknown, file: string, report: (path: ValuePath, message: string) => void): AuditConfig {
  const audit = record(raw)
  const rotate = record(audit.rotate)
  const sinks = record(audit.sinks)
  return {
    file,
    level: audit.level === 'request' ? 'request' : 'metadata',
    fsync: audit.fsync === true,
    onFailure: audit.onFailure === 'continue' ? 'continue' : 'refuse',
    rotate: { maxBytes: typeof rotate.maxBytes === 'number' ? rotate.maxBytes : 0, daily: rotate.daily === true },
    sinks: { stdout: sinks.stdout === true, syslog: sinks.syslog === undefined ? null : syslogOf(record(sinks.syslog), report) }
  }
}

function syslogOf (syslog: Rec, report: (path: ValuePath, message: string) => void): AuditConfig['sinks']['syslog'] {
  const address = typeof syslog.address === 'string' ? parseRemote(syslog.address) : null
  if (typeof address === 'string') report(['audit', 'sinks', 'syslog', 'address'], `audit.sinks.syslog.address ${address}`)
  if (address === null || typeof address === 'string') return null
  return {
    ...address,
    tls: syslog.tls === true,
    facility: typeof syslog.facility === 'number' ? syslog.facility : DEFAULT_SYSLOG_FACILITY,
    appName: typeof syslog.appName === 'string' ? syslog.appName : 'dockgate',
    queueRecords: typeof syslog.queueRecords === 'number' ? syslog.queueRecords : DEFAULT_QUEUE_RECORDS
  }
}

function record (value: unknown): Rec {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Rec : {}
}
