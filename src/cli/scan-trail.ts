/**
 * The trail side of `dockgate scan`: which audit files make up the trail
 * (the config's `audit.file`, its rotated files and the workers' files,
 * unless `--audit` names them), and which of the objects on the daemon
 * have a `ResponseComplete` create record there (the gateway recorded the
 * Id, or a volume's name, the daemon answered the create with).
 *
 * Fails closed: a file that cannot be read, or a trail that does not
 * verify (an edited, inserted or removed record could hide or invent a
 * create), is an error, never "no records". Memory stays bounded by the
 * objects on the daemon: only creates of those are kept.
 */
import { createReadStream } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { isRotatedName } from '../audit/rotation.js'
import { FileVerifier, linkFiles, type FileSummary } from '../audit/verify.js'

/** A create the gateway recorded. */
export interface CreateRecord {
  readonly auditID: string
  readonly time: string
  /** The certificate subject or socket identity that created it. */
  readonly who: string
  /** The team whose rule allowed it. */
  readonly team: string | null
}

/** The audit files of the trail whose active file is `auditFile`: it, its rotated files, and every worker's (`audit-w2.jsonl` ...). */
export async function trailFiles (auditFile: string): Promise<string[]> {
  const dir = dirname(auditFile)
  const active = basename(auditFile)
  const ext = extname(active)
  const stem = basename(active, ext)
  const worker = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-w\\d+${ext.replace('.', '\\.')}$`)
  const names = await readdir(dir)
  const actives = [active, ...names.filter((n) => worker.test(n))]
  return names.filter((n) => actives.includes(n) || actives.some((a) => isRotatedName(a, n))).sort().map((n) => join(dir, n))
}

/** Key of an object in the map {@link readCreates} returns. */
export const createKey = (resource: string, id: string): string => `${resource}:${id}`

/**
 * Streams `files`, verifying each, and returns the create records of the
 * objects in `wanted` (keys from {@link createKey}), or why the trail
 * cannot be relied on. Older files may be missing (retention): a chain
 * may start after its first record, as with `audit verify --partial-start`.
 */
export async function readCreates (files: readonly string[], wanted: ReadonlySet<string>): Promise<{ creates: Map<string, CreateRecord>; records: number } | { problem: string }> {
  const creates = new Map<string, CreateRecord>()
  const summaries: FileSummary[] = []
  let records = 0
  for (const file of files) {
    const verifier = new FileVerifier(file)
    let input: Readable = createReadStream(file)
    if (file.endsWith('.gz')) input = input.pipe(createGunzip())
    try {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        const record = verifier.line(line)
        if (record === null) continue
        records += 1
        const found = createOf(record)
        if (found !== null && wanted.has(found.key)) creates.set(found.key, found.create)
      }
    } catch (err) {
      return { problem: `cannot read ${file}: ${(err as Error).message}` }
    }
    summaries.push(verifier.finish())
  }
  const linked = linkFiles(summaries, true)
  const problems = [...summaries.flatMap((s) => s.problems), ...linked.problems]
  const first = problems[0]
  if (first !== undefined) {
    return { problem: `the audit trail does not verify (${problems.length} problem(s)), so it cannot show what was created through the gateway; the first: ${first.file}:${first.line} ${first.code} ${first.message} (run dockgate audit verify)` }
  }
  return { creates, records }
}

type Rec = Record<string, unknown>
const obj = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Rec : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

// A create the daemon answered 201 (forwarded, allowed or in dry-run), with the Id it answered.
function createOf (record: Rec): { key: string; create: CreateRecord } | null {
  if (record.stage !== 'ResponseComplete' || record.upstreamStatus !== 201) return null
  const ref = obj(record.objectRef)
  const id = str(ref.createdId)
  if (ref.subresource !== 'create' || id === '') return null
  const resource = str(ref.resource)
  if (resource !== 'containers' && resource !== 'volumes' && resource !== 'networks') return null
  const identity = obj(record.identity)
  const rule = obj(record.rule)
  const who = str(identity.subject) || (str(identity.socket) === '' ? '(unknown)' : `socket ${str(identity.socket)}`)
  return { key: createKey(resource, id), create: { auditID: str(record.auditID), time: str(record.time), who, team: str(rule.team) || null } }
}
