/**
 * Where a writer starting on an existing audit file continues its chain,
 * and what it should warn about when it cannot continue one: the active
 * file gone (or emptied) while rotated files of its name remain.
 *
 * Invariant: a writer only continues a chain it can verify: the file's
 * last complete line must be an intact sealed record, or it refuses.
 */
import { closeSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { openLine, type ChainHead } from './chain.js'
import { isRotatedName, utcDay } from './rotation.js'
import { readTail } from './tail.js'

/** The chain head an existing file ends with, and the UTC day of that last record (null when it has no time). */
export interface ResumePoint {
  readonly head: ChainHead
  readonly day: string | null
}

/**
 * The resume point of an existing file's last complete line (null for an
 * empty file). Throws, saying what to do, when it cannot be continued.
 */
export function resumePointOf (file: string, lastLine: string | null, torn: boolean): ResumePoint | null {
  if (lastLine === null) {
    if (torn) throw new Error(`${file} holds only an incomplete line: move it aside (keep it for the auditor) and start again`)
    return null
  }
  const opened = openLine(lastLine)
  if (opened.kind !== 'sealed') {
    throw new Error(`${file} does not end with a sealed audit record (${opened.kind === 'malformed' ? opened.problem : 'its last line was edited'}); ` +
      'dockgate only continues a chain it can verify: move the file aside (keep it for the auditor) and start again')
  }
  const time = typeof opened.record.time === 'string' ? new Date(opened.record.time) : null
  return { head: { seq: opened.seq, hash: opened.hash }, day: time === null || Number.isNaN(time.getTime()) ? null : utcDay(time) }
}

/**
 * Why a writer could not start on the existing audit file `file` (it does
 * not end with a sealed record), or null when it can (or there is no file
 * yet). Only reads; `serve --check` asks this so it agrees with `serve`.
 */
export function continuationProblem (file: string): string | null {
  let fd: number
  try {
    fd = openSync(file, 'r')
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : (err as Error).message
  }
  try {
    const tail = readTail(fd, fstatSync(fd).size)
    resumePointOf(file, tail.lastLine, tail.torn.length > 0)
    return null
  } catch (err) {
    return (err as Error).message
  } finally {
    closeSync(fd)
  }
}

/**
 * Rotated files of `file` in its folder (dockgate's own names and
 * logrotate's, gzipped or not), newest first by modification time. A
 * writer that finds no chain to continue while these exist is starting a
 * second chain: its active file was deleted or emptied while it was not
 * running. Best effort: an unreadable folder gives none.
 */
export function rotatedFilesOf (file: string): string[] {
  try {
    const dir = dirname(file)
    return readdirSync(dir).filter((name) => isRotatedName(basename(file), name))
      .map((name) => ({ name, mtime: statSync(join(dir, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime).map((f) => f.name)
  } catch {
    return []
  }
}
