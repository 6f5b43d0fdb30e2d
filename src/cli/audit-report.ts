/**
 * `dockgate audit report FILE... [--since T] [--until T] [--html OUT] [--text]
 * [--config FILE]`: the auditor's report. One pass over the files: each
 * line is verified (as `audit verify` does) and, when intact, counted into
 * bounded aggregates; then the verdict, the figures and the sessions'
 * recordings (checked against their records) go into one self-contained
 * HTML page and/or a text summary.
 *
 * Exit codes: 0 the report was written and the trail verified intact; 1 it
 * was written but the trail has problems (the page says so at the top);
 * 2 usage, an unreadable file, or the report could not be written.
 */
import { createReadStream } from 'node:fs'
import { access, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { parseArgs } from 'node:util'
import { createGunzip } from 'node:zlib'
import { readCast } from '../audit/cast.js'
import { reportHtml, type ReportPage, type ShownSession } from '../audit/report-html.js'
import { normalizeSerial, TrailSummary, type Window } from '../audit/report-data.js'
import { reportText } from '../audit/report-text.js'
import { anchorProblems, FileVerifier, linkFiles, type FileSummary } from '../audit/verify.js'
import { loadConfigFile } from '../config/load.js'
import { formatDiagnostic } from '../shared/diagnostics.js'
import { report as verifyText } from './audit.js'

const USAGE = `usage: dockgate audit report FILE... (--html OUT.html | --text) [--since WHEN] [--until WHEN]
                             [--config FILE] [--partial-start] [--head HASH]...

One self-contained HTML page (--html) and/or a text summary on stdout (--text)
of the trail: the verification verdict, requests and refusals per team over
time, top refused rules and identities, certificates seen and revoked,
sessions with their recordings, changes of the gateway and its policy.
WHEN is a UTC date or time (2026-11-01, 2026-11-01T12:00Z) or an age (30d, 12h).
--config also checks the certificates seen against the config's CRLs.
--partial-start and --head are those of audit verify.
Exit codes: 0 written and intact, 1 written but the trail has problems, 2 error.
`

/** The page embeds recordings up to this many bytes in all; the rest are listed, not embedded. */
const RECORDING_BUDGET = 32 * 1024 * 1024
const HASH = /^[0-9a-f]{64}$/

/** Runs `dockgate audit report` with the arguments after `report`; resolves with the exit code. */
export async function runAuditReport (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        html: { type: 'string' }, text: { type: 'boolean' }, since: { type: 'string' }, until: { type: 'string' },
        config: { type: 'string' }, 'partial-start': { type: 'boolean' }, head: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    return usage((err as Error).message)
  }
  const v = parsed.values
  if (v.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  const files = [...new Set(parsed.positionals)]
  if (files.length === 0) return usage('audit report needs at least one FILE')
  if (v.html === undefined && v.text !== true) return usage('audit report needs --html OUT.html, --text, or both')
  const since = v.since === undefined ? null : parseWhen(v.since)
  const until = v.until === undefined ? null : parseWhen(v.until)
  if (Number.isNaN(since) || Number.isNaN(until)) return usage('--since and --until take a UTC date or time (2026-11-01, 2026-11-01T12:00Z) or an age (30d, 12h)')
  const anchors = [...new Set((v.head ?? []).flatMap((h) => h.toLowerCase().split(/[\s,]+/)).filter((h) => h !== ''))]
  if (anchors.some((h) => !HASH.test(h))) return usage('--head takes a record\'s full hash (64 hex digits)')
  for (const file of files) {
    const problem = await access(file).then(() => null, (err: Error) => err.message)
    if (problem !== null) return fail(`cannot read ${file}: ${problem}`)
  }
  const crlRevoked = v.config === undefined ? new Map<string, string>() : await revokedByConfig(v.config)
  if (typeof crlRevoked === 'string') return fail(crlRevoked, '')
  const page = await buildPage(files, { since, until }, anchors, v['partial-start'] === true, crlRevoked)
  if (typeof page === 'string') return fail(page)
  if (v.html !== undefined) {
    const written = await writeFile(v.html, reportHtml(page)).then(() => null, (err: Error) => err.message)
    if (written !== null) return fail(`cannot write ${v.html}: ${written}`)
  }
  if (v.text === true) process.stdout.write(reportText(page))
  else process.stderr.write(`dockgate: wrote ${v.html ?? ''}: ${page.verdict.intact ? 'trail intact' : 'the trail has problems (see the top of the page)'}\n`)
  return page.verdict.intact ? 0 : 1
}

/** Reads, verifies and aggregates the files in one pass each, in the order of their first records. */
async function buildPage (files: readonly string[], window: Window, anchors: readonly string[], partialStart: boolean, crlRevoked: ReadonlyMap<string, string>): Promise<ReportPage | string> {
  const summary = new TrailSummary(window)
  const summaries: FileSummary[] = []
  const ordered = await inTimeOrder(files)
  if (typeof ordered === 'string') return ordered
  for (const file of ordered) {
    const verifier = new FileVerifier(file, new Set(anchors))
    const read = await eachLine(file, (line) => {
      const record = verifier.line(line)
      if (record !== null) summary.add(record, file)
    })
    if (read !== null) return `cannot read ${file}: ${read}`
    summaries.push(verifier.finish())
  }
  const linked = linkFiles(summaries, partialStart)
  const problems = [...summaries.flatMap((s) => s.problems), ...linked.problems, ...anchorProblems(anchors, summaries, linked.chains)]
  const data = summary.result()
  const sessions: ShownSession[] = []
  let budget = RECORDING_BUDGET
  for (const session of data.sessions) {
    const cast = session.recording === null ? null : await readCast(session.auditFile, session.recording, budget)
    if (cast?.kind === 'ok') budget -= Buffer.byteLength(cast.text)
    sessions.push({ session, cast })
  }
  return {
    data, sessions, crlRevoked, generatedAt: new Date().toISOString(),
    verdict: { intact: problems.length === 0, text: verifyText(summaries, linked.chains, problems, anchors.length), files: ordered }
  }
}

/** Calls `onLine` for each line of `file` (gunzipping `.gz`); resolves with null, or why it could not be read. */
async function eachLine (file: string, onLine: (line: string) => void): Promise<string | null> {
  let input: Readable = createReadStream(file)
  if (file.endsWith('.gz')) input = input.pipe(createGunzip())
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) onLine(line)
    return null
  } catch (err) {
    return (err as Error).message
  }
}

