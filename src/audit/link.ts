/**
 * Linking checked files into chains (a file's first `prev` is the last hash
 * of the file before it), and judging where each chain starts. Pure.
 *
 * Invariants the writer keeps, which make a chain's start checkable:
 * - the first line of every file it creates is a FileOpened record, and a
 *   FileOpened `start` record continues from nothing (seq 0) whenever it
 *   is a file's first line (a restart on an existing file appends);
 * - one writer, one active file name (`opened.file`): workers write
 *   `audit-w1.jsonl`, `audit-w2.jsonl`, ..., so chains of one name are one
 *   writer's, and a second chain of that name means its file went away.
 * So only the oldest file of a writer's chain may lack its predecessor
 * (with `partialStart`, because retention deleted older files), and only
 * when it was opened by a rotation, reopen or recovery: any later gap, a
 * file whose first lines were cut, a file created again after its
 * predecessor was deleted in use, or a chain that starts anew beside an
 * older one of the same name is a problem.
 */
import { GENESIS, short } from './chain.js'
import type { FileSummary, Problem, RecordPoint } from './verify.js'

/** Files in chain order, from the first record given to the newest. */
export interface Chain {
  readonly files: readonly FileSummary[]
  /** True when the chain starts at its very first record (seq 0). */
  readonly fromGenesis: boolean
}

/** FileOpened reasons that begin a new file after a file the writer had open: retention may have deleted that one. */
const ROTATION_REASONS: ReadonlySet<string> = new Set(['rotate-size', 'rotate-daily', 'reopen', 'recover'])

/**
 * Orders files into chains by their links and reports every file whose
 * predecessor is missing; with `partialStart`, except the oldest file of
 * each writer's chain when it began with a rotation (see the module
 * comment). Files holding no record are reported too.
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
  problems.push(...startProblems(chains, partialStart))
  for (const s of summaries) {
    if (s.first === null) problems.push({ file: s.file, line: 1, code: 'DG_AUDIT_MALFORMED', message: `${s.file} holds no intact audit record` })
  }
  return { chains, problems }
}

// Chains are grouped by the writer's file name and ordered by their first
// record's time: within a group, only the first may start without its
// predecessor, and none after it may start from nothing.
function startProblems (chains: readonly Chain[], partialStart: boolean): Problem[] {
  const problems: Problem[] = []
  const groups = new Map<string, Chain[]>()
  for (const chain of chains) {
    const { file, first } = startOf(chain)
    const cut = cutStart(file, first)
    if (cut !== null) {
      problems.push(cut)
      continue
    }
    const name = first.opening?.file ?? file.file
    groups.set(name, [...(groups.get(name) ?? []), chain])
  }
  for (const [name, group] of groups) {
    const ordered = [...group].sort(byStart)
    ordered.forEach((chain, i) => {
      const { file, first } = startOf(chain)
      const earlier = ordered[i - 1]
      if (first.prev === GENESIS) {
        if (earlier !== undefined) problems.push(restarted(name, file, first, earlier))
      } else if (!partialStart || earlier !== undefined || !ROTATION_REASONS.has(first.opening?.reason ?? '')) {
        problems.push(missingBefore(file, first))
      }
    })
  }
  return problems
}

function startOf (chain: Chain): { file: FileSummary; first: RecordPoint } {
  const file = chain.files[0] as FileSummary
  return { file, first: file.first as RecordPoint }
}

function byStart (a: Chain, b: Chain): number {
  const x = startOf(a).first
  const y = startOf(b).first
  return (x.time ?? '') < (y.time ?? '') ? -1 : (x.time ?? '') > (y.time ?? '') ? 1 : x.seq - y.seq
}

// A file the writer created begins with a FileOpened record; a `start`
// record there continues from nothing. Anything else on line 1 means the
// lines before it were removed. (A damaged line 1 is reported on its own.)
function cutStart (s: FileSummary, first: RecordPoint): Problem | null {
  if (first.line !== 1) return null
  const where = `line 1 (seq ${first.seq})`
  if (first.opening === null) {
    return { file: s.file, line: 1, code: 'DG_AUDIT_GAP', message: `the first records of ${s.file} were removed: ${where} is not the FileOpened record every audit file begins with (it continues from seq ${first.seq - 1}, hash ${short(first.prev)})` }
  }
  if (first.opening.reason === 'start' && first.prev !== GENESIS) {
    return { file: s.file, line: 1, code: 'DG_AUDIT_GAP', message: `the first records of ${s.file} were removed: ${where} is a restart record that continues from seq ${first.seq - 1} (hash ${short(first.prev)}), which a file never begins with` }
  }
  return null
}

function missingBefore (s: FileSummary, first: RecordPoint): Problem {
  const named = first.previousFile === null ? '' : ` (its first record names ${first.previousFile})`
  const why = first.opening?.reason === 'recreate'
    ? `the file before it was deleted while dockgate was writing it${named}`
    : `a rotated file is missing${named}`
  return {
    file: s.file, line: first.line, code: 'DG_AUDIT_FILE_MISSING',
    message: `${s.file} continues from seq ${first.seq - 1} (hash ${short(first.prev)}), which is in no file given: ${why}`
  }
}

function restarted (name: string, s: FileSummary, first: RecordPoint, earlier: Chain): Problem {
  const end = earlier.files[earlier.files.length - 1] as FileSummary
  return {
    file: s.file, line: first.line, code: 'DG_AUDIT_CHAIN_RESTARTED',
    message: `${s.file} starts a new chain of ${name} (seq 0, ${first.time ?? '?'}) while ${end.file} holds an earlier chain of ${name} up to seq ${end.last?.seq ?? '?'} ` +
      `(${end.last?.time ?? '?'}): the active file was deleted or moved aside while dockgate was stopped, so records written after that may be missing`
  }
}
