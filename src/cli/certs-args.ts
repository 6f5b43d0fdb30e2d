/**
 * Flag handling shared by the `dockgate certs` subcommands: strict parsing
 * (a misspelt flag is an error, never ignored) and the number and duration
 * formats, each refused with a message that says what is accepted.
 */
import { MAX_DAYS, MAX_HOURS } from '../certs/issue.js'
import { DEFAULT_CERTS_DIR } from '../certs/store.js'
import { shellQuote } from '../certs/shell.js'

/** Bad command-line usage; reported with the usage text and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/**
 * Runs a `parseArgs` call, turning its TypeErrors (unknown flag, missing
 * value, stray positional: all the caller's typing) into {@link UsageError}s.
 */
export function asUsageError<T> (parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
}

/** A whole number of days from 1 to {@link MAX_DAYS}, or `fallback` when the flag is absent. */
export function parseDays (flag: string, raw: string | undefined, fallback: number): number {
  return parseCount(flag, raw, MAX_DAYS) ?? fallback
}

/** A whole number of hours from 1 to {@link MAX_HOURS}, or undefined when the flag is absent. */
export function parseHours (flag: string, raw: string | undefined): number | undefined {
  return parseCount(flag, raw, MAX_HOURS)
}

/** `--days N` or `--hours N` (not both): the validity in hours, or undefined when neither is given. */
export function validityHours (values: { days?: string; hours?: string }): number | undefined {
  if (values.days !== undefined && values.hours !== undefined) throw new UsageError('give --days or --hours, not both')
  const days = parseCount('--days', values.days, MAX_DAYS)
  return days === undefined ? parseHours('--hours', values.hours) : days * 24
}

/** A duration like `7d` or `12h`, in seconds (for `list --expiring`). */
export function parseDuration (flag: string, raw: string): number {
  const match = /^([1-9][0-9]{0,5})([dh])$/.exec(raw)
  if (match === null) throw new UsageError(`${flag} must be a duration like 7d or 12h, got '${raw}'`)
  return Number(match[1]) * (match[2] === 'd' ? 86_400 : 3600)
}

/** ` --dir DIR` for printed hints, or nothing when DIR is the default. */
export function dirFlag (dir: string): string {
  return dir === DEFAULT_CERTS_DIR ? '' : ` --dir ${shellQuote(dir)}`
}

function parseCount (flag: string, raw: string | undefined, max: number): number | undefined {
  if (raw === undefined) return undefined
  const count = /^[1-9][0-9]*$/.test(raw) ? Number(raw) : Number.NaN
  if (!(count <= max)) throw new UsageError(`${flag} must be a positive integer of at most ${max}, got '${raw}'`)
  return count
}
