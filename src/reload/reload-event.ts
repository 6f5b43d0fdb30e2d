/**
 * What a reload did, in the shape the audit trail records it (a `Reloaded`
 * record, built in src/gateway/records.ts): so an auditor sees every
 * change of policy and config in the same hash chain as the requests it
 * changed, with the SHA-256 of the files as read.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { AuditRecord } from '../audit/record.js'

/** How a reload ended: applied whole, refused whole, or refused with only its added revocations applied. */
export type ReloadOutcome = ReloadEvent['outcome']

/** A file a reload read, and the SHA-256 of its bytes then (null when it could not be read). */
export type FileDigest = NonNullable<ReloadEvent['config']>

/**
 * One reload that applied or refused something (a reload that found
 * nothing changed is no event): exactly the `reload` field of the audit
 * record, whose schema (src/audit/schema.ts) documents each field.
 */
export type ReloadEvent = NonNullable<AuditRecord['reload']>

/** Problems listed in one event; the rest are counted. */
export const MAX_PROBLEMS = 20

/** The SHA-256 of `file` now; null when it cannot be read (a refused reload may be about exactly that). */
export async function digestOf (file: string | null | undefined): Promise<FileDigest | null> {
  if (file === null || file === undefined) return null
  try {
    return { file, sha256: createHash('sha256').update(await readFile(file)).digest('hex') }
  } catch {
    return { file, sha256: null }
  }
}
