/**
 * The audit trail: each record serialised once (auditLine), the chained
 * file writer (file-writer.ts) that seals and writes it synchronously, and
 * the second sink that ships a copy through pino transports (sinks.ts).
 *
 * Why not a pino instance for the lines: a record is a plain object that
 * records.ts builds, and one JSON.stringify of it writes the same line as
 * pino did (time first, then the record's fields in order); pino's
 * per-field serialisation was about a tenth of dockgate's own work per
 * request (bench/lib/own-work.mjs, docs/performance.md).
 *
 * Invariants: `write` is the single entry point and returns only once the
 * record is in the file (and on disk with `fsync`), so a record written
 * before an answer's last byte survives the process dying right after.
 * Fail closed: `blocked` tells the gateway to refuse new requests while
 * records cannot be written, unless `onFailure` is `continue`.
 */
import { ChainWriter, type AuditHealth, type ChainWriterOptions, type WriterEvent } from './file-writer.js'
import type { AuditRecord } from './record.js'
import { NO_ROTATION, type RotatePolicy } from './rotation.js'
import { NO_SINKS, openSinks, type AuditSinks } from './sinks.js'

export type { AuditHealth } from './file-writer.js'

/** What the trail tells the operational log. */
export type AuditEvent =
  | WriterEvent
  | { readonly kind: 'not-written'; readonly line: string }
  | { readonly kind: 'sink-error'; readonly sink: string; readonly error: string }

/** `audit:` settings; only `file` is required. */
export interface AuditLogOptions {
  readonly file: string
  readonly fsync?: boolean
  /** `refuse` (default): refuse new requests while records cannot be written. */
  readonly onFailure?: 'refuse' | 'continue'
  readonly rotate?: RotatePolicy
  readonly sinks?: AuditSinks
  /** dockgate's version, recorded in FileOpened records. */
  readonly version?: string
  readonly now?: () => Date
  readonly onEvent?: (event: AuditEvent) => void
  /** fs.writeSync unless set: tests put a full disk behind it. */
  readonly writeSync?: ChainWriterOptions['writeSync']
}

/**
 * An open audit trail. A plain object, so wiring can wrap `write` (e.g. to
 * count records for metrics) with `{ ...audit, write }`.
 */
export interface AuditLog {
  readonly file: string
  /** Writes one record; false if it could not be written (counted in `health`). */
  write: (record: AuditRecord) => boolean
  /** Why new requests must be refused now (records cannot be written, onFailure refuse), or null. */
  blocked: () => string | null
  /** Writable now, total records not written, the last error. Never does I/O. */
  health: () => AuditHealth
  /** SIGHUP: open a new file if the active one was moved away (logrotate); the chain continues. */
  reopen: () => { reopened: boolean; error: string | null }
  /** Closes the file and flushes the sinks. */
  close: () => Promise<void>
}

/**
 * Opens (creating folders as needed) and continues the chain of `file`.
 * Throws if it cannot be opened or does not end with a sealed record: the
 * gateway must not start without its audit trail.
 */
export function openAuditLog (options: AuditLogOptions): AuditLog {
  const onEvent = options.onEvent ?? (() => {})
  const now = options.now ?? (() => new Date())
  const sinks = openSinks(options.sinks ?? NO_SINKS, (sink, error) => { onEvent({ kind: 'sink-error', sink, error }) })
  let writer: ChainWriter
  try {
    writer = new ChainWriter({
      file: options.file,
      fsync: options.fsync ?? false,
      rotate: options.rotate ?? NO_ROTATION,
      version: options.version ?? 'unknown',
      now,
      onWritten: sinks.forward,
      onEvent,
      ...(options.writeSync === undefined ? {} : { writeSync: options.writeSync })
    })
  } catch (err) {
    void sinks.close()
    throw err
  }
  return {
    file: options.file,
    write (record) {
      const line = auditLine(record, now())
      const written = writer.append(line, record.auditID)
      // A refusal for this very outage is counted, not logged line by line.
      if (!written && record.code !== 'DG_AUDIT_UNAVAILABLE') onEvent({ kind: 'not-written', line })
      return written
    },
    blocked () {
      if (writer.ready() || options.onFailure === 'continue') return null
      return `the audit trail cannot be written (${writer.health().lastError ?? 'unknown error'}); ` +
        'requests are refused until it can be written again (audit.onFailure: refuse)'
    },
    health: () => writer.health(),
    reopen: () => writer.reopen(),
    close: async () => {
      writer.close()
      await sinks.close()
    }
  }
}

/**
 * One record as the line the trail holds, before sealing: `time` first,
 * then the record's fields in the order they were built; fields set to
 * undefined are left out. The record must be plain data (records.ts builds
 * nothing else), so JSON.stringify cannot throw on it.
 */
export function auditLine (record: AuditRecord, time: Date): string {
  const fields = JSON.stringify(record)
  return `{"time":"${time.toISOString()}"${fields === '{}' ? '' : ','}${fields.slice(1)}`
}
