/**
 * Checking audit files: each file line by line ({@link FileVerifier}), then
 * the files against each other ({@link linkFiles}). Pure: the caller reads
 * the files and feeds lines in order.
 *
 * What is detected (each with FILE:LINE):
 * - DG_AUDIT_EDITED: a line whose bytes no longer match its hash;
 * - DG_AUDIT_GAP: a record missing, inserted, duplicated or out of order
 *   (its `prev` or `seq` does not follow the record before it);
 * - DG_AUDIT_MALFORMED: a line that is not a sealed record;
 * - DG_AUDIT_FILE_MISSING: a file that continues from a record in no file
 *   given (a rotated file left out or deleted), or two files continuing
 *   from the same record;
 * - DG_AUDIT_CHAIN_RESTARTED: a writer's chain that starts anew beside an
 *   earlier one of the same file name (see link.ts for how starts are judged);
 * - DG_AUDIT_HEAD_MISSING: an anchor (a record hash from the copy kept off
 *   the host) that no record given carries;
 * - DG_AUDIT_RECORDING_MISSING and DG_AUDIT_RECORDING_EDITED: a session
 *   recording an intact record names is missing, or not the file it names
 *   (checked by recording-check.ts, which reads the files this collects).
 * Records removed from the end of the newest file leave no trace in the
 * files themselves; only an anchor from elsewhere shows them.
 * An incomplete last line that the writer acknowledged when it reopened
 * the file (FileOpened `opened.torn`, same length and SHA-256) is reported
 * as a note, not a problem: it is what a crash or power loss leaves.
 */
import { openLine, sha256, short, type ChainHead } from './chain.js'

import type { Chain } from './link.js'

export { linkFiles, type Chain } from './link.js'

/** A verification finding. */
export interface Problem {
  readonly file: string
  readonly line: number
  readonly code: 'DG_AUDIT_EDITED' | 'DG_AUDIT_GAP' | 'DG_AUDIT_MALFORMED' | 'DG_AUDIT_FILE_MISSING' | 'DG_AUDIT_CHAIN_RESTARTED' | 'DG_AUDIT_HEAD_MISSING' |
  'DG_AUDIT_RECORDING_MISSING' | 'DG_AUDIT_RECORDING_EDITED'
  readonly message: string
}

/** A sealed record's place, as far as linking files needs it. */
export interface RecordPoint extends ChainHead {
  readonly line: number
  readonly prev: string
  readonly time: string | null
  /** For a FileOpened record: the file it says precedes it. */
  readonly previousFile: string | null
  /** For a FileOpened record: why and as which file name the writer opened it. */
  readonly opening: Opening | null
}

/** What a FileOpened record says about how its part of the chain starts. */
export interface Opening {
  readonly reason: string
  /** The active file name the writer wrote to (`audit.jsonl`, `audit-w2.jsonl`): one name per writer. */
  readonly file: string | null
}

/** One file, checked on its own. */
export interface FileSummary {
  readonly file: string
  readonly lines: number
  readonly records: number
  readonly first: RecordPoint | null
  readonly last: RecordPoint | null
  readonly problems: readonly Problem[]
  readonly notes: readonly string[]
  /** The intact records in this file whose hash is one of the anchors asked for. */
  readonly anchored: readonly RecordPoint[]
  /** The session recordings intact records of this file name, in file order. */
  readonly recordings: readonly RecordingRef[]
}

/** A session recording as an intact record names it (the `recording` field). */
export interface RecordingRef {
  readonly line: number
  readonly auditID: string
  /** As recorded: relative to the audit file's folder, or absolute. */
  readonly file: string
  readonly bytes: number
  readonly sha256: string
}

type Bad = { readonly line: number; readonly text: string; readonly problem: Problem; readonly claimed: ChainHead | null }

/** Feeds one file's lines in order; {@link FileVerifier.finish} gives the summary. */
export class FileVerifier {
  private lineNo = 0
  private records = 0
  private first: RecordPoint | null = null
  private head: RecordPoint | null = null
  private bad: Bad | null = null
  private readonly problems: Problem[] = []
  private readonly notes: string[] = []
  private readonly anchored: RecordPoint[] = []
  private readonly recordings: RecordingRef[] = []

  /** `anchors`: record hashes (lower-case hex) to look for, e.g. heads taken from the off-host copy. */
  constructor (private readonly file: string, private readonly anchors: ReadonlySet<string> = new Set()) {}

  /**
   * Checks the next line (without its line break). Returns the record when
   * the line is an intact sealed record (so a reader such as the report
   * parses each line once), else null.
   */
  line (text: string): Record<string, unknown> | null {
    this.lineNo += 1
    const opened = openLine(text)
    if (opened.kind === 'malformed') {
      this.setBad(text, 'DG_AUDIT_MALFORMED', `line ${this.lineNo} is not an intact audit record: ${opened.problem}`, null)
      return null
    }
    if (opened.kind === 'edited') {
      const claimed = opened.seq === null ? null : { seq: opened.seq, hash: opened.stored }
      this.setBad(text, 'DG_AUDIT_EDITED', `line ${this.lineNo}${opened.seq === null ? '' : ` (seq ${opened.seq})`} was changed after it was written: ` +
        `it hashes to ${short(opened.computed)}, not to the ${short(opened.stored)} it carries`, claimed)
      return null
    }
    const record = opened.record
    const point: RecordPoint = {
      seq: opened.seq, hash: opened.hash, prev: opened.prev, line: this.lineNo,
      time: typeof record.time === 'string' ? record.time : null, previousFile: previousFileOf(record), opening: openingOf(record)
    }
    this.settleBad(record)
    if (this.head !== null) this.checkLink(this.head, point)
    this.first ??= point
    this.head = point
    if (this.anchors.has(point.hash)) this.anchored.push(point)
    const recording = recordingOf(record, this.lineNo)
    if (recording !== null) this.recordings.push(recording)
    this.records += 1
    return record
  }

