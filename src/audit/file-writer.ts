/**
 * The audit file writer: appends sealed lines (chain.ts) with synchronous
 * writes, rotates by size and by day, reopens on request (SIGHUP, for
 * logrotate), and knows at every moment whether records can be written.
 *
 * Why not pino.destination (sonic-boom) or pino-roll: after a failed write
 * sonic-boom keeps the bytes and writes them later (out of order and after
 * the request was answered), a partial write stays in the file as a broken
 * line, and neither it nor pino-roll can carry a hash chain across files.
 *
 * Invariants:
 * - A line is in the file completely or not at all: a failed or short write
 *   is truncated away, so the chain head in memory always matches the file.
 * - The chain never breaks across rotation, reopening, recovery or restart:
 *   each newly opened file (or reopened part) starts with a FileOpened
 *   record whose `prev` is the last record written before it.
 * - The old file stays open until a new one is open and sealed, so a
 *   rotation or reopen that fails loses nothing.
 * - Records that cannot be written are counted; writing resumes by itself
 *   (retried each second and before each request) and the FileOpened record
 *   that resumes says how many were lost and why.
 */
import { randomUUID } from 'node:crypto'
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname } from 'node:path'
import { seal, type ChainHead } from './chain.js'
import { ignoreErrors, messageOf, nameOfOpenFile, syncFolder, tornFacts } from './file-ops.js'
import { rotatedPath, rotationDue, utcDay, type RotatePolicy } from './rotation.js'
import { AUDIT_SCHEMA_VERSION, type OPEN_REASONS } from './schema.js'
import { resumePointOf, rotatedFilesOf } from './resume.js'
import { lockAuditFile } from './lock.js'
import { readTail } from './tail.js'

/** Why a file was opened (FileOpened `opened.reason`). */
export type OpenReason = typeof OPEN_REASONS[number]

/** What the writer tells the operational log. */
export type WriterEvent =
  | { readonly kind: 'opened'; readonly reason: OpenReason; readonly file: string; readonly previousFile: string | null }
  | { readonly kind: 'write-failed' | 'rotate-failed' | 'reopen-failed'; readonly error: string }
  | { readonly kind: 'recovered'; readonly failedWrites: number; readonly since: string }
  /** At start: no chain to continue (the file is missing or empty) while rotated files of its name exist. */
  | { readonly kind: 'new-chain'; readonly file: string; readonly rotated: readonly string[] }
  /** An incomplete last line was found, ended and acknowledged (FileOpened `opened.torn`). */
  | { readonly kind: 'torn'; readonly file: string; readonly bytes: number }

/** Options of {@link ChainWriter}; see the config's `audit:` section. */
export interface ChainWriterOptions {
  readonly file: string
  readonly fsync: boolean
  readonly rotate: RotatePolicy
  readonly version: string
  readonly now: () => Date
  /** Every line written (FileOpened records included), once it is in the file. */
  readonly onWritten: (line: Buffer, auditID: string) => void
  readonly onEvent: (event: WriterEvent) => void
  /** fs.writeSync unless set: tests put a full disk behind it. */
  readonly writeSync?: typeof writeSync
}

/** Audit health, for /readyz and the audit-failure metric. */
export interface AuditHealth {
  readonly writable: boolean
  readonly writeFailures: number
  readonly lastError: string | null
}

const RETRY_MS = 1000
const ROTATE_RETRY_MS = 10_000

/** See the module comment. `new` opens the file and throws if it cannot. */
export class ChainWriter {
  private fd: number | null = null
  private head: ChainHead | null = null
  private size = 0
  private records = 0
  private day = ''
  /** Where the open file is now: the active path, or its rotated name while a new file cannot be created. */
  private where: string
  private failure: { since: Date; count: number; error: string } | null = null
  private writeFailures = 0
  private lastError: string | null = null
  private rotateRetryAt = 0
  private timer: NodeJS.Timeout | null = null
  private readonly unlock: () => void

