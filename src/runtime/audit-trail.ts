/**
 * Opening the audit trail from the config, and what its events say in the
 * operational log: one place, so `dockgate serve`, tests and (issue 6)
 * cluster workers open it the same way.
 */
import type { FastifyBaseLogger } from 'fastify'
import { openAuditLog, type AuditEvent, type AuditLog } from '../audit/log.js'
import type { AuditConfig } from '../config/load.js'
import { VERSION } from '../shared/version.js'

/** How often a failing second sink is reported (it retries on its own). */
const SINK_REPORT_MS = 60_000

/**
 * Opens the trail `config` describes. `file` replaces `config.file` (a
 * worker's own file, like `audit-w2.jsonl`: each writes its own chain).
 * Throws when the file cannot be opened or continued.
 */
export function openAuditTrail (config: AuditConfig, logger: FastifyBaseLogger, file = config.file): AuditLog {
  return openAuditLog({
    file,
    fsync: config.fsync,
    onFailure: config.onFailure,
    rotate: config.rotate,
    sinks: config.sinks,
    version: VERSION,
    onEvent: auditEventLogger(logger, config.onFailure)
  })
}

/** Turns audit events into operational log lines an operator can act on. */
export function auditEventLogger (logger: FastifyBaseLogger, onFailure: AuditConfig['onFailure']): (event: AuditEvent) => void {
  const sinkReported = new Map<string, number>()
  return (event) => {
    switch (event.kind) {
      case 'opened':
        logger[event.reason === 'recover' || event.reason === 'recreate' ? 'warn' : 'info']({ audit: event.file, reason: event.reason, previousFile: event.previousFile },
          `audit file opened (${event.reason}); the chain continues from ${event.previousFile ?? 'a new start'}`)
        return
      case 'write-failed':
        logger.error({ error: event.error }, `cannot write the audit trail: ${event.error}; ` + (onFailure === 'refuse'
          ? 'refusing every request with 503 until it can be written again (audit.onFailure: refuse)'
          : 'serving on without an audit trail (audit.onFailure: continue)'))
        return
      case 'recovered':
        logger.warn({ failedWrites: event.failedWrites, since: event.since }, `the audit trail is writable again; ${event.failedWrites} record(s) could not be written since ${event.since}`)
        return
      case 'rotate-failed':
      case 'reopen-failed':
        logger.error({ error: event.error }, `audit ${event.kind === 'rotate-failed' ? 'rotation' : 'reopen'} failed: ${event.error}; records keep going to the file already open`)
        return
      case 'torn':
        logger.warn({ audit: event.file, bytes: event.bytes },
          `audit file ${event.file} ended with an incomplete line of ${event.bytes} byte(s) (a crash or power loss while writing); ` +
          'it was ended and acknowledged in the FileOpened record (opened.torn), and audit verify reports it as a note')
        return
      case 'new-chain':
        logger.warn({ audit: event.file, rotated: event.rotated },
          `audit file ${event.file} was missing or empty at start while ${event.rotated.length} rotated file(s) of it exist (newest: ${event.rotated[0] ?? '?'}): ` +
          'a new chain starts; records written after the newest rotated file may have been deleted (audit verify reports DG_AUDIT_CHAIN_RESTARTED)')
        return
      case 'not-written':
        logger.error({ auditRecord: event.line }, 'an audit record could not be written; it is kept here')
        return
      case 'sink-error': {
        const now = Date.now()
        if (now - (sinkReported.get(event.sink) ?? 0) < SINK_REPORT_MS) return
        sinkReported.set(event.sink, now)
        logger.warn({ sink: event.sink, error: event.error }, `audit sink ${event.sink}: ${event.error}; it keeps retrying (the audit file is unaffected)`)
      }
    }
  }
}
