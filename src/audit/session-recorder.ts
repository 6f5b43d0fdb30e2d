/**
 * Records one hijacked session (exec, attach, `run -i`) to an asciicast v2
 * file (cast.ts): the output the user was shown, with timestamps, and the
 * input they sent where configured. Non-TTY sessions are demultiplexed
 * (stream-frames.ts); stdout and stderr both become output events, in the
 * order they arrived, as the user's terminal showed them.
 *
 * Invariants:
 * - Never in the session's byte path: `output` and `input` only copy a
 *   chunk's text into a queue and return; the file is written
 *   asynchronously, append-only, one write at a time, so nothing the
 *   session sends waits for the disk. A recorder that falls behind queues,
 *   bounded by `maxBytes` (what is queued is part of the file-to-be).
 * - Caps end the recording, never the session: past `maxBytes` or
 *   `maxSeconds` (or after a write error) nothing more is recorded, and the
 *   file ends with an output event and a marker saying why; the summary's
 *   `truncated` says so too.
 * - The file is created 0600 (its folder 0700 when created here) with
 *   O_EXCL, so an existing file is never appended to or replaced.
 * - `close` resolves once everything is written and fsynced, with the byte
 *   count and SHA-256 of exactly the bytes in the file, so the audit record
 *   written after it protects the final file.
 */
import { createHash } from 'node:crypto'
import { closeSync, constants, fsync, mkdirSync, openSync, unlinkSync, writev, close as closeFd } from 'node:fs'
import { isAbsolute, join, relative } from 'node:path'
import { performance } from 'node:perf_hooks'
import { castEvent, castHeader, StreamText, type CastCode } from './cast-format.js'
import { FrameDemuxer, looksMultiplexed } from './stream-frames.js'
import type { RECORDING_TRUNCATIONS } from './schema.js'

/** Why a recording stopped before its session did. */
export type Truncation = typeof RECORDING_TRUNCATIONS[number]

/** What the audit record says of a recording (the `recording` field). */
export interface RecordingSummary {
  /** Relative to `auditDir`, or absolute when outside it. */
  readonly file: string
  readonly bytes: number
  readonly sha256: string
  readonly truncated: Truncation | null
  readonly input: boolean
  readonly error?: string
}

/** Where and how to record one session. */
export interface RecorderOptions {
  /** The sessions folder (absolute); created 0700 when missing. */
  readonly dir: string
  /** The folder of the audit file the closing record goes to: `file` is named relative to it. */
  readonly auditDir: string
  readonly auditID: string
  readonly title: string
  /** Record input too (`i` events). */
  readonly input: boolean
  readonly maxBytes: number
  readonly maxSeconds: number
  /** Milliseconds, monotonic; performance.now unless set. */
  readonly clock?: () => number
}

/** Where the recording of `options` goes: `<dir>/<auditID>.cast`. */
export function recordingFile (options: Pick<RecorderOptions, 'dir' | 'auditID'>): string {
  return join(options.dir, `${options.auditID}.cast`)
}

/**
 * Creates the recording's file (0600, O_EXCL, append-only) and its folder
 * (0700) and returns its descriptor; throws an Error naming the file and
 * the OS reason when it cannot.
 */
