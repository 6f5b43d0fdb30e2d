/**
 * The `audit:` section with its defaults filled in. The schema check has
 * already reported values of the wrong type (they fall back to defaults
 * here, and loading fails anyway); this adds what a schema cannot say well:
 * the names a setting may take, and that the syslog address is HOST:PORT.
 */
import { statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import type { ValuePath } from '../shared/yaml-source.js'
import { parseRemote } from './address.js'

/** Validated `audit:` settings; the shapes match what src/audit takes. */
export interface AuditConfig {
  readonly file: string
  /** The level for requests the policy gives none: metadata unless set. */
  readonly level: 'metadata' | 'request' | 'session'
  /** How hijacked sessions are recorded at level `session` (docs/audit.md, Session recording). */
  readonly sessions: SessionRecordingConfig
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

/** `audit.sessions` (the folder) and the `audit.session*` settings. */
export interface SessionRecordingConfig {
  /** Absolute; `sessions/` beside the audit file unless `audit.sessions` says otherwise. */
  readonly dir: string
  /** `audit.sessionInput`: also record what the client sent (keystrokes, piped stdin); off unless set. */
  readonly input: boolean
  /** `audit.sessionMaxBytes`: a recording stops (the session goes on) before its file would pass this size. */
  readonly maxBytes: number
  /** `audit.sessionMaxSeconds`: a recording stops (the session goes on) this long after the session opened. */
  readonly maxSeconds: number
}

/** 64 MiB: hours of an interactive shell, a few minutes of a log tailed through exec. */
export const DEFAULT_SESSION_MAX_BYTES = 64 * 1024 * 1024
/** 24 hours: a `docker attach` left open over a day is recorded for its first day. */
export const DEFAULT_SESSION_MAX_SECONDS = 24 * 60 * 60

/** RFC 5424 facility 13, "log audit". */
export const DEFAULT_SYSLOG_FACILITY = 13
const DEFAULT_QUEUE_RECORDS = 10_000

type Rec = Record<string, unknown>

/**
 * Reads `audit:` (the raw, schema-checked value) for the audit file at
 * `file` (already resolved); `report` is told about every bad value.
 * Relative paths (`audit.sessions`) resolve from `baseDir`, the config
 * file's folder.
 */
export function readAuditConfig (raw: unknown, file: string, baseDir: string, report: (path: ValuePath, message: string) => void): AuditConfig {
  const audit = record(raw)
  const rotate = record(audit.rotate)
  const sinks = record(audit.sinks)
  return {
    file,
    level: oneOf(audit.level, ['metadata', 'request', 'session'], 'level', report),
    sessions: sessionsOf(audit, file, baseDir, report),
    fsync: audit.fsync === true,
    onFailure: oneOf(audit.onFailure, ['refuse', 'continue'], 'onFailure', report),
    rotate: { maxBytes: typeof rotate.maxBytes === 'number' ? rotate.maxBytes : 0, daily: rotate.daily === true },
    sinks: { stdout: sinks.stdout === true, syslog: sinks.syslog === undefined ? null : syslogOf(record(sinks.syslog), report) }
  }
}

function sessionsOf (audit: Rec, file: string, baseDir: string, report: (path: ValuePath, message: string) => void): SessionRecordingConfig {
  const dir = typeof audit.sessions === 'string' && audit.sessions !== '' ? resolve(baseDir, audit.sessions) : join(dirname(file), 'sessions')
  // Created (0700) at the first recording; something else in its place would fail every recorded session.
  const kind = kindOf(dir)
  if (kind !== null && kind !== 'directory') {
    report(typeof audit.sessions === 'string' ? ['audit', 'sessions'] : ['audit', 'file'],
      `audit.sessions ${dir} is a ${kind}, not a folder: recordings of sessions go there (set audit.sessions to a folder, or move the ${kind} away)`)
  }
  return {
    dir,
    input: audit.sessionInput === true,
    maxBytes: typeof audit.sessionMaxBytes === 'number' ? audit.sessionMaxBytes : DEFAULT_SESSION_MAX_BYTES,
    maxSeconds: typeof audit.sessionMaxSeconds === 'number' ? audit.sessionMaxSeconds : DEFAULT_SESSION_MAX_SECONDS
  }
}

function kindOf (path: string): string | null {
  try {
    const stat = statSync(path)
    return stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'special file'
  } catch {
    return null
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

// The value when it is one of `allowed` (the first is the default); anything else is reported.
function oneOf<T extends string> (value: unknown, allowed: readonly [T, ...T[]], key: string, report: (path: ValuePath, message: string) => void): T {
  if (value === undefined || typeof value !== 'string') return allowed[0]
  if ((allowed as readonly string[]).includes(value)) return value as T
  const names = allowed.length > 2 ? `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1] ?? ''}` : allowed.join(' or ')
  report(['audit', key], `audit.${key} must be ${names}, got ${JSON.stringify(value)}`)
  return allowed[0]
}

function record (value: unknown): Rec {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Rec : {}
}
