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
 *   from the same record.
 * An incomplete last line that the writer acknowledged when it reopened
 * the file (FileOpened `opened.torn`, same length and SHA-256) is reported
 * as a note, not a problem: it is what a crash or power loss leaves.
 */
import { GENESIS, openLine, sha256, type ChainHead } from './chain.js'

/** A verification finding. */
export interface Problem {
  readonly file: string
  readonly line: number
  readonly code: 'DG_AUDIT_EDITED' | 'DG_AUDIT_GAP' | 'DG_AUDIT_MALFORMED' | 'DG_AUDIT_FILE_MISSING'
  readonly message: string
}

/** A sealed record's place, as far as linking files needs it. */
export interface RecordPoint extends ChainHead {
  readonly line: number
  readonly prev: string
  readonly time: string | null
  /** For a FileOpened record: the file it says precedes it. */
  readonly previousFile: string | null
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

  constructor (private readonly file: string) {}

  /** Checks the next line (without its line break). */
  line (text: string): void {
    this.lineNo += 1
    const opened = openLine(text)
    if (opened.kind === 'malformed') return this.setBad(text, 'DG_AUDIT_MALFORMED', `line ${this.lineNo} is not an intact audit record: ${opened.problem}`, null)
    if (opened.kind === 'edited') {
      const claimed = opened.seq === null ? null : { seq: opened.seq, hash: opened.stored }
      return this.setBad(text, 'DG_AUDIT_EDITED', `line ${this.lineNo}${opened.seq === null ? '' : ` (seq ${opened.seq})`} was changed after it was written: ` +
        `it hashes to ${short(opened.computed)}, not to the ${short(opened.stored)} it carries`, claimed)
    }
    const record = opened.record
    const point: RecordPoint = {
      seq: opened.seq, hash: opened.hash, prev: opened.prev, line: this.lineNo,
      time: typeof record.time === 'string' ? record.time : null, previousFile: previousFileOf(record)
    }
    this.settleBad(record)
    if (this.head !== null) this.checkLink(this.head, point)
    this.first ??= point
    this.head = point
    this.records += 1
  }

  /** The file's summary; call once, after the last line. */
  finish (): FileSummary {
    this.settleBad(null)
    return { file: this.file, lines: this.lineNo, records: this.records, first: this.first, last: this.head, problems: this.problems, notes: this.notes }
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
    if (bad.claimed !== null) this.head = { ...bad.claimed, line: bad.line, prev: '', time: null, previousFile: null }
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

/** Files in chain order, from the first record given to the newest. */
export interface Chain {
  readonly files: readonly FileSummary[]
  /** True when the chain starts at its very first record (seq 0). */
  readonly fromGenesis: boolean
}

/**
 * Orders files into chains by their links (a file's first `prev` is the
 * last hash of the file before it) and reports files whose predecessor is
 * missing. With `partialStart`, a chain may begin with a file whose
 * predecessors were deleted on purpose (retention): only its start is noted.
 */
export function linkFiles (summaries: readonly FileSummary[], partialStart = false): { chains: Chain[]; problems: Problem[] } {
  const problems: Problem[] = []
  const files = summaries.filter((s) => s.first !== null && s.last !== null)
  const byLast = new Map<string, FileSummary>()
  for (const s of files) byLast.set(s.last?.hash ?? '', s)
  const next = new Map<FileSummary, FileSummary>()
  const starts: FileSummary[] = []
  for (const s of files) {
    const first = s.first as RecordPoint
    const before = first.prev === GENESIS ? undefined : byLast.get(first.prev)
    if (before === undefined) {
      if (first.prev !== GENESIS && !partialStart) problems.push(missingBefore(s, first))
      starts.push(s)
    } else if (next.has(before)) {
      problems.push({ file: s.file, line: first.line, code: 'DG_AUDIT_FILE_MISSING', message: `${s.file} and ${next.get(before)?.file ?? ''} both continue from the last record of ${before.file}` })
    } else {
      next.set(before, s)
      if (first.seq !== (before.last?.seq ?? -1) + 1) problems.push({ file: s.file, line: first.line, code: 'DG_AUDIT_GAP', message: `line ${first.line} (seq ${first.seq}) does not follow seq ${before.last?.seq ?? '?'} at the end of ${before.file}` })
    }
  }
  const chains = starts.map((start) => {
    const list = [start]
    for (let s = next.get(start); s !== undefined; s = next.get(s)) list.push(s)
    return { files: list, fromGenesis: start.first?.prev === GENESIS }
  })
  for (const s of summaries) {
    if (s.first === null) problems.push({ file: s.file, line: 1, code: 'DG_AUDIT_MALFORMED', message: `${s.file} holds no intact audit record` })
  }
  return { chains, problems }
}

function missingBefore (s: FileSummary, first: RecordPoint): Problem {
  const named = first.previousFile === null ? '' : ` (its first record names ${first.previousFile})`
  return {
    file: s.file, line: first.line, code: 'DG_AUDIT_FILE_MISSING',
    message: `${s.file} continues from seq ${first.seq - 1} (hash ${short(first.prev)}), which is in no file given: a rotated file is missing${named}`
  }
}

function previousFileOf (record: Record<string, unknown>): string | null {
  const opened = record.opened as { previous?: { file?: unknown } | null } | undefined
  const file = opened?.previous?.file
  return typeof file === 'string' ? file : null
}

function tornOf (record: Record<string, unknown>): { bytes: number; sha256: string } | null {
  if (record.stage !== 'FileOpened') return null
  const torn = (record.opened as { torn?: { bytes?: unknown; sha256?: unknown } } | undefined)?.torn
  return typeof torn?.bytes === 'number' && typeof torn.sha256 === 'string' ? { bytes: torn.bytes, sha256: torn.sha256 } : null
}

function short (hash: string): string {
  return hash.slice(0, 12)
}
