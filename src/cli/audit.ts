/**
 * `dockgate audit verify FILE...`: checks audit files (rotated, gzipped by
 * logrotate, from several workers, in any order) and the session
 * recordings their records name, and says whether the trail is complete
 * and unedited, naming the first problem's FILE:LINE.
 * `dockgate audit schema` prints the record schema (JSON Schema).
 * `dockgate audit replay` plays a session recording (replay.ts).
 * `dockgate audit report` (audit-report.ts) writes the auditor's report.
 *
 * Exit codes: 0 intact, 1 a problem was found, 2 usage or unreadable file.
 */
import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { createGunzip } from 'node:zlib'
import { auditRecordJsonSchema } from '../audit/schema.js'
import { anchorProblems, FileVerifier, linkFiles, type Chain, type FileSummary, type Problem } from '../audit/verify.js'
import { recordingProblems } from '../audit/recording-check.js'

const USAGE = `usage: dockgate audit verify [--partial-start] [--head HASH]... [--sessions DIR] FILE...
       dockgate audit report FILE... (--html OUT.html | --text) [--since WHEN] [--until WHEN] [--config FILE]
       dockgate audit schema
       dockgate audit replay [--config FILE] [--speed N | --max-idle S] ID|FILE.cast

verify checks every file's hash chain and how the files continue each other
(give all rotated files; several workers' files may be given together).
--partial-start accepts chains whose oldest files were deleted on purpose.
--head HASH     a record hash from the copy kept off the host (the syslog or
                stdout sink), e.g. the last one it holds: verify fails unless
                a record with that hash is in the files, so records removed
                from the end before it are detected. Repeatable (or several
                hashes separated by commas).
--sessions DIR  where the session recordings are, when not where the records
                name them (beside the audit file): each is looked for by its
                file name in DIR. Every recording a record names must be
                there with the size and SHA-256 the record says.
replay plays a recording in the terminal (see dockgate audit replay --help).
`

const HASH = /^[0-9a-f]{64}$/

/** Runs `dockgate audit ...` with the arguments after `audit`; resolves with the exit code. */
export async function runAuditCommand (argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv
  switch (subcommand) {
    case 'verify': return await runVerify(rest)
    // Loaded when it runs: verify and schema need none of the report's code.
    case 'report': return await (await import('./audit-report.js')).runAuditReport(rest)
    case 'replay': return await (await import('./replay.js')).runReplay(rest)
    case 'schema':
      process.stdout.write(auditRecordJsonSchema())
      return 0
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return 0
    default:
      process.stderr.write(`dockgate: ${subcommand === undefined ? 'audit needs a subcommand' : `unknown audit subcommand '${subcommand}'`}\n${USAGE}`)
      return 2
  }
}

async function runVerify (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { 'partial-start': { type: 'boolean' }, head: { type: 'string', multiple: true }, sessions: { type: 'string' } }, allowPositionals: true, strict: true })
  } catch (err) {
    process.stderr.write(`dockgate: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const anchors = [...new Set((parsed.values.head ?? []).flatMap((h) => h.toLowerCase().split(/[\s,]+/)).filter((h) => h !== ''))]
  const badAnchor = anchors.find((h) => !HASH.test(h))
  if (badAnchor !== undefined) {
    process.stderr.write(`dockgate: --head takes a record's full hash (64 hex digits), not '${badAnchor}'\n${USAGE}`)
    return 2
  }
  const files = [...new Set(parsed.positionals)]
  if (files.length === 0) {
    process.stderr.write(`dockgate: audit verify needs at least one FILE\n${USAGE}`)
    return 2
  }
  for (const file of files) {
    const problem = await access(file).then(() => null, (err: Error) => err.message)
    if (problem !== null) {
      process.stderr.write(`dockgate: cannot read ${file}: ${problem}\n`)
      return 2
    }
  }
  const summaries: FileSummary[] = []
  for (const file of files) summaries.push(await verifyFile(file, new Set(anchors)))
  const linked = linkFiles(summaries, parsed.values['partial-start'] === true)
  const recordings: Problem[] = []
  for (const summary of summaries) recordings.push(...await recordingProblems(summary, parsed.values.sessions))
  const problems = [...summaries.flatMap((s) => s.problems), ...linked.problems, ...anchorProblems(anchors, summaries, linked.chains), ...recordings]
  process.stdout.write(report(summaries, linked.chains, problems, anchors.length))
  return problems.length === 0 ? 0 : 1
}

