/**
 * The audit file writer: a pino instance of its own (separate from the
 * operational log) writing synchronously, so a record is on its way to disk
 * before the client sees the answer it describes and a crash loses nothing
 * already answered.
 */
import pino, { type Logger } from 'pino'
import type { AuditRecord } from './record.js'

/** An open audit trail. `write` returns false if the record could not be written. */
export interface AuditLog {
  readonly file: string
  write: (record: AuditRecord) => boolean
  close: () => void
}

/**
 * Opens (creating folders as needed) and appends to `file`. Throws if the
 * file cannot be opened: the gateway must not start without its audit trail.
 */
export function openAuditLog (file: string): AuditLog {
  const destination = pino.destination({ dest: file, sync: true, mkdir: true, append: true })
  let failed = false
  destination.on('error', () => { failed = true })
  const logger: Logger = pino({
    base: null,
    messageKey: 'message',
    // The level is dropped (every audit line is the same level), so the time
    // fragment must not start with the comma pino's built-in ones carry.
    timestamp: () => `"time":"${new Date().toISOString()}"`,
    formatters: { level: () => ({}) }
  }, destination)
  return {
    file,
    write (record) {
      failed = false
      logger.info(record)
      return !failed
    },
    close () {
      destination.flushSync()
      destination.end()
    }
  }
}
