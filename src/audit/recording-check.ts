/**
 * The second half of `audit verify` for session recordings: each recording
 * an intact record names (FileSummary.recordings) must exist and have
 * exactly the size and SHA-256 the record carries. The record is in the
 * hash chain, so a recording that matches it is the one written; one byte
 * changed, a file cut short, replaced or deleted is a problem at the
 * record's FILE:LINE, naming the recording.
 *
 * Where a recording is looked for: as the record names it, relative to the
 * folder of the audit file the record is in (or absolute); or, with
 * `sessionsDir` (verify --sessions DIR), by its file name in that folder,
 * for recordings copied somewhere else than beside the trail.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { basename, dirname, isAbsolute, resolve } from 'node:path'
import { short } from './chain.js'
import type { FileSummary, Problem, RecordingRef } from './verify.js'

/** Where the recording `ref`, named in audit file `auditFile`, is looked for. */
export function recordingPath (ref: Pick<RecordingRef, 'file'>, auditFile: string, sessionsDir?: string): string {
  if (sessionsDir !== undefined) return resolve(sessionsDir, basename(ref.file))
  return isAbsolute(ref.file) ? ref.file : resolve(dirname(auditFile), ref.file)
}

/** Problems with the recordings one file's records name; one at a time, in file order. */
export async function recordingProblems (summary: FileSummary, sessionsDir?: string): Promise<Problem[]> {
  const problems: Problem[] = []
  for (const ref of summary.recordings) {
    const problem = await checkRecording(ref, summary.file, sessionsDir)
    if (problem !== null) problems.push(problem)
  }
  return problems
}

async function checkRecording (ref: RecordingRef, auditFile: string, sessionsDir: string | undefined): Promise<Problem | null> {
  const path = recordingPath(ref, auditFile, sessionsDir)
  const what = `the recording ${ref.file === '' ? '(unnamed)' : ref.file} of record ${ref.auditID} (line ${ref.line})`
  const at = { file: auditFile, line: ref.line }
  const read = await digest(path)
  if ('error' in read) {
    return { ...at, code: 'DG_AUDIT_RECORDING_MISSING', message: `${what} cannot be read at ${path}: ${read.error}; without it the session cannot be replayed or checked` }
  }
  if (read.bytes === ref.bytes && read.sha256 === ref.sha256) return null
  return {
    ...at,
    code: 'DG_AUDIT_RECORDING_EDITED',
    message: `${what} at ${path} is not the file the record names: it has ${read.bytes} bytes and SHA-256 ${short(read.sha256)}, ` +
      `the record says ${ref.bytes} bytes and ${short(ref.sha256)} (edited, cut short or replaced after the session)`
  }
}

async function digest (path: string): Promise<{ bytes: number; sha256: string } | { error: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  try {
    for await (const chunk of createReadStream(path)) {
      const buffer = chunk as Buffer
      hash.update(buffer)
      bytes += buffer.length
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return { error: code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (err as Error).message }
  }
  return { bytes, sha256: hash.digest('hex') }
}