/** Reads one file (gunzipping `.gz`) line by line through a {@link FileVerifier} looking for `anchors`. */
export async function verifyFile (file: string, anchors: ReadonlySet<string> = new Set()): Promise<FileSummary> {
  const verifier = new FileVerifier(file, anchors)
  let input: Readable = createReadStream(file)
  if (file.endsWith('.gz')) input = input.pipe(createGunzip())
  for await (const line of createInterface({ input, crlfDelay: Infinity })) verifier.line(line)
  return verifier.finish()
}

/**
 * The text verify prints: problems first (the first one is the answer to
 * "where"), then each chain with its head, then the verdict. The verdict
 * claims only what the files prove: nothing missing, edited or reordered
 * between each chain's first record and its head (and, with anchors, up to
 * them); never that nothing was removed after the head.
 */
export function report (summaries: readonly FileSummary[], chains: readonly Chain[], problems: readonly Problem[], anchors = 0): string {
  const lines = problems.map((p) => `${p.file}:${p.line} ${p.code} ${p.message}`)
  for (const note of summaries.flatMap((s) => s.notes)) lines.push(`note: ${note}`)
  chains.forEach((chain, i) => {
    const first = chain.files[0]?.first
    const last = chain.files[chain.files.length - 1]?.last
    const records = chain.files.reduce((n, f) => n + f.records, 0)
    lines.push(`chain ${i + 1}: ${chain.files.map((f) => `${f.file} (seq ${f.first?.seq ?? '?'}-${f.last?.seq ?? '?'})`).join(', ')}`)
    lines.push(`  ${records} record(s) from ${first?.time ?? '?'} to ${last?.time ?? '?'}; ` +
      `${chain.fromGenesis ? 'starts at its first record' : `starts at seq ${first?.seq ?? '?'} (earlier files not given)`}; ` +
      `head: seq ${last?.seq ?? '?'} hash ${last?.hash ?? '?'}`)
  })
  if (problems.length > 0) {
    lines.push(`dockgate: verified ${summaries.length} file(s), ${chains.length} chain(s): ${problems.length} problem(s); the first is at ${problems[0]?.file ?? ''}:${problems[0]?.line ?? 0}`)
    return lines.join('\n') + '\n'
  }
  lines.push(`dockgate: verified ${summaries.length} file(s), ${chains.length} chain(s): intact: no record is missing, edited or reordered between each chain's first record and its head`)
  const recorded = summaries.reduce((n, s) => n + s.recordings.length, 0)
  if (recorded > 0) lines.push(`  ${recorded} session recording(s) named by these records: each is present with the size and SHA-256 its record says`)
  const found = summaries.flatMap((s) => s.anchored.map((p) => `seq ${p.seq} in ${s.file}`))
  if (anchors > 0) lines.push(`  --head: ${anchors === 1 ? 'the anchor is' : `all ${anchors} anchors are`} in the files (${found.join(', ')}), so no record up to ${anchors === 1 ? 'it' : 'them'} was removed`)
  lines.push(`  records removed after ${anchors === 0 ? 'the head' : anchors === 1 ? 'the anchor' : 'the anchors'} leave no trace in these files: compare each head with the copy kept off the host ` +
    '(audit.sinks: syslog or stdout), or pass that copy\'s newest hash with --head')
  return lines.join('\n') + '\n'
}