// Files are read oldest first (by their first record's time), so changes are seen in the order they happened.
async function inTimeOrder (files: readonly string[]): Promise<string[] | string> {
  const firsts: Array<{ file: string; time: string }> = []
  for (const file of files) {
    let time = ''
    let input: Readable = createReadStream(file)
    if (file.endsWith('.gz')) input = input.pipe(createGunzip())
    const lines = createInterface({ input, crlfDelay: Infinity })
    try {
      for await (const line of lines) {
        time = /"time":"([^"]*)"/.exec(line)?.[1] ?? ''
        break
      }
    } catch (err) {
      return `cannot read ${file}: ${(err as Error).message}`
    } finally {
      lines.close()
      input.destroy()
    }
    firsts.push({ file, time })
  }
  return firsts.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)).map((f) => f.file)
}

/** `2026-11-01`, `2026-11-01T12:00Z` (UTC when no zone is given), or an age like `30d`, `12h`, `45m`; NaN when none of these. */
export function parseWhen (text: string, now = Date.now()): number {
  const age = /^(\d+)([dhm])$/.exec(text)
  if (age !== null) return now - Number(age[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[age[2] as 'd' | 'h' | 'm']
  if (!/^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(text)) return Number.NaN
  const zoned = /(Z|[+-]\d\d:?\d\d)$/.test(text) || text.length === 10 ? text : `${text}Z`
  return Date.parse(zoned)
}

async function revokedByConfig (file: string): Promise<Map<string, string> | string> {
  const loaded = await loadConfigFile(file)
  if (!loaded.ok) return loaded.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('')
  const revoked = new Map<string, string>()
  for (const crl of loaded.value.tls?.crls ?? []) {
    for (const serial of crl.revokedSerials) revoked.set(normalizeSerial(serial), `in the CRL of ${crl.issuer} (${crl.file}, ${crl.thisUpdate.toISOString()})`)
  }
  return revoked
}

function usage (message: string): number {
  process.stderr.write(`dockgate: ${message}\n${USAGE}`)
  return 2
}

function fail (message: string, prefix = 'dockgate: '): number {
  process.stderr.write(`${prefix}${message}${message.endsWith('\n') ? '' : '\n'}`)
  return 2
}
