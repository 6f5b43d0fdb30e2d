/**
 * What every fault case shares: the built CLI (`dockgate serve`) in a child
 * process, as an operator runs it, with its admin endpoints; its file
 * descriptors and memory read from /proc; its audit trail checked with
 * `dockgate audit verify`; and figures, each printed with its threshold so
 * the CI log shows how close a run came, and appended as a JSON line to
 * $DOCKGATE_FAULT_FIGURES when that names a file.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { AuditRecord } from '../../src/audit/record.js'
import { prepare } from '../support/cli.js'
import { CLI, waitFor, type LogLine } from '../support/live.js'
import { sample } from '../support/runtime.js'

const run = promisify(execFile)

/** The policy of most cases: one team that may do anything, with unrestricted containers. */
export const ALLOW_ALL = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
`
export const IMAGE = 'dockgate-test/busybox:latest'
export const CLIENTS = [['--cn', 'alice', '--ou', 'platform']]

/**
 * Prints `fault: CASE: WHAT VALUE UNIT (threshold ...)` and records it.
 * `threshold` is what the case asserts (null: a figure only, reported but
 * not asserted).
 */
export function figure (name: string, what: string, value: number, unit: string, threshold: string | null): void {
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(value < 10 ? 2 : 1)
  process.stdout.write(`fault: ${name}: ${what} ${shown}${unit === '' ? '' : ` ${unit}`}${threshold === null ? '' : ` (threshold ${threshold})`}\n`)
  const file = process.env.DOCKGATE_FAULT_FIGURES
  if (file !== undefined && file !== '') {
    appendFileSync(file, JSON.stringify({ case: name, what, value, unit, threshold, at: new Date().toISOString() }) + '\n')
  }
}

/** A running `dockgate serve` (the built CLI) with what the cases read from it. */
export interface Served {
  readonly child: ChildProcess
  readonly pid: number
  readonly dir: string
  readonly port: number
  /** `http://127.0.0.1:PORT` of the admin endpoints. */
  readonly admin: string
  readonly bundle: string
  readonly configFile: string
  readonly policyFile: string
  readonly auditFile: string
  readonly output: () => string
  readonly logs: () => LogLine[]
  readonly records: () => AuditRecord[]
  readonly exited: Promise<number | null>
  /** Open file descriptors of the process now (/proc/PID/fd). */
  readonly fds: () => number
  /** Resident memory of the process now, in MiB (/proc/PID/status VmRSS). */
  readonly rssMb: () => number
  /** The value of a metric from /metrics (summed over matching labels), or null. */
  readonly metric: (name: string, labels?: Record<string, string>) => Promise<number | null>
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s); resolves with the exit code. */
  readonly stop: () => Promise<number | null>
}

/** Options: the daemon socket, the policy, config lines to add, and a descriptor limit to run under. */
export interface ServeOptions {
  readonly socket: string
  readonly policy?: string
  /** YAML appended to the config. `admin: 127.0.0.1:0` is always there. */
  readonly extra?: string
  /** Run under this hard and soft RLIMIT_NOFILE (bash's ulimit, then exec node). */
  readonly nofile?: number
}

/** Prepares an operator's folder (certificates, policy, config) and starts `dockgate serve` in it. */
export async function startServed (options: ServeOptions): Promise<Served> {
  const dir = await prepare(options.socket, options.policy ?? ALLOW_ALL, CLIENTS, `admin: 127.0.0.1:0\n${options.extra ?? ''}`)
  const env = { ...process.env, DOCKGATE_LOG_LEVEL: 'info' }
  // Node raises the soft limit to the hard one at start, so the hard limit is what holds.
  const child = options.nofile === undefined
    ? spawn(process.execPath, [CLI, 'serve', '--config', 'config.yaml'], { cwd: dir, env })
    : spawn('bash', ['-c', `ulimit -Sn ${options.nofile} && ulimit -Hn ${options.nofile} && exec "$0" "$1" serve --config config.yaml`, process.execPath, CLI], { cwd: dir, env })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { resolve(code) }))
  const logs = (): LogLine[] => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
  await waitFor(() => logs().some((l) => l.msg === 'dockgate listening') || child.exitCode !== null, 30_000, 'dockgate to listen')
  const listening = logs().find((l) => l.msg === 'dockgate listening')
  if (listening === undefined || child.pid === undefined) throw new Error(`dockgate exited before listening:\n${output}`)
  const pid = child.pid
  const admin = `http://${String(listening.admin)}`
  const auditFile = join(dir, 'audit', 'audit.jsonl')
  return {
    child,
    pid,
    dir,
    port: Number(/:(\d+)$/.exec(String(listening.address))?.[1]),
    admin,
    bundle: join(dir, 'certs', 'clients', 'alice'),
    configFile: join(dir, 'config.yaml'),
    policyFile: join(dir, 'policy.yaml'),
    auditFile,
    output: () => output,
    logs,
    records: () => existsSync(auditFile)
      ? readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord)
      : [],
    exited,
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    rssMb: () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024,
    metric: async (name, labels = {}) => sample(await (await fetch(`${admin}/metrics`)).text(), name, labels),
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      const killer = setTimeout(() => { child.kill('SIGKILL') }, 15_000)
      const code = await exited
      clearTimeout(killer)
      return code
    }
  }
}

/** `dockgate audit verify` (the built CLI) on every audit file of `served`; its exit code and output. */
export async function auditVerify (served: Served): Promise<{ code: number; output: string }> {
  const dir = join(served.dir, 'audit')
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f))
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'audit', 'verify', ...files])
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string }
    return { code: e.code ?? 1, output: (e.stdout ?? '') + (e.stderr ?? '') }
  }
}

/** `docker ARGS` straight on the daemon socket (setup, cleanup, and what the daemon itself says); rejects on failure. */
export async function direct (socket: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  const { stdout } = await run('docker', ['-H', `unix://${socket}`, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

/** Seconds elapsed since `start` (a Date.now() value). */
export function since (start: number): number {
  return (Date.now() - start) / 1000
}

/**
 * Waits (polling every 50 ms) until `check` holds or `ms` pass; resolves
 * with the milliseconds it took, or null when it never held. For a case
 * that measures a time, so a miss is a figure and an assertion, not a throw.
 */
export async function timeUntil (check: () => boolean | Promise<boolean>, ms: number): Promise<number | null> {
  const start = Date.now()
  for (;;) {
    if (await check()) return Date.now() - start
    if (Date.now() - start > ms) return null
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Resolves once `served` has no client connection open, verified or not
 * (its gauges say 0), with its descriptor count then: the baseline a case
 * compares against.
 */
export async function quietFds (served: Served, ms = 15_000): Promise<number> {
  const open = async (): Promise<number> =>
    (await served.metric('dockgate_open_connections') ?? 0) + (await served.metric('dockgate_unverified_connections') ?? 0)
  if (await timeUntil(async () => await open() === 0, ms) === null) throw new Error(`dockgate still has ${await open()} connection(s) open after ${ms} ms`)
  return served.fds()
}

/**
 * The descriptors of `served` once they have settled: polls until the count
 * is at most `target` (or `ms` pass) and resolves with the last count.
 */
export async function settledFds (served: Served, target: number, ms = 15_000): Promise<number> {
  let count = served.fds()
  await timeUntil(() => (count = served.fds()) <= target, ms)
  return count
}
