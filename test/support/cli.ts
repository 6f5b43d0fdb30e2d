/**
 * `dockgate serve` as the built CLI in a child process, the way systemd or
 * a terminal runs it: real signals, real exit codes, JSON log lines on
 * stdout. Plus the folder an operator prepares: certificates from
 * `dockgate certs`, a policy and a config file.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI, configText, waitFor, type LogLine } from './live.js'
import { runCerts } from './certs.js'

/** A running `dockgate serve`. */
export interface Served {
  readonly child: ChildProcess
  /** Everything written to stdout and stderr so far. */
  readonly output: () => string
  /** The JSON log lines so far. */
  readonly logs: () => LogLine[]
  readonly exited: Promise<number | null>
  /** Resolves with the TLS port once `dockgate listening` is logged. */
  readonly port: () => Promise<number>
  /** Resolves with `http://HOST:PORT` of the admin endpoints once logged. */
  readonly admin: () => Promise<string>
}

const running: ChildProcess[] = []

/** Kills every process started here that is still running (call in afterEach). */
export function killAll (): void {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL')
}

/** Starts the built CLI with `args` in `cwd`. */
export function serve (args: readonly string[], cwd: string, options: SpawnOptions = {}): Served {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, ...options, env: { ...process.env, DOCKGATE_LOG_LEVEL: 'info', ...options.env } })
  running.push(child)
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { resolve(code) }))
  const logs = (): LogLine[] => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
  const listening = async (): Promise<LogLine> => {
    await waitFor(() => logs().some((l) => l.msg === 'dockgate listening') || child.exitCode !== null, 30_000, 'dockgate to listen')
    const line = logs().find((l) => l.msg === 'dockgate listening')
    if (line === undefined) throw new Error(`dockgate exited before listening:\n${output}`)
    return line
  }
  return {
    child,
    output: () => output,
    logs,
    exited,
    port: async () => Number(/:(\d+)$/.exec(String((await listening()).address))?.[1]),
    admin: async () => `http://${String((await listening()).admin)}`
  }
}

/** An operator's folder: `certs init`, the given clients issued, the policy, and a config with `extra` appended. */
export async function prepare (socket: string, policy: string, clients: ReadonlyArray<readonly string[]>, extra = ''): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-cli-'))
  await runCerts(join(dir, 'certs'), 'init')
  for (const client of clients) await runCerts(join(dir, 'certs'), 'issue', ...client)
  writeFileSync(join(dir, 'policy.yaml'), policy)
  writeFileSync(join(dir, 'config.yaml'), configText(socket) + extra)
  return dir
}
