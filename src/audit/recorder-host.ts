/**
 * Where session recorders run: in a worker thread of their own
 * (recorder-worker.ts), so that decoding, JSON encoding, hashing and
 * writing a recording never take the event loop that relays the session's
 * bytes. The serving thread only copies each chunk (one memcpy) and posts
 * it, with the time it passed. Where the worker's compiled file is absent
 * (the sources run directly, as in the tests), recorders run inline.
 *
 * Invariants: the recording's file is created here, synchronously, before
 * the caller forwards anything (so a session that cannot be recorded is
 * refused, never run unrecorded); messages to one recorder keep their
 * order; what is posted but not yet recorded is bounded (twice the size
 * cap and 1 MiB; past it the recording stops as at the size cap, the
 * session goes on); `close` always resolves, with a summary of the file's
 * actual bytes even if the worker died.
 */
import { createHash } from 'node:crypto'
import { closeSync, existsSync, readFileSync, unlinkSync } from 'node:fs'
import { relative, isAbsolute } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { createRecordingFile, recordingFile, SessionRecorder, type OutputFormat, type RecorderOptions, type RecordingSummary } from './session-recorder.js'

/** One session's recorder, wherever it runs. Methods never throw; `close` never rejects. */
export interface Recorder {
  begin: (format: OutputFormat, size: { readonly width: number; readonly height: number }) => void
  output: (chunk: Buffer) => void
  input: (chunk: Buffer) => void
  resize: (cols: number, rows: number) => void
  close: () => Promise<RecordingSummary | null>
}

/** A message to the worker; `t` is the absolute time (ms) the bytes passed. */
export type HostMessage =
  | { readonly op: 'open'; readonly id: number; readonly fd: number; readonly options: Omit<RecorderOptions, 'clock'> }
  | { readonly op: 'begin'; readonly id: number; readonly t: number; readonly format: OutputFormat; readonly size: { width: number; height: number } }
  | { readonly op: 'output' | 'input'; readonly id: number; readonly t: number; readonly data: Uint8Array }
  | { readonly op: 'resize'; readonly id: number; readonly t: number; readonly cols: number; readonly rows: number }
  | { readonly op: 'overrun' | 'close'; readonly id: number; readonly t: number }

/** The worker's answer to `close`. */
export interface WorkerReply { readonly id: number; readonly summary: RecordingSummary | null }

const WORKER = new URL('./recorder-worker.js', import.meta.url)

/**
 * Creates the recording file (throws, naming it, when it cannot) and
 * returns its recorder: in the shared worker thread when it can run,
 * inline otherwise.
 */
export function openRecorder (options: RecorderOptions): Recorder {
  const fd = createRecordingFile(options)
  const host = options.clock === undefined ? workerHost() : null
  return host === null ? new SessionRecorder(options, fd) : host.recorder(options, fd)
}

let shared: WorkerHost | null | undefined

// DOCKGATE_RECORDER=inline keeps recorders on the serving thread (bench/sessions.mjs compares both).
function workerHost (): WorkerHost | null {
  if (shared === undefined) shared = process.env.DOCKGATE_RECORDER !== 'inline' && existsSync(fileURLToPath(WORKER)) ? new WorkerHost() : null
  return shared
}

/** The one worker thread and the recorders it runs. */
class WorkerHost {
  private worker: Worker | null = null
  private nextId = 1
  private readonly closing = new Map<number, (summary: RecordingSummary | null) => void>()
  private readonly open = new Map<number, { fd: number; options: RecorderOptions; began: boolean }>()
  /** Recordings the worker died with, and what their files held then. */
  private readonly lost = new Map<number, RecordingSummary | null>()

