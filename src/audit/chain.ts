/**
 * The hash chain that makes the audit trail tamper-evident. Pure.
 *
 * A sealed line is the record's JSON with three fields appended, always
 * last and in this order: `"seq":N,"prev":"P","hash":"H"`. H is the SHA-256
 * (hex) of the line's bytes without `,"hash":"H"` (so it covers `prev` and
 * `seq`), and P is the previous record's H (64 zeros for a chain's first
 * record). Checking a line needs no JSON canonicalisation: strip the fixed-
 * length suffix, hash, compare. So anyone can check a line with a shell:
 * `sed 's/,"hash":"[0-9a-f]*"}$/}/' | tr -d '\n' | sha256sum`.
 *
 * Invariants: a record's own bytes (edit), its neighbours (deletion,
 * insertion, reordering) and its position (seq) are all covered; the writer
 * hashes exactly the UTF-8 bytes it writes.
 */
import { createHash } from 'node:crypto'

/** The `prev` of a chain's first record. */
export const GENESIS = '0'.repeat(64)

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/
const SUFFIX_LENGTH = ',"hash":"'.length + 64 + '"}'.length

/** Where a chain stands: the last record's position and hash. */
export interface ChainHead {
  readonly seq: number
  readonly hash: string
}

/** A sealed line ready to append (newline included) and the head it makes. */
export interface SealedLine {
  readonly bytes: Buffer
  readonly head: ChainHead
}

/** SHA-256 hex of `data`. */
export function sha256 (data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** The first 12 hex digits of a hash: enough to tell records apart in a message. */
export function short (hash: string): string {
  return hash.slice(0, 12)
}

/**
 * Seals one serialised record (a JSON object, with or without its trailing
 * newline) as the record after `head` (null: the first of a new chain).
 * Throws if `json` is not an object's text; callers serialise objects only.
 */
export function seal (json: string, head: ChainHead | null): SealedLine {
  const body = json.endsWith('\n') ? json.slice(0, -1) : json
  if (!body.startsWith('{') || !body.endsWith('}')) throw new Error('an audit record must serialise to a JSON object')
  const seq = head === null ? 0 : head.seq + 1
  const prev = head === null ? GENESIS : head.hash
  const open = body.slice(0, -1)
  const chained = `${open}${open === '{' ? '' : ','}"seq":${seq},"prev":"${prev}"`
  // Hashing the text hashes its UTF-8 bytes, exactly those written: one buffer per line, not three.
  const hash = sha256(`${chained}}`)
  return { bytes: Buffer.from(`${chained},"hash":"${hash}"}\n`, 'utf8'), head: { seq, hash } }
}

/** What one line of an audit file is, as far as the chain is concerned. */
export type OpenedLine =
  | { readonly kind: 'sealed'; readonly seq: number; readonly prev: string; readonly hash: string; readonly record: Record<string, unknown> }
  | { readonly kind: 'edited'; readonly seq: number | null; readonly stored: string; readonly computed: string }
  | { readonly kind: 'malformed'; readonly problem: string }

/**
 * Reads one line (without its newline) back: sealed and intact, edited
 * (its bytes no longer match its hash), or not a sealed record at all.
 */
export function openLine (line: string): OpenedLine {
  const match = HASH_SUFFIX.exec(line)
  if (match === null) return { kind: 'malformed', problem: 'not a sealed audit record (no "hash" field at the end of the line)' }
  const stored = match[1] ?? ''
  const computed = sha256(line.slice(0, line.length - SUFFIX_LENGTH) + '}')
  let record: unknown
  try {
    record = JSON.parse(line)
  } catch {
    return computed === stored
      ? { kind: 'malformed', problem: 'not JSON' }
      : { kind: 'edited', seq: null, stored, computed }
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return { kind: 'malformed', problem: 'not a JSON object' }
  const fields = record as Record<string, unknown>
  const seq = Number.isSafeInteger(fields.seq) && (fields.seq as number) >= 0 ? fields.seq as number : null
  if (computed !== stored) return { kind: 'edited', seq, stored, computed }
  if (seq === null || typeof fields.prev !== 'string' || !/^[0-9a-f]{64}$/.test(fields.prev)) {
    return { kind: 'malformed', problem: 'the seq or prev field is missing or invalid' }
  }
  return { kind: 'sealed', seq, prev: fields.prev, hash: stored, record: fields }
}
