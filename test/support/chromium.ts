/**
 * Debian's chromium, headless, for tests that open a page in a real
 * browser: the DOM after its scripts ran (`--dump-dom`, with virtual time
 * so timers fire at once) and every console message (`--enable-logging`),
 * which includes uncaught errors and Content-Security-Policy violations.
 * Without chromium such tests are skipped and say so, except under
 * CI=true, where a missing chromium fails the run (as a missing daemon does).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** The chromium binary, or null when it is not installed. */
export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? null

/** True when chromium tests must be skipped (not installed, not under CI). Throws under CI=true without chromium. */
export function skipWithoutChromium (): boolean {
  if (CHROMIUM !== null) return false
  if (process.env.CI === 'true') throw new Error('CI=true but chromium is not installed (apt-get install chromium): the report browser tests cannot run')
  process.stderr.write('\n*** chromium is not installed: the report browser tests are SKIPPED (apt-get install chromium). ***\n\n')
  return true
}

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-extensions', '--enable-logging=stderr', '--v=0',
  // Nothing may be fetched: any host name resolves to nothing.
  '--host-resolver-rules=MAP * ~NOTFOUND']

/** Opens `file` (with `hash`, e.g. `#play`) and returns the DOM after its scripts ran (timers included), and the console messages it logged. */
export async function openPage (file: string, hash = ''): Promise<{ dom: string; console: string[] }> {
  if (CHROMIUM === null) throw new Error('chromium is not installed')
  const { stdout, stderr } = await run(CHROMIUM, [...FLAGS, '--virtual-time-budget=10000', '--dump-dom', `file://${file}${hash}`], { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 })
  return { dom: stdout, console: stderr.split('\n').filter((line) => line.includes(':CONSOLE')) }
}

/** Writes a PNG of `file` rendered at `width` x `height`. */
export async function screenshot (file: string, png: string, width: number, height: number): Promise<void> {
  if (CHROMIUM === null) throw new Error('chromium is not installed')
  await run(CHROMIUM, [...FLAGS, '--hide-scrollbars', `--screenshot=${png}`, `--window-size=${width},${height}`, `file://${file}`], { timeout: 60_000 })
}
