/**
 * Where and how `dockgate serve` writes its operational log (never the
 * audit trail, which has its own writer and stays JSON): JSON lines, which
 * journald, `docker logs` and log shippers read, unless the log goes to a
 * terminal and pino-pretty is installed, as it is for `npm start` in a
 * clone (a devDependency); then one readable, coloured line per entry.
 */
import { createRequire } from 'node:module'
import { isatty } from 'node:tty'
import pino from 'pino'
import type PinoPretty from 'pino-pretty'
import type { FastifyBaseLogger } from 'fastify'

/** JSON unless `fd` is a terminal. */
export function logFormat (fd: number, tty: (fd: number) => boolean = isatty): 'json' | 'pretty' {
  return tty(fd) ? 'pretty' : 'json'
}

/** The serve logger on file descriptor `fd` (1, or 2 when standard output carries the audit trail). */
export function serveLogger (fd: 1 | 2, level: string): FastifyBaseLogger {
  const options = { level, base: { service: 'dockgate' } }
  if (logFormat(fd) === 'pretty') {
    const pretty = loadPretty()
    if (pretty !== null) {
      return pino(options, pretty({
        destination: fd, sync: true, colorize: process.env.NO_COLOR === undefined,
        translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true
      }))
    }
  }
  return pino(options, fd === 2 ? pino.destination(2) : undefined)
}

// Absent from a production install (a devDependency): then JSON it is.
function loadPretty (): typeof PinoPretty | null {
  try {
    return createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty
  } catch {
    return null
  }
}