  /** The file's summary; call once, after the last line. */
  finish (): FileSummary {
    this.settleBad(null)
    return { file: this.file, lines: this.lineNo, records: this.records, first: this.first, last: this.head, problems: this.problems, notes: this.notes, anchored: this.anchored, recordings: this.recordings }
  }

  private setBad (text: string, code: Problem['code'], message: string, claimed: ChainHead | null): void {
    this.settleBad(null)
    this.bad = { line: this.lineNo, text, problem: { file: this.file, line: this.lineNo, code, message }, claimed }
  }

  // A bad line is a problem unless the record after it is a FileOpened that
  // acknowledges it as the incomplete line it found. An edited line that kept
  // its hash field stands in for the record it replaced, so the edit is
  // reported once, not again as a gap.
  private settleBad (next: Record<string, unknown> | null): void {
    const bad = this.bad
    if (bad === null) return
    this.bad = null
    const torn = next === null ? null : tornOf(next)
    if (torn !== null && torn.bytes === Buffer.byteLength(bad.text) && torn.sha256 === sha256(bad.text)) {
      this.notes.push(`${this.file}:${bad.line} is an incomplete record the writer found and acknowledged when it reopened the file (a crash or power loss)`)
      return
    }
    this.problems.push(bad.problem)
    if (bad.claimed !== null) this.head = { ...bad.claimed, line: bad.line, prev: '', time: null, previousFile: null, opening: null }
  }

  private checkLink (before: RecordPoint, point: RecordPoint): void {
    if (point.prev === before.hash && point.seq === before.seq + 1) return
    const where = `line ${point.line} (seq ${point.seq})`
    let message: string
    if (point.seq > before.seq + 1) {
      const missing = point.seq - before.seq - 1
      message = `${missing === 1 ? `record seq ${before.seq + 1} is` : `records seq ${before.seq + 1} to ${point.seq - 1} are`} missing: ${where} follows seq ${before.seq} at line ${before.line}`
    } else if (point.seq <= before.seq) {
      message = `${where} is out of order or repeated: it follows seq ${before.seq} at line ${before.line}`
    } else {
      message = `${where} does not continue from line ${before.line}: its prev names another record (a record was replaced, or line ${before.line} was rewritten with a new hash)`
    }
    this.problems.push({ file: this.file, line: point.line, code: 'DG_AUDIT_GAP', message })
  }
}

/**
 * Problems for anchors (record hashes taken from a copy kept off the host)
 * that no intact record given carries: the records up to the anchor were
 * removed from the end of the trail (or the anchor is another trail's).
 * Each is placed at the head of the chain whose last record is newest,
 * where such records would have followed.
 */
export function anchorProblems (anchors: readonly string[], summaries: readonly FileSummary[], chains: readonly Chain[]): Problem[] {
  const found = new Set(summaries.flatMap((s) => s.anchored.map((p) => p.hash)))
  // A chain's files all hold records, so its last file has a last record.
  const heads = chains.map((c) => c.files[c.files.length - 1]).filter((f): f is FileSummary & { last: RecordPoint } => f?.last !== undefined && f.last !== null)
  const newest = heads.sort((a, b) => ((a.last.time ?? '') < (b.last.time ?? '') ? 1 : -1))[0]
  return anchors.filter((hash) => !found.has(hash)).map((hash) => ({
    file: newest?.file ?? summaries[0]?.file ?? '',
    line: newest?.last.line ?? 0,
    code: 'DG_AUDIT_HEAD_MISSING' as const,
    message: `the --head anchor ${hash} is in no file given: records up to it were removed from the end of the trail` +
      (newest === undefined ? '' : ` (this chain now ends at seq ${newest.last.seq}, line ${newest.last.line})`) +
      ', or the anchor belongs to another host\'s or writer\'s trail'
  }))
}

function recordingOf (record: Record<string, unknown>, line: number): RecordingRef | null {
  const recording = record.recording as { file?: unknown; bytes?: unknown; sha256?: unknown } | undefined
  if (recording === undefined || recording === null || typeof recording !== 'object') return null
  const { file, bytes, sha256 } = recording
  // A record that names a recording badly still names one: it is checked, and found missing.
  return {
    line,
    auditID: typeof record.auditID === 'string' ? record.auditID : '?',
    file: typeof file === 'string' ? file : '',
    bytes: typeof bytes === 'number' ? bytes : -1,
    sha256: typeof sha256 === 'string' ? sha256 : ''
  }
}

function previousFileOf (record: Record<string, unknown>): string | null {
  const opened = record.opened as { previous?: { file?: unknown } | null } | undefined
  const file = opened?.previous?.file
  return typeof file === 'string' ? file : null
}

function openingOf (record: Record<string, unknown>): Opening | null {
  if (record.stage !== 'FileOpened') return null
  const opened = record.opened as { reason?: unknown; file?: unknown } | undefined
  return { reason: typeof opened?.reason === 'string' ? opened.reason : '', file: typeof opened?.file === 'string' ? opened.file : null }
}

function tornOf (record: Record<string, unknown>): { bytes: number; sha256: string } | null {
  if (record.stage !== 'FileOpened') return null
  const torn = (record.opened as { torn?: { bytes?: unknown; sha256?: unknown } } | undefined)?.torn
  return typeof torn?.bytes === 'number' && typeof torn.sha256 === 'string' ? { bytes: torn.bytes, sha256: torn.sha256 } : null
}
