/**
 * When to rotate and what rotated files are called. Pure.
 *
 * A rotated file keeps the active file's name with the UTC time of the
 * rotation before the extension (`audit.jsonl` becomes
 * `audit.2026-11-24T00-00-00.012Z.jsonl`), so names sort by time and a
 * worker's files (`audit-w2.jsonl`) stay apart from the others.
 */
import { basename, dirname, extname, join } from 'node:path'

/** `audit.rotate`: a size limit (bytes, 0 = none) and/or one file per UTC day. */
export interface RotatePolicy {
  readonly maxBytes: number
  readonly daily: boolean
}

/** No rotation: what `audit.rotate` means when absent. */
export const NO_ROTATION: RotatePolicy = Object.freeze({ maxBytes: 0, daily: false })

/** The UTC day of `at`, like `2026-11-24`. */
export function utcDay (at: Date): string {
  return at.toISOString().slice(0, 10)
}

/** What the active file holds, for the rotation decision. */
export interface ActiveFile {
  readonly size: number
  /** Records in it written by this writer (its FileOpened included). */
  readonly records: number
  /** The UTC day of its newest record. */
  readonly day: string
}

/**
 * Why the active file must be rotated before writing a line of `lineBytes`
 * at `now`, or null. A file holding only its opening record is never
 * rotated for size (a record larger than maxBytes still gets written).
 */
export function rotationDue (policy: RotatePolicy, file: ActiveFile, lineBytes: number, now: Date): 'rotate-daily' | 'rotate-size' | null {
  if (policy.daily && utcDay(now) !== file.day) return 'rotate-daily'
  if (policy.maxBytes > 0 && file.size + lineBytes > policy.maxBytes && file.records > 1) return 'rotate-size'
  return null
}

/**
 * The name to rotate `path` to at `at`: the first of `stem.TIME.ext`,
 * `stem.TIME-1.ext`, ... that `exists` says is free.
 */
export function rotatedPath (path: string, at: Date, exists: (candidate: string) => boolean): string {
  const ext = extname(path)
  const stem = basename(path, ext)
  const stamp = at.toISOString().replaceAll(':', '-')
  for (let n = 0; ; n++) {
    const candidate = join(dirname(path), `${stem}.${stamp}${n === 0 ? '' : `-${n}`}${ext}`)
    if (!exists(candidate)) return candidate
  }
}

/**
 * Whether `name` (in the same folder) is a rotated file of the active file
 * `active`: dockgate's `audit.<time>.jsonl` and logrotate's
 * `audit.jsonl.1`, `audit.jsonl-20261124`, each maybe `.gz`. Another
 * writer's file (`audit-w2.jsonl` and its rotated files) is not.
 */
export function isRotatedName (active: string, name: string): boolean {
  const ext = extname(active)
  const stem = basename(active, ext)
  if (name === active) return false
  const bare = name.endsWith('.gz') ? name.slice(0, -3) : name
  // dockgate's own: the rotation time between stem and extension
  if (bare.startsWith(`${stem}.`) && bare.endsWith(ext) && /^\d{4}-\d\d-\d\dT/.test(bare.slice(stem.length + 1))) return true
  // logrotate's: a number or a date (dateext) after the full name
  return bare.startsWith(active) && /^[.-]\d+$/.test(bare.slice(active.length))
}

/**
 * A cluster worker's own audit file: `audit.jsonl` for worker 2 is
 * `audit-w2.jsonl`. Each worker writes its own file and chain (two writers
 * can never share one); `dockgate audit verify` checks them together.
 */
export function workerFile (path: string, worker: number): string {
  const ext = extname(path)
  return join(dirname(path), `${basename(path, ext)}-w${worker}${ext}`)
}
