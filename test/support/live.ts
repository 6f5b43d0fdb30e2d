/**
 * A gateway set up the way an operator would: certificates made with
 * `dockgate certs init` and `issue` (in process, see certs.ts; the
 * `certsCli` a test runs later is the built CLI), a config file with
 * `tls.crl`, a policy file,
 * and the same wiring `dockgate serve` runs (settings loader, runtime: gateway,
 * reloader watching the files), in front of a real daemon. Logs are kept
 * in memory so tests can wait for what an operator would read.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import pino from 'pino'
import type { SealedAuditRecord } from '../../src/audit/schema.js'
import { buildRuntime } from '../../src/runtime/runtime.js'
import type { ReloadResult } from '../../src/reload/reload.js'
import { checkAuditDir } from './audit-check.js'
import { runCerts } from './certs.js'
import type { Reloader } from '../../src/reload/reload.js'
import { loadSettings } from '../../src/reload/settings.js'

const run = promisify(execFile)
/** The built CLI, as users run it. */
export const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'main.js')

/** One line of the operational log. */
export interface LogLine {
  readonly level: number
  readonly msg: string
  readonly [key: string]: unknown
}

/** A running live gateway; see the module comment. */
export interface LiveGateway {
  readonly dir: string
  readonly certs: string
  readonly configFile: string
  readonly policyFile: string
  readonly port: number
  readonly reloader: Reloader
  readonly logs: () => LogLine[]
  readonly records: () => SealedAuditRecord[]
  readonly auditFile: string
  /** What SIGHUP does in `dockgate serve`: reopen the audit file, then reload. */
  readonly hangup: () => Promise<ReloadResult>
  readonly bundle: (cn: string) => string
  /** Runs `dockgate certs ARGS --dir CERTS` with the built CLI; rejects on a non-zero exit. */
  readonly certsCli: (...args: string[]) => Promise<string>
  /** Resolves once `count` more reloads have been applied than when `since` was taken. */
  readonly reloaded: (since: number, count?: number) => Promise<void>
  readonly close: () => Promise<void>
}

/** Options: the daemon socket, the policy text, and client certificates to issue first. */
export interface LiveOptions {
  readonly socket: string
  readonly policy: string
  readonly clients: ReadonlyArray<readonly string[]>
}

/** Sets everything up under a new temp folder and starts listening on a free port. */
export async function startLiveGateway (options: LiveOptions): Promise<LiveGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-live-'))
  const certs = join(dir, 'certs')
  const certsCli = async (...args: string[]): Promise<string> =>
    (await run(process.execPath, [CLI, 'certs', ...args, '--dir', certs])).stdout
  await runCerts(certs, 'init')
  for (const client of options.clients) await runCerts(certs, 'issue', ...client)
  const configFile = join(dir, 'config.yaml')
  const policyFile = join(dir, 'policy.yaml')
  writeFileSync(policyFile, options.policy)
  writeFileSync(configFile, configText(options.socket))
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as LogLine) } })
  const load = async (): ReturnType<typeof loadSettings> => await loadSettings({ file: configFile, overrides: {} })
  const settings = await load()
  if (!settings.ok) throw new Error(`test config invalid: ${JSON.stringify(settings.diagnostics)}`)
  const runtime = await buildRuntime({ settings: settings.value, load, logger, serveAdmin: false, debounceMs: 100 })
  const { auditFile, reloader, hangup } = runtime
  const { address } = await runtime.start()
  if (address === null) throw new Error('test runtime has no TLS listener')
  const { port } = address
  return {
    dir,
    certs,
    configFile,
    policyFile,
    port,
    reloader,
    logs: () => [...lines],
    records: () => existsSync(auditFile)
      ? readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as SealedAuditRecord)
      : [],
    auditFile,
    hangup,
    bundle: (cn) => join(certs, 'clients', cn),
    certsCli,
    reloaded: async (since, count = 1) => { await waitFor(() => reloader.stats().applied >= since + count, 10_000, 'a reload') },
    close: async () => {
      await runtime.close()
      checkAuditDir(dirname(auditFile))
    }
  }
}

/** The config an operator writes after `dockgate certs init`: paths relative to the config file. */
export function configText (socket: string, listen = '127.0.0.1:0'): string {
  return [
    `listen: ${listen}`,
    `upstream: unix://${socket}`,
    'tls:',
    '  ca: certs/ca/ca.pem',
    '  cert: certs/server/cert.pem',
    '  key: certs/server/key.pem',
    '  crl: certs/ca/crl.pem',
    'policy: policy.yaml',
    'audit:',
    '  file: audit/audit.jsonl',
    ''
  ].join('\n')
}

/** Polls `check` every 50 ms; rejects naming `what` after `timeoutMs`. */
export async function waitFor (check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
