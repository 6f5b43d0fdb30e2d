/**
 * Which hijacked sessions are recorded at audit level `session`, and the
 * tap (proxy/exchange.ts) that hands their bytes to a recorder
 * (audit/session-recorder.ts): exec start and container attach upgraded to
 * raw TCP, i.e. `docker exec` (with or without `-it`), `docker attach`,
 * and the attach of `docker run` (`-i`, `-it`, or neither). BuildKit's h2c
 * sessions and websocket attach are not terminal sessions and are not
 * recorded.
 *
 * How the output is framed is decided from what the daemon and client
 * say, most reliable first: a 101 with Content-Type
 * `application/vnd.docker.multiplexed-stream` (API 1.42 and later) is
 * framed; an exec start's `Tty` decides how the daemon frames that exec;
 * an attach answered `raw-stream` on API 1.42 or later is a terminal's;
 * an attach on an older API (which always says raw-stream) is judged by
 * its first bytes (stream-frames.ts, looksMultiplexed).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { OutputFormat, RecordingSummary } from '../audit/session-recorder.js'
import { openRecorder } from '../audit/recorder-host.js'
import type { AuditIdentity } from '../audit/record.js'
import type { SessionTap } from '../proxy/exchange.js'
import type { RequestBase } from './records.js'

/** `audit.sessions` and the `audit.session*` settings, plus where the audit file is. */
export interface SessionSettings {
  readonly dir: string
  readonly input: boolean
  readonly maxBytes: number
  readonly maxSeconds: number
  /** The folder of the audit file this gateway writes (recordings are named relative to it). */
  readonly auditDir: string
  /** The recordings open now, for the resizes that reach them. */
  readonly open: OpenRecordings
}

/**
 * The recordings open now, by the exec instance or container their session
 * named (`exec/ID`, `containers/NAME`, as the client named it), so that a
 * terminal resize (`POST /exec/ID/resize?h=&w=`, `/containers/NAME/resize`)
 * the daemon accepted is recorded as an `r` event in each of them.
 */
export class OpenRecordings {
  private readonly byObject = new Map<string, Set<RecordingTap>>()

  /** Adds `tap` under its session's object; returns what removes it. */
  add (base: RequestBase, tap: RecordingTap): () => void {
    const key = objectKey(base)
    if (key === null) return () => {}
    let taps = this.byObject.get(key)
    if (taps === undefined) this.byObject.set(key, taps = new Set())
    taps.add(tap)
    return () => {
      taps.delete(tap)
      if (taps.size === 0) this.byObject.delete(key)
    }
  }

  /** A request ended: if it was an accepted resize, the recordings of its object note the new size. */
  ended (base: RequestBase, status: number): void {
    if (status !== 200 || base.request.method !== 'POST' || base.objectRef?.subresource !== 'resize') return
    const taps = this.byObject.get(objectKey(base) ?? '')
    if (taps === undefined) return
    const query = new URLSearchParams(base.request.target.includes('?') ? base.request.target.slice(base.request.target.indexOf('?') + 1) : '')
    const cols = Number(query.get('w'))
    const rows = Number(query.get('h'))
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols <= 0 || rows <= 0) return
    for (const tap of taps) tap.resize(cols, rows)
  }
}

function objectKey (base: RequestBase): string | null {
  const ref = base.objectRef
  return ref === null || ref === undefined || (ref.resource !== 'exec' && ref.resource !== 'containers') ? null : `${ref.resource}/${ref.name}`
}

const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream'
const DEFAULT_SIZE = { width: 80, height: 24 }

/** Whether a request is a session that level `session` records: exec start or attach, upgraded to tcp. */
export function isTerminalSession (base: RequestBase): boolean {
  const ref = base.objectRef
  if (base.request.upgrade?.toLowerCase() !== 'tcp' || base.request.method !== 'POST' || ref === null || ref === undefined) return false
  return (ref.resource === 'exec' && ref.subresource === 'start') || (ref.resource === 'containers' && ref.subresource === 'attach')
}

/** A tap that records into a file, and the recording's summary once closed. */
export interface RecordingTap extends SessionTap {
  /** Set once `close` resolved; null when the session never opened. */
  readonly summary: () => RecordingSummary | null
  /** The session's terminal was resized. */
  readonly resize: (cols: number, rows: number) => void
}

/**
 * Creates the recording file and a tap feeding it; throws (naming the
 * file and the OS reason) when the file cannot be created. `body` is the
 * upgrade request's body as forwarded (an exec start's `Tty` and
 * `ConsoleSize`).
 */
export function openRecordingTap (settings: SessionSettings, base: RequestBase, identity: AuditIdentity, body: Buffer): RecordingTap {
  const recorder = openRecorder({
    dir: settings.dir,
    auditDir: settings.auditDir,
    auditID: base.auditID,
    title: titleOf(base, identity),
    input: settings.input,
    maxBytes: settings.maxBytes,
    maxSeconds: settings.maxSeconds
  })
  const start = base.objectRef?.resource === 'exec' ? execStart(body) : null
  let summary: RecordingSummary | null = null
  return {
    begin (headers) { recorder.begin(formatOf(headers, start, base.request.apiVersion), start?.size ?? DEFAULT_SIZE) },
    output (chunk) { recorder.output(chunk) },
    input (chunk) { recorder.input(chunk) },
    close: async () => { summary = await recorder.close() },
    summary: () => summary,
    resize (cols, rows) { recorder.resize(cols, rows) }
  }
}

function formatOf (headers: IncomingHttpHeaders, start: ExecStart | null, apiVersion: string | null): OutputFormat {
  const type = (headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type === MULTIPLEXED) return 'multiplexed'
  if (start !== null) return start.tty ? 'tty' : 'multiplexed'
  return apiVersion !== null && atLeast(apiVersion, 1, 42) ? 'tty' : 'sniff'
}

interface ExecStart {
  readonly tty: boolean
  readonly size: { readonly width: number; readonly height: number } | null
}

/** `{"Detach":false,"Tty":true,"ConsoleSize":[ROWS,COLS]}`, as the docker CLI sends it; anything unreadable counts as no TTY and no size. */
function execStart (body: Buffer): ExecStart {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    return { tty: false, size: null }
  }
  const start = value !== null && typeof value === 'object' ? value as Record<string, unknown> : {}
  const size = start.ConsoleSize
  const [rows, cols] = Array.isArray(size) ? size as unknown[] : []
  const valid = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 10_000
  return { tty: start.Tty === true, size: valid(rows) && valid(cols) ? { width: cols, height: rows } : null }
}

function atLeast (version: string, major: number, minor: number): boolean {
  const [a, b] = version.split('.').map(Number)
  return (a ?? 0) > major || ((a ?? 0) === major && (b ?? 0) >= minor)
}

/** `CN=alice,OU=platform: POST /v1.41/exec/3f2a…/start`: who and what, for the player's title. */
function titleOf (base: RequestBase, identity: AuditIdentity): string {
  const who = 'subject' in identity ? identity.subject : `socket ${identity.socket}`
  return `${who}: ${base.request.method} ${base.request.target}`
}