  recorder (options: RecorderOptions, fd: number): Recorder {
    const id = this.nextId++
    const limit = 2 * options.maxBytes + 1024 * 1024
    let posted = 0
    let overrun = false
    this.open.set(id, { fd, options, began: false })
    this.post({ op: 'open', id, fd, options: withoutClock(options) })
    this.worker?.ref()
    const bytes = (op: 'output' | 'input', chunk: Buffer): void => {
      if (overrun) return
      posted += chunk.length
      if (posted > limit) {
        overrun = true
        return this.post({ op: 'overrun', id, t: now() })
      }
      // A copy the worker owns: the chunk itself is still on its way to the other side.
      const data = new Uint8Array(chunk)
      this.post({ op, id, t: now(), data }, [data.buffer])
    }
    return {
      begin: (format, size) => {
        const state = this.open.get(id)
        if (state !== undefined) state.began = true
        this.post({ op: 'begin', id, t: now(), format, size: { width: size.width, height: size.height } })
      },
      output: (chunk) => { bytes('output', chunk) },
      input: (chunk) => { if (options.input) bytes('input', chunk) },
      resize: (cols, rows) => { this.post({ op: 'resize', id, t: now(), cols, rows }) },
      close: async () => await new Promise<RecordingSummary | null>((resolve) => {
        if (this.lost.has(id)) {
          resolve(this.lost.get(id) ?? null)
          this.lost.delete(id)
          return
        }
        this.closing.set(id, resolve)
        this.post({ op: 'close', id, t: now() })
      })
    }
  }

  private post (message: HostMessage, transfer: ArrayBuffer[] = []): void {
    // A recording the worker died with stays ended; a new worker knows nothing of it.
    if (this.lost.has(message.id)) return
    try {
      this.start().postMessage(message, transfer)
    } catch (err) {
      this.failed(err as Error)
    }
  }

  private start (): Worker {
    if (this.worker !== null) return this.worker
    const worker = new Worker(WORKER)
    worker.on('message', (reply: WorkerReply) => { this.settle(reply.id, reply.summary) })
    worker.on('error', (err) => { this.failed(err) })
    worker.on('exit', (code) => { if (this.worker === worker) this.failed(new Error(`the recorder thread exited (${code})`)) })
    // Idle, the thread never keeps the process alive; with recordings open it does (until their
    // summaries are back). Set after the listeners: adding a 'message' listener refs the port again.
    if (this.open.size === 0) worker.unref()
    this.worker = worker
    return worker
  }

  private settle (id: number, summary: RecordingSummary | null): void {
    const state = this.open.get(id)
    // The thread has written and synced the file; its descriptor is this thread's to close.
    if (state !== undefined) closeQuietly(state.fd)
    this.open.delete(id)
    if (this.open.size === 0) this.worker?.unref()
    const resolve = this.closing.get(id)
    this.closing.delete(id)
    resolve?.(summary)
  }

  /**
   * The worker died: every open recording ends here with what its file
   * holds (the record still vouches for exactly those bytes), and the next
   * recording starts a new worker.
   */
  private failed (err: Error): void {
    this.worker = null
    for (const [id, state] of [...this.open]) {
      this.open.delete(id)
      const summary = state.began ? salvage(state.fd, state.options, err) : discard(state.fd, state.options)
      const resolve = this.closing.get(id)
      this.closing.delete(id)
      // A session still open gets the same summary when it closes.
      if (resolve === undefined) this.lost.set(id, summary)
      else resolve(summary)
    }
  }
}

function closeQuietly (fd: number): void {
  try { closeSync(fd) } catch { /* already closed */ }
}

function salvage (fd: number, options: RecorderOptions, err: Error): RecordingSummary | null {
  closeQuietly(fd)
  const path = recordingFile(options)
  try {
    const bytes = readFileSync(path)
    const rel = relative(options.auditDir, path)
    return {
      file: rel.startsWith('..') || isAbsolute(rel) ? path : rel,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      truncated: 'error',
      input: options.input,
      error: `the recorder thread failed: ${err.message}`
    }
  } catch {
    return null
  }
}

function discard (fd: number, options: RecorderOptions): null {
  closeQuietly(fd)
  try { unlinkSync(recordingFile(options)) } catch { /* already gone */ }
  return null
}

function withoutClock (options: RecorderOptions): Omit<RecorderOptions, 'clock'> {
  return { dir: options.dir, auditDir: options.auditDir, auditID: options.auditID, title: options.title, input: options.input, maxBytes: options.maxBytes, maxSeconds: options.maxSeconds }
}

function now (): number {
  return performance.timeOrigin + performance.now()
}
