/**
 * The second sink: a copy of every line written to the audit file, shipped
 * off the host through pino transports (worker threads, so a slow collector
 * never delays a request):
 * - `syslog`: RFC 5424 (pino-syslog) over TCP or TLS (pino-socket), one
 *   message per record, framed by a newline (RFC 6587 non-transparent
 *   framing; a record never contains a raw newline). The MSG is the sealed
 *   line itself, so the central store holds every hash and can check the
 *   chain, and the MSGID is the auditID.
 * - `stdout`: the sealed lines as they are, for a log collector.
 *
 * Invariants: a line reaches a sink only after it is in the file (the file
 * is the record of truth; the sink is a copy). Sinks are best effort: a
 * collector that is down never blocks or refuses requests; pino-socket
 * reconnects and queues up to `queueRecords` lines meanwhile.
 */
import { hostname } from 'node:os'
import pino, { type Logger } from 'pino'

/** `audit.sinks.syslog`. */
export interface SyslogSink {
  readonly host: string
  readonly port: number
  /** RFC 5425: TLS, verified against the system CAs (and NODE_EXTRA_CA_CERTS). */
  readonly tls: boolean
  /** Syslog facility number; 13 (log audit) unless set. */
  readonly facility: number
  readonly appName: string
  /** Lines kept in memory while the collector is unreachable; the oldest go first. */
  readonly queueRecords: number
}

/** `audit.sinks`: where copies go besides the file. */
export interface AuditSinks {
  readonly stdout: boolean
  readonly syslog: SyslogSink | null
}

/** No second sink. */
export const NO_SINKS: AuditSinks = Object.freeze({ stdout: false, syslog: null })

/** Open sinks: `forward` copies one sealed line; `close` flushes and stops the workers. */
export interface OpenSinks {
  forward: (line: Buffer, auditID: string) => void
  close: () => Promise<void>
}

type Stream = ReturnType<typeof pino.transport>

/** Starts the configured transports; `onError` hears about an unreachable collector. */
export function openSinks (sinks: AuditSinks, onError: (sink: string, error: string) => void): OpenSinks {
  const forwards: Array<(line: Buffer, auditID: string) => void> = []
  const streams: Stream[] = []
  if (sinks.stdout) {
    const stream = pino.transport({ target: 'pino/file', options: { destination: 1 } })
    watch(stream, 'stdout', onError)
    streams.push(stream)
    forwards.push((line) => { stream.write(line.toString('utf8')) })
  }
  if (sinks.syslog !== null) {
    const { stream, logger } = syslogTransport(sinks.syslog)
    watch(stream, `syslog ${sinks.syslog.host}:${sinks.syslog.port}`, onError)
    streams.push(stream)
    // pino-syslog takes MSG from `msg` and MSGID from `req.id`; the line loses only its newline.
    forwards.push((line, auditID) => { logger.info({ req: { id: auditID } }, line.toString('utf8', 0, line.length - 1)) })
  }
  return {
    forward: (line, auditID) => { for (const forward of forwards) forward(line, auditID) },
    close: async () => { await Promise.all(streams.map(end)) }
  }
}

function syslogTransport (sink: SyslogSink): { stream: Stream; logger: Logger } {
  const stream = pino.transport({
    pipeline: [
      { target: 'pino-syslog', options: { modern: true, appname: sink.appName, facility: sink.facility, messageOnly: true, newline: true } },
      {
        target: 'pino-socket',
        options: {
          mode: 'tcp', address: sink.host, port: sink.port, secure: sink.tls, reconnect: true, recovery: true, recoveryQueueMaxSize: sink.queueRecords
        }
      }
    ]
  })
  // pino-syslog needs the standard pino fields (level, epoch time, hostname, pid) for the RFC 5424 header.
  const logger = pino({ base: { hostname: hostname(), pid: process.pid } }, stream)
  return { stream, logger }
}

// Collector trouble is reported, never thrown: shipping is best effort.
function watch (stream: Stream, name: string, onError: (sink: string, error: string) => void): void {
  stream.on('error', (err: Error) => { onError(name, err.message) })
  stream.on('socketError', (err: unknown) => { onError(name, err instanceof Error ? err.message : String(err)) })
}

async function end (stream: Stream): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000)
    timer.unref()
    stream.once('close', () => { clearTimeout(timer); resolve() })
    stream.end()
  })
}
