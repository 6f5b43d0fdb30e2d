/**
 * Audit files written by the real writer, for tests that tamper with them
 * or rotate them: a temp folder, a clock the test controls, and records as
 * the gateway writes them.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openAuditLog, type AuditLog, type AuditLogOptions } from '../../src/audit/log.js'
import type { AuditRecord } from '../../src/audit/record.js'
import { FileVerifier, linkFiles, type Problem } from '../../src/audit/verify.js'

/** A refusal record like the gateway writes; `n` goes into the target so records differ. */
export function sampleRecord (n: number): AuditRecord {
  return {
    schema: 1,
    auditID: randomUUID(),
    stage: 'Refused',
    receivedAt: new Date().toISOString(),
    client: { address: '127.0.0.1', port: 40000 + n },
    identity: null,
    request: { method: 'GET', target: `/v1.41/containers/c${n}/json`, path: `/containers/c${n}/json`, apiVersion: '1.41', upgrade: null },
    objectRef: { resource: 'containers', name: `c${n}`, subresource: 'json' },
    level: 'metadata',
    decision: 'deny',
    code: 'DG_DENIED',
    reason: 'dockgate: nobody may GET /containers/c/json',
    rule: null,
    status: 403
  }
}

/** A settable clock, starting at `start`. */
export function clock (start: string): { now: () => Date; set: (iso: string) => void; advance: (ms: number) => void } {
  let at = new Date(start).getTime()
  return { now: () => new Date(at), set: (iso) => { at = new Date(iso).getTime() }, advance: (ms) => { at += ms } }
}

/** A fresh folder with an audit file path in it. */
export function trailDir (): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-trail-'))
  return { dir, file: join(dir, 'audit.jsonl') }
}

/** Opens a trail at `file`, writes `count` sample records (numbered from `from`), and closes it. */
export async function writeTrail (file: string, count: number, options: Omit<AuditLogOptions, 'file'> = {}, from = 0): Promise<void> {
  const audit = openAuditLog({ ...options, file })
  writeSamples(audit, count, from)
  await audit.close()
}

/** Writes `count` sample records; throws if one is not written. */
export function writeSamples (audit: AuditLog, count: number, from = 0): void {
  for (let i = from; i < from + count; i++) {
    if (!audit.write(sampleRecord(i))) throw new Error(`record ${i} was not written`)
  }
}

/** The lines of a file, without the final newline. */
export function linesOf (file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n')
}

/** Rewrites a file from lines (each followed by a newline). */
export function writeLines (file: string, lines: readonly string[]): void {
  writeFileSync(file, lines.map((l) => l + '\n').join(''))
}

/** The `.jsonl` files in `dir`, sorted by name (rotated ones first: their names carry the time). */
export function trailFiles (dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort((a, b) => (a === 'audit.jsonl' ? 1 : b === 'audit.jsonl' ? -1 : a < b ? -1 : 1)).map((f) => join(dir, f))
}

/** Verifies files in-process exactly as `dockgate audit verify` does. */
export function verify (files: readonly string[], partialStart = false): { problems: Problem[]; notes: string[]; chains: number } {
  const summaries = files.map((file) => {
    const verifier = new FileVerifier(file)
    for (const line of linesOf(file)) verifier.line(line)
    return verifier.finish()
  })
  const linked = linkFiles(summaries, partialStart)
  return { problems: [...summaries.flatMap((s) => s.problems), ...linked.problems], notes: summaries.flatMap((s) => s.notes), chains: linked.chains.length }
}
