/**
 * `dockgate audit replay [--config FILE] [--speed N | --max-idle S] ID|FILE.cast`:
 * plays a session recording (asciicast v2, written at audit level
 * `session`) in the terminal: each output event is written to stdout when
 * its time comes, at real speed or N times faster, with pauses longer than
 * S seconds shortened to S. An ID (the session's auditID) is looked up in
 * the config's sessions folder (audit.sessions).
 *
 * The recording is played as it is: it was the user's terminal output, so
 * it may hold escape sequences their programs sent. Run `audit verify`
 * first to know it is the recording the trail vouches for.
 *
 * Exit codes: 0 played to the end, 1 a line of the recording is not an
 * event (reported as FILE:LINE; what came before was played), 2 usage, an
 * unreadable file or config, or a file that is not asciicast v2.
 */
import { createReadStream } from 'node:fs'
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { parseCastEvent, parseCastHeader } from '../audit/cast-format.js'
import { loadConfigFile } from '../config/load.js'
import { formatDiagnostic } from '../shared/diagnostics.js'

const USAGE = `usage: dockgate audit replay [--config FILE] [--speed N] [--max-idle S] ID|FILE.cast

Plays a session recording in the terminal, as the user saw it.
ID          the session's auditID: its recording is looked for in the config's
            audit.sessions folder (--config FILE, else $DOCKGATE_CONFIG, else
            /etc/dockgate/dockgate.yaml)
FILE.cast   a recording file (e.g. copied off the host with the trail)
--speed N   play N times faster (default 1; 0.5 plays at half speed)
--max-idle S  shorten every pause longer than S seconds to S
Run dockgate audit verify on the trail first: it checks the recording is the
one its record vouches for.
`

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Runs `dockgate audit replay` with the arguments after `replay`; resolves with the exit code. */
export async function runReplay (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: { config: { type: 'string' }, speed: { type: 'string' }, 'max-idle': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (err) {
    return usage((err as Error).message)
  }
  if (parsed.values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  const speed = positive(parsed.values.speed, 1)
  const maxIdle = positive(parsed.values['max-idle'], Infinity)
  if (speed === null) return usage(`--speed takes a number above 0, like 2 or 0.5, not '${parsed.values.speed ?? ''}'`)
  if (maxIdle === null) return usage(`--max-idle takes a number of seconds above 0, like 2, not '${parsed.values['max-idle'] ?? ''}'`)
  if (parsed.positionals.length !== 1) return usage('audit replay takes one recording: an ID or a FILE.cast')
  const target = parsed.positionals[0] ?? ''
  const file = ID.test(target) ? await sessionFile(target, parsed.values.config) : target
  if (typeof file !== 'string') {
    process.stderr.write(file.problem)
    return 2
  }
  const readable = await access(file).then(() => null, (err: Error) => err.message)
  if (readable !== null) {
    process.stderr.write(`dockgate: cannot read the recording ${file}: ${readable}\n`)
    return 2
  }
  return await play(file, { speed, maxIdle }, async (data) => { await writeOut(data) })
}

/** How fast to play. */
export interface Pace {
  readonly speed: number
  readonly maxIdle: number
}

/**
 * Plays the recording at `file` through `write`, each output event when
 * its time comes; resolves with the exit code. Time is kept against the
 * start, so slow writes do not add up into drift.
 */
export async function play (file: string, pace: Pace, write: (data: string) => Promise<void>): Promise<number> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
  let lineNo = 0
  let played = 0
  let last = 0
  const start = performance.now()
  for await (const line of lines) {
    lineNo += 1
    if (lineNo === 1) {
      if (parseCastHeader(line) !== null) continue
      lines.close()
      process.stderr.write(`dockgate: ${file} is not an asciicast v2 recording: its first line is not a version 2 header\n`)
      return 2
    }
    if (line === '') continue
    const event = parseCastEvent(line)
    if (event === null) {
      lines.close()
      process.stderr.write(`dockgate: ${file}:${lineNo} is not an asciicast event ([seconds, code, data]); stopped there\n`)
      return 1
    }
    // Pauses are shortened to maxIdle before the speed applies, as asciinema does.
    played += Math.min(Math.max(event.seconds - last, 0), pace.maxIdle)
    last = event.seconds
    if (event.code !== 'o') continue
    const wait = start + (played * 1000) / pace.speed - performance.now()
    if (wait > 1) await sleep(wait)
    await write(event.data)
  }
  if (lineNo === 0) {
    process.stderr.write(`dockgate: ${file} is empty, not an asciicast v2 recording\n`)
    return 2
  }
  return 0
}

async function sessionFile (id: string, config: string | undefined): Promise<string | { problem: string }> {
  const file = config ?? process.env.DOCKGATE_CONFIG ?? '/etc/dockgate/dockgate.yaml'
  const loaded = await loadConfigFile(file)
  if (!loaded.ok) return { problem: loaded.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('') }
  return join(loaded.value.audit.sessions.dir, `${id.toLowerCase()}.cast`)
}

async function writeOut (data: string): Promise<void> {
  if (process.stdout.write(data)) return
  await new Promise<void>((resolve) => { process.stdout.once('drain', resolve) })
}

function positive (text: string | undefined, fallback: number): number | null {
  if (text === undefined) return fallback
  const n = Number(text)
  return Number.isFinite(n) && n > 0 ? n : null
}

function usage (problem: string): number {
  process.stderr.write(`dockgate: ${problem}\n${USAGE}`)
  return 2
}
