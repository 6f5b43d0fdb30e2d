/**
 * A whole dockgate process in-process, as `dockgate serve` assembles it
 * (src/runtime/runtime.ts: tapped audit trail, metrics, gateway and reloader, admin
 * endpoints), from a config file an operator would write, with
 * certificates from `dockgate certs` (in process, see certs.ts), in front of a real (or,
 * for edge cases, fake) daemon socket. Tests read the admin endpoints over
 * HTTP like Prometheus would.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import type { AuditRecord } from '../../src/audit/record.js'
import { buildRuntime, type Runtime } from '../../src/runtime/runtime.js'
import { loadSettings } from '../../src/reload/settings.js'
import { configText, type LogLine } from './live.js'
import { runCerts } from './certs.js'

/** A running runtime; see the module comment. */
export interface RuntimeHarness {
  readonly dir: string
  readonly configFile: string
  readonly policyFile: string
  readonly port: number
  /** `http://127.0.0.1:PORT` of the admin endpoints over TCP, else null. */
  readonly admin: string | null
  /** The admin address as dockgate logs it (`127.0.0.1:PORT`, `unix:///PATH`), or null. */
  readonly adminAddress: string | null
  readonly runtime: Runtime
  readonly logs: () => LogLine[]
  readonly records: () => AuditRecord[]
  readonly bundle: (cn: string) => string
  readonly close: () => Promise<void>
}

/** Options: the daemon socket, policy, client certificates (`certs issue` arguments), and config lines to add. */
export interface RuntimeOptions {
  readonly socket: string
  readonly policy: string
  readonly clients: ReadonlyArray<readonly string[]>
  /** YAML appended to the config, e.g. `limits:\n  streamsPerIdentity: 2\n`. */
  readonly extraConfig?: string
  /** `admin:` value; `127.0.0.1:0` unless set; null for none. */
  readonly admin?: string | null
}

/** Certificates, config and policy in a new temp folder; then buildRuntime and start. */
export async function startRuntime (options: RuntimeOptions): Promise<RuntimeHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-rt-'))
  const certs = join(dir, 'certs')
  await runCerts(certs, 'init')
  for (const client of options.clients) await runCerts(certs, 'issue', ...client)
  const configFile = join(dir, 'config.yaml')
  const policyFile = join(dir, 'policy.yaml')
  writeFileSync(policyFile, options.policy)
  const admin = options.admin === undefined ? '127.0.0.1:0' : options.admin
  writeFileSync(configFile, configText(options.socket) + (admin === null ? '' : `admin: ${admin}\n`) + (options.extraConfig ?? ''))
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as LogLine) } })
  const load = async (): ReturnType<typeof loadSettings> => await loadSettings({ file: configFile, overrides: {} })
  const settings = await load()
  if (!settings.ok) throw new Error(`test config invalid: ${JSON.stringify(settings.diagnostics)}`)
  const runtime = await buildRuntime({ settings: settings.value, load, logger, serveAdmin: true, debounceMs: 100 })
  const started = await runtime.start()
  if (started.address === null) throw new Error('test runtime has no TLS listener')
  const auditFile = runtime.auditFile
  return {
    dir,
    configFile,
    policyFile,
    port: started.address.port,
    admin: started.admin === null || started.admin.startsWith('unix:') ? null : `http://${started.admin}`,
    adminAddress: started.admin,
    runtime,
    logs: () => [...lines],
    records: () => existsSync(auditFile)
      ? readFileSync(auditFile, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord)
      : [],
    bundle: (cn) => join(certs, 'clients', cn),
    close: async () => { await runtime.shutdown({ force: true }) }
  }
}

/** GET `url`; the status and body. */
export async function get (url: string): Promise<{ status: number; body: string; contentType: string }> {
  const res = await fetch(url)
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') ?? '' }
}

/**
 * The sum of every sample of metric `name` (a full sample name such as
 * `dockgate_request_duration_seconds_count`) whose labels include `labels`;
 * null when there is no such sample at all.
 */
export function sample (text: string, name: string, labels: Record<string, string> = {}): number | null {
  let total: number | null = null
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const have = new Map<string, string>([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']))
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) total = (total ?? 0) + Number(match[3])
  }
  return total
}
