/**
 * Reading a session recording (asciicast v2: a JSON header line, then
 * `[seconds, "o"|"i", "data"]` lines) back for the auditor's report, checked
 * against what the session's audit record says of it.
 *
 * Invariant: a recording is handed out only when its size and SHA-256 are
 * those its (hash-chained) record carries; an edited, replaced, cut or
 * missing recording is reported as such and never shown as if it were
 * what the session saw.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { dirname, isAbsolute, resolve } from 'node:path'

/** What the record says of the recording (see report-data.ts RecordingRef). */
export interface CastRef {
  readonly file: string
  readonly bytes: number
  readonly sha256: string
}

/** A recording checked against its record. */
export type CastCheck =
  | { readonly kind: 'ok'; readonly path: string; readonly text: string }
  | { readonly kind: 'skipped'; readonly path: string; readonly why: string }
  | { readonly kind: 'bad'; readonly path: string; readonly why: string }

/** Where a recording is: its `file` is relative to the folder of the audit file that holds the record, or absolute. */
export function castPath (auditFile: string, file: string): string {
  return isAbsolute(file) ? file : resolve(dirname(auditFile), file)
}

/**
 * Reads the recording `ref` names (from the record in `auditFile`) if it is
 * at most `maxBytes`, and checks its size, hash and header. Never throws.
 */
export async function readCast (auditFile: string, ref: CastRef, maxBytes: number): Promise<CastCheck> {
  const path = castPath(auditFile, ref.file)
  const size = await stat(path).then((s) => s.size, (err: NodeJS.ErrnoException) => err)
  if (typeof size !== 'number') return { kind: 'bad', path, why: size.code === 'ENOENT' ? 'the recording is missing' : `the recording cannot be read (${size.message})` }
  if (size !== ref.bytes) return { kind: 'bad', path, why: `the recording is ${size} bytes, its record says ${ref.bytes}: it was changed after the session` }
  if (size > maxBytes) return { kind: 'skipped', path, why: `not embedded: ${size} bytes is over what is left of the report's budget for recordings` }
  const bytes = await readFile(path).catch((err: Error) => err)
  if (bytes instanceof Error) return { kind: 'bad', path, why: `the recording cannot be read (${bytes.message})` }
  const hash = createHash('sha256').update(bytes).digest('hex')
  if (hash !== ref.sha256) return { kind: 'bad', path, why: `the recording's SHA-256 is ${hash.slice(0, 12)}…, its record says ${ref.sha256.slice(0, 12)}…: it was changed after the session` }
  const text = bytes.toString('utf8')
  const header = parseHeader(text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n')))
  if (header !== null) return { kind: 'bad', path, why: header }
  return { kind: 'ok', path, text }
}

function parseHeader (line: string): string | null {
  try {
    const header = JSON.parse(line) as { version?: unknown } | null
    return header?.version === 2 ? null : 'the recording is not asciicast version 2'
  } catch {
    return 'the recording does not start with an asciicast header'
  }
}