  constructor (private readonly options: ChainWriterOptions) {
    this.where = options.file
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o750 })
    this.unlock = lockAuditFile(options.file)
    try {
      this.openActive('start', basename(options.file))
    } catch (err) {
      this.unlock()
      throw err
    }
  }

  /** Appends one serialised record; false when it could not be written (counted, and reported once per outage). */
  append (json: string, auditID: string): boolean {
    if (!this.ready()) return this.lost(null)
    try {
      const now = this.options.now()
      let sealed = seal(json, this.head)
      const due = rotationDue(this.options.rotate, { size: this.size, records: this.records, day: this.day }, sealed.bytes.length, now)
      if (due !== null && now.getTime() >= this.rotateRetryAt && this.rotate(due, now)) sealed = seal(json, this.head)
      this.writeLine(sealed.bytes, sealed.head, now)
      this.options.onWritten(sealed.bytes, auditID)
      return true
    } catch (err) {
      return this.lost(err)
    }
  }

  /**
   * True when records can be written now. Checks that the open file still
   * has a name (a deleted file would swallow records) and, after a failure,
   * tries to resume. Cheap when healthy: one fstat.
   */
  ready (): boolean {
    if (this.failure !== null) return this.tryRecover()
    if (this.fd === null) return false
    try {
      if (fstatSync(this.fd).nlink === 0) this.openActive('recreate', basename(this.options.file))
      return true
    } catch (err) {
      this.markFailed(err)
      return false
    }
  }

  /**
   * For logrotate (SIGHUP): when the active path no longer names the open
   * file, opens a new file there, continuing the chain. Nothing happens when
   * it still does. If it fails, records keep going to the old file.
   */
  reopen (): { reopened: boolean; error: string | null } {
    if (this.failure !== null) return { reopened: this.tryRecover(), error: this.failure?.error ?? null }
    if (this.fd === null || this.isActive(this.fd)) return { reopened: false, error: null }
    try {
      this.openActive('reopen', nameOfOpenFile(this.fd))
      return { reopened: true, error: null }
    } catch (err) {
      this.lastError = messageOf(err)
      this.options.onEvent({ kind: 'reopen-failed', error: this.lastError })
      return { reopened: false, error: this.lastError }
    }
  }

  health (): AuditHealth {
    return { writable: this.failure === null && this.fd !== null, writeFailures: this.writeFailures, lastError: this.lastError }
  }

  close (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
    this.unlock()
  }

  // Opens the active path and seals a FileOpened record into it; only then
  // is the previous file closed. At start the chain continues from the
  // file's own last record, and the day daily rotation compares with is
  // that record's, not today's: a restart on a new day must still rotate at
  // its first write. Throws (keeping the old file) on any failure.
  private openActive (reason: OpenReason, previousFile: string | null): void {
    const { file } = this.options
    mkdirSync(dirname(file), { recursive: true, mode: 0o750 })
    const fd = openSync(file, 'a+', 0o640)
    const found = fstatSync(fd).size
    try {
      let size = found
      const tail = readTail(fd, size)
      const starting = this.fd === null && this.head === null
      const resumed = starting ? resumePointOf(file, tail.lastLine, tail.torn.length > 0) : null
      const head = starting ? resumed?.head ?? null : this.head
      if (tail.torn.length > 0) size += this.writeAll(fd, Buffer.from('\n'))
      const now = this.options.now()
      const opened = {
        reason,
        file: basename(file),
        host: hostname(),
        pid: process.pid,
        version: this.options.version,
        previous: head === null ? null : { file: previousFile, seq: head.seq, hash: head.hash },
        ...(tail.torn.length > 0 ? { torn: tornFacts(tail.torn) } : {}),
        ...(this.failure === null ? {} : { outage: { since: this.failure.since.toISOString(), failedWrites: this.failure.count, error: this.failure.error } })
      }
      const auditID = randomUUID()
      const json = JSON.stringify({ time: now.toISOString(), schema: AUDIT_SCHEMA_VERSION, auditID, stage: 'FileOpened', opened })
      const sealed = seal(json, head)
      this.writeAll(fd, sealed.bytes)
      if (this.options.fsync) { fdatasyncSync(fd); syncFolder(file) }
      if (this.fd !== null && this.fd !== fd) closeSync(this.fd)
      this.fd = fd
      this.size = size + sealed.bytes.length
      this.head = sealed.head
      this.records = 1
      this.day = resumed?.day ?? utcDay(now)
      this.where = file
      this.options.onWritten(sealed.bytes, auditID)
      this.announce(reason, head === null ? null : previousFile, tail.torn.length, starting && head === null)
    } catch (err) {
      // Leave the file as found, so the next attempt sees the same tail.
      ignoreErrors(() => { ftruncateSync(fd, found) })
      closeSync(fd)
      throw err
    }
  }

  // The operational log's view of an open: a torn line and a chain that
  // starts anew beside rotated files are warnings, each needing a look.
  private announce (reason: OpenReason, previousFile: string | null, torn: number, fresh: boolean): void {
    const { file, onEvent } = this.options
    onEvent({ kind: 'opened', reason, file, previousFile })
    if (torn > 0) onEvent({ kind: 'torn', file, bytes: torn })
    const rotated = fresh ? rotatedFilesOf(file) : []
    if (rotated.length > 0) onEvent({ kind: 'new-chain', file, rotated })
  }

  private writeLine (bytes: Buffer, head: ChainHead, now: Date): void {
    const fd = this.fd
    if (fd === null) throw new Error('the audit file is not open')
    try {
      this.writeAll(fd, bytes)
      if (this.options.fsync) fdatasyncSync(fd)
    } catch (err) {
      // Keep the file line-clean and in step with the chain head in memory.
      ignoreErrors(() => { ftruncateSync(fd, this.size) })
      throw err
    }
    this.size += bytes.length
    this.records += 1
    this.head = head
    this.day = utcDay(now)
  }

  // True when a new file was opened (its FileOpened record moved the head).
  private rotate (reason: 'rotate-daily' | 'rotate-size', now: Date): boolean {
    const { file } = this.options
    try {
      if (this.where === file) {
        const target = rotatedPath(file, now, existsSync)
        renameSync(file, target)
        this.where = target
      }
      this.openActive(reason, basename(this.where))
      return true
    } catch (err) {
      // Records keep going to the file already open (under whichever name), so nothing is lost.
      this.rotateRetryAt = now.getTime() + ROTATE_RETRY_MS
      this.lastError = messageOf(err)
      this.options.onEvent({ kind: 'rotate-failed', error: this.lastError })
      return false
    }
  }

  private tryRecover (): boolean {
    const failure = this.failure
    if (failure === null) return true
    try {
      this.openActive('recover', basename(this.where))
      this.failure = null
      if (this.timer !== null) clearInterval(this.timer)
      this.timer = null
      this.options.onEvent({ kind: 'recovered', failedWrites: failure.count, since: failure.since.toISOString() })
      return true
    } catch (err) {
      failure.error = messageOf(err)
      this.lastError = failure.error
      return false
    }
  }

  private lost (err: unknown): false {
    if (err !== null) this.markFailed(err)
    if (this.failure !== null) this.failure.count += 1
    this.writeFailures += 1
    return false
  }

  private markFailed (err: unknown): void {
    this.lastError = messageOf(err)
    if (this.failure !== null) {
      this.failure.error = this.lastError
      return
    }
    this.failure = { since: this.options.now(), count: 0, error: this.lastError }
    this.options.onEvent({ kind: 'write-failed', error: this.lastError })
    this.timer = setInterval(() => { this.tryRecover() }, RETRY_MS)
    this.timer.unref()
  }

  private writeAll (fd: number, bytes: Buffer): number {
    const write = this.options.writeSync ?? writeSync
    let done = 0
    while (done < bytes.length) done += write(fd, bytes, done, bytes.length - done)
    return done
  }

  private isActive (fd: number): boolean {
    try {
      const named = statSync(this.options.file)
      const open = fstatSync(fd)
      return named.ino === open.ino && named.dev === open.dev
    } catch {
      return false
    }
  }
}