export function createRecordingFile (options: Pick<RecorderOptions, 'dir' | 'auditID'>): number {
  const path = recordingFile(options)
  try {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 })
    return openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o600)
  } catch (err) {
    throw new Error(`cannot create the session recording ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** How the daemon frames the session's output: a terminal's raw bytes, Docker's frames, or unknown until the first bytes. */
export type OutputFormat = 'tty' | 'multiplexed' | 'sniff'

// Room kept below maxBytes for the lines that say the recording stopped.
const STOP_RESERVE = 512

/** One session's recording; see the module comment. */
export class SessionRecorder {
  private readonly fd: number
  private readonly path: string
  private readonly clock: () => number
  private readonly hash = createHash('sha256')
  private began: number | null = null
  private format: OutputFormat = 'tty'
  private sniffed = Buffer.alloc(0)
  private demuxer: FrameDemuxer | null = null
  private readonly out = new Map<string, StreamText>()
  private readonly typed = new StreamText(false)
  private queue: Buffer[] = []
  /** Bytes accepted for the file so far (written or queued). */
  private accepted = 0
  private written = 0
  private writing = false
  private flushScheduled = false
  private drained: Array<() => void> = []
  private stopped: Truncation | null = null
  private error: string | null = null
  private timer: NodeJS.Timeout | null = null

  /**
   * Creates the file (and its folder). Throws an Error naming the file and
   * the OS reason when it cannot: the caller refuses the session rather
   * than run it unrecorded.
   */
  /**
   * `fd`: the file, already created (createRecordingFile), when the caller
   * made it; `ownsFd` false leaves closing it to the caller (a worker
   * thread may write and sync a descriptor its parent opened, but Node
   * warns when it closes one).
   */
  constructor (private readonly options: RecorderOptions, fd?: number, private readonly ownsFd = true) {
    this.clock = options.clock ?? (() => performance.now())
    this.path = recordingFile(options)
    this.fd = fd ?? createRecordingFile(options)
  }

  /** The session opened (the daemon switched protocols): the header is written and time starts. */
  begin (format: OutputFormat, size: { readonly width: number; readonly height: number }): void {
    if (this.began !== null) return
    this.began = this.clock()
    this.format = format
    if (format === 'multiplexed') this.demuxer = new FrameDemuxer()
    // The header always fits: maxBytes is at least 4096.
    this.enqueue(castHeader({
      width: size.width,
      height: size.height,
      timestamp: Math.floor(Date.now() / 1000),
      title: this.options.title,
      env: {},
      dockgate: { auditID: this.options.auditID, tty: format === 'tty', input: this.options.input }
    }))
    this.timer = setTimeout(() => { this.stop('duration') }, this.options.maxSeconds * 1000)
    this.timer.unref()
  }

  /** Bytes the daemon sent the client. Never throws. */
  output (chunk: Buffer): void {
    if (this.began === null || this.stopped !== null) return
    if (this.format === 'sniff') {
      this.sniffed = Buffer.concat([this.sniffed, chunk])
      if (this.sniffed.length < 4) return
      this.format = looksMultiplexed(this.sniffed) ? 'multiplexed' : 'tty'
      if (this.format === 'multiplexed') this.demuxer = new FrameDemuxer()
      chunk = this.sniffed
      this.sniffed = Buffer.alloc(0)
    }
    let text = ''
    if (this.demuxer === null) {
      text = this.stream('tty', false).write(chunk)
    } else {
      for (const piece of this.demuxer.push(chunk)) text += this.stream(piece.stream, piece.stream !== 'raw').write(piece.data)
    }
    this.event('o', text)
  }

  /** Bytes the client sent the daemon; recorded only with `input`. Never throws. */
  input (chunk: Buffer): void {
    if (!this.options.input || this.began === null || this.stopped !== null) return
    this.event('i', this.typed.write(chunk))
  }

  /** Stops recording as if the size cap was reached: whoever feeds it could not keep up (recorder-host.ts). */
  overrun (): void {
    this.stop('size')
  }

  /** The terminal was resized to `cols` x `rows`. */
  resize (cols: number, rows: number): void {
    if (this.began === null || this.stopped !== null) return
    this.event('r', `${cols}x${rows}`)
  }

  /**
   * Ends the recording: what the decoders hold is written, then the file is
   * fsynced and closed. Resolves with its summary, or null when the session
   * never opened (the empty file is removed). Never rejects.
   */
  async close (): Promise<RecordingSummary | null> {
    if (this.timer !== null) clearTimeout(this.timer)
    if (this.began === null) {
      // Nothing was recorded (the daemon did not switch protocols): no file is left behind.
      try {
        if (this.ownsFd) closeSync(this.fd)
        unlinkSync(this.path)
      } catch {
        // Already gone: there is nothing to clean.
      }
      return null
    }
    if (this.stopped === null) {
      if (this.sniffed.length > 0) this.event('o', this.stream('tty', false).write(this.sniffed))
      this.event('o', [...this.out.values()].map((s) => s.end()).join(''))
      if (this.options.input) this.event('i', this.typed.end())
    }
    await new Promise<void>((resolve) => {
      if (this.queue.length === 0 && !this.writing) resolve()
      else { this.drained.push(resolve); this.scheduleFlush() }
    })
    await new Promise<void>((resolve) => {
      fsync(this.fd, (err) => {
        if (err !== null && this.error === null) { this.stopped ??= 'error'; this.error = `fsync: ${err.message}` }
        if (this.ownsFd) closeFd(this.fd, () => { resolve() })
        else resolve()
      })
    })
    const rel = relative(this.options.auditDir, this.path)
    return {
      file: rel.startsWith('..') || isAbsolute(rel) ? this.path : rel,
      bytes: this.written,
      sha256: this.hash.digest('hex'),
      truncated: this.stopped,
      input: this.options.input,
      ...(this.error === null ? {} : { error: this.error })
    }
  }

  private stream (name: string, lineEnds: boolean): StreamText {
    let text = this.out.get(name)
    if (text === undefined) {
      text = new StreamText(lineEnds)
      this.out.set(name, text)
    }
    return text
  }

  private event (code: CastCode, data: string): void {
    if (data === '' || this.began === null || this.stopped !== null) return
    const seconds = (this.clock() - this.began) / 1000
    if (seconds >= this.options.maxSeconds) return this.stop('duration')
    const line = castEvent(seconds, code, data)
    if (this.enqueue(line)) return
    // Over the size cap: as much of this event as fits is still recorded, then the recording stops.
    const room = this.options.maxBytes - STOP_RESERVE - this.accepted
    let keep = data.length
    for (let size = Buffer.byteLength(line); size > room && keep > 0; size = Buffer.byteLength(castEvent(seconds, code, data.slice(0, keep)))) {
      keep = Math.min(keep - 1, Math.floor(keep * room / size))
      // Never half a surrogate pair.
      if (keep > 0 && /[\uD800-\uDBFF]/.test(data.charAt(keep - 1))) keep -= 1
    }
    if (keep > 0) this.enqueue(castEvent(seconds, code, data.slice(0, keep)))
    this.stop('size')
  }

  /** Queues `line` for the file; false (nothing queued) when it would pass the size cap. */
  private enqueue (line: string): boolean {
    // Encoded once: its length is checked against the cap, and these bytes are written and hashed.
    const bytes = Buffer.from(line)
    if (this.accepted + bytes.length > this.options.maxBytes - STOP_RESERVE) return false
    this.accepted += bytes.length
    this.queue.push(bytes)
    this.scheduleFlush()
    return true
  }

  /** Ends the recording early, saying why in the file (an output line a replay shows, and a marker). */
  private stop (why: Truncation, error?: string): void {
    if (this.stopped !== null || this.began === null) return
    this.stopped = why
    if (error !== undefined) this.error = error
    if (this.timer !== null) clearTimeout(this.timer)
    if (why === 'error') return
    // A duration stop is dated at the cap itself (its timer may fire with no event since).
    const seconds = why === 'duration' ? this.options.maxSeconds : (this.clock() - this.began) / 1000
    const reason = why === 'size'
      ? `it reached audit.sessionMaxBytes (${this.options.maxBytes} bytes)`
      : `it reached audit.sessionMaxSeconds (${this.options.maxSeconds} s)`
    const lines = Buffer.from(castEvent(seconds, 'o', `\r\n[dockgate: recording stopped: ${reason}; the session went on unrecorded]\r\n`) +
      castEvent(seconds, 'm', `dockgate: recording stopped (${why})`))
    this.accepted += lines.length
    this.queue.push(lines)
    this.scheduleFlush()
  }

  // Coalesces what arrived in one turn of the event loop into one write.
  private scheduleFlush (): void {
    if (this.flushScheduled || this.writing) return
    this.flushScheduled = true
    setImmediate(() => {
      this.flushScheduled = false
      this.flush()
    })
  }

  private flush (): void {
    if (this.writing) return
    if (this.queue.length === 0) {
      for (const resolve of this.drained.splice(0)) resolve()
      return
    }
    const buffers = this.queue
    this.queue = []
    this.writing = true
    this.writeAll(buffers)
  }

  // One writev at a time; a short write continues where it stopped.
  private writeAll (buffers: Buffer[]): void {
    writev(this.fd, buffers, (err, n) => {
      if (err !== null) {
        this.writing = false
        this.queue = []
        this.stop('error', `${err.code ?? 'error'}: ${err.message}`)
        for (const resolve of this.drained.splice(0)) resolve()
        return
      }
      // Hashed as written, in order (one write at a time), so the hash is of the file's bytes.
      let left = n
      while (buffers.length > 0 && left > 0) {
        const first = buffers[0] as Buffer
        const done = first.subarray(0, left)
        this.hash.update(done)
        left -= done.length
        if (done.length === first.length) buffers.shift()
        else buffers[0] = first.subarray(done.length)
      }
      this.written += n
      if (buffers.length > 0) return this.writeAll(buffers)
      this.writing = false
      this.flush()
    })
  }
}
