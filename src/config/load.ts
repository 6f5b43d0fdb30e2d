/**
 * Loads the gateway config: YAML (or an in-memory object for the dev setup),
 * plus CLI overrides, into a frozen {@link GatewayConfig}. Every problem is
 * reported at once, each at the line:col of the value concerned.
 *
 * An edge module: it reads files. It does not load the policy (only checks
 * the file is readable) and imports nothing from other gateway modules.
 */
import { dirname, resolve } from 'node:path'
import { sortDiagnostics, type Diagnostic } from '../shared/diagnostics.js'
import type { ErrorCode } from '../shared/errors.js'
import { checkSchema } from '../shared/schema-check.js'
import { fixedLocator, parseYaml, type Locator, type ValuePath } from '../shared/yaml-source.js'
import { parseListen, parseUpstream, type ListenAddress, type UpstreamAddress } from './address.js'
import { readTextFile } from './read-file.js'
import { ConfigSchema } from './schema.js'
import { caCertificates, checkTlsMaterial, type TlsPem } from './tls-material.js'
import { readCrlFile, uncoveredCas, type CrlFacts } from './crl.js'
import { readAuditConfig, type AuditConfig } from './audit.js'
import { readAdmin, readLimits, readShutdown, readWorkers, type AdminAddress, type Limits } from './operations.js'
import { readSockets, type SocketListenerConfig } from './sockets.js'

export type { ListenAddress, UpstreamAddress } from './address.js'
export type { CrlFacts } from './crl.js'
export type { AuditConfig } from './audit.js'
export type { AdminAddress, Limits } from './operations.js'
export type { SocketListenerConfig } from './sockets.js'

/** TLS material: absolute file paths and their PEM contents, already checked to be a usable key pair and CA. */
export interface TlsConfig {
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  readonly ca: string
  readonly cert: string
  readonly key: string
  /** The CRL files from `tls.crl` (absolute), empty when revocation checking is off. */
  readonly crlFiles: readonly string[]
  /** Every CRL in them, signature-checked against `ca`; every CA in `ca` has one when `crlFiles` is not empty. */
  readonly crls: readonly CrlFacts[]
}

/**
 * A validated, deeply frozen gateway config. All paths are absolute; the
 * TLS files and the policy file were readable when it was loaded.
 */
export interface GatewayConfig {
  /** The config file's absolute path; null for the dev setup built in memory. */
  readonly source: string | null
  /** The TLS listener's address; null exactly when `tls` is (a host that serves only socket listeners). */
  readonly listen: ListenAddress | null
  readonly upstream: UpstreamAddress
  /** The TLS listener's material; null when there is no TLS listener. */
  readonly tls: TlsConfig | null
  /** The socket listeners for local tools, in file order; at least one when `tls` is null. */
  readonly sockets: readonly SocketListenerConfig[]
  /** The policy file; the app wiring loads it. */
  readonly policyFile: string
  /** The audit trail: file, default level, durability, failure mode, rotation, second sinks. */
  readonly audit: AuditConfig
  /** Resource limits with defaults filled in; `bodyBytes` is the largest request body read for judging. */
  readonly limits: Limits
  /** Where the plain-HTTP admin endpoints listen; null (the default) for nowhere. */
  readonly admin: AdminAddress | null
  /** How long in-flight requests get to finish after SIGTERM or SIGINT. */
  readonly shutdown: { readonly graceSeconds: number }
  /** How many processes serve the port (node:cluster); 1 runs everything in one process. */
  readonly workers: number
}

/** Values from CLI flags that replace the file's; problems in them are reported against the flag. */
export interface ConfigOverrides {
  readonly listen?: string
  readonly upstream?: string
}

/** The file name used in diagnostics for configs built in memory. */
export const DEV_SOURCE = '<dev>'

/**
 * A loaded config, or every problem found. A failed config whose `policy`
 * names a readable file says which, so the policy's own problems can be
 * reported in the same run rather than after the config is fixed.
 */
export type LoadedConfig =
  | { readonly ok: true; readonly value: GatewayConfig }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[]; readonly policyFile?: string }

/** Reads, parses and checks a config file; relative paths resolve from the file's folder. */
export async function loadConfigFile (file: string, overrides: ConfigOverrides = {}): Promise<LoadedConfig> {
  const absolute = resolve(file)
  const read = await readTextFile(absolute)
  if (!read.ok) {
    return fail([{ file, line: 0, col: 0, code: 'DG_FILE_UNREADABLE', message: `cannot read config file ${absolute}: ${read.reason}` }])
  }
  const parsed = parseYaml(file, read.text)
  if (parsed.ok) return await buildConfig(parsed.value.value, parsed.value, dirname(absolute), absolute, overrides)
  if (!('partial' in parsed)) return parsed
  // Duplicate keys alone: check the rest too, so every problem is reported at once.
  const rest = await buildConfig(parsed.partial.value, parsed.partial, dirname(absolute), absolute, overrides)
  return fail([...parsed.diagnostics, ...(rest.ok ? [] : rest.diagnostics)], rest.ok ? rest.value.policyFile : rest.policyFile ?? null)
}

/**
 * Builds a config from an in-memory value (the dev setup) with exactly the
 * same checks as a file; diagnostics name the file `<dev>` at 0:0.
 */
export async function configFromObject (value: unknown, baseDir: string, overrides: ConfigOverrides = {}): Promise<LoadedConfig> {
  return await buildConfig(value, fixedLocator(DEV_SOURCE), resolve(baseDir), null, overrides)
}

type Rec = Record<string, unknown>

function isRecord (value: unknown): value is Rec {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function fail (diagnostics: Diagnostic[], policyFile: string | null = null): LoadedConfig {
  return { ok: false, diagnostics: sortDiagnostics(diagnostics), ...(policyFile === null ? {} : { policyFile }) }
}

async function buildConfig (value: unknown, locator: Locator, baseDir: string, source: string | null, overrides: ConfigOverrides): Promise<LoadedConfig> {
  const checker = new ConfigChecker(value, locator, baseDir, overrides)
  const listeners = checker.listeners()
  const listen = listeners.tcp ? checker.address('listen', parseListen) : null
  const upstream = checker.address('upstream', parseUpstream)
  const tls = listeners.tcp ? await checker.tls() : null
  const sockets = checker.sockets()
  const policyFile = await checker.readableFile(['policy'])
  const auditFile = checker.path(['audit', 'file'])
  const audit = auditFile === null ? null : checker.audit(auditFile)
  const operations = checker.operations(listen, sockets)
  if (checker.problems.length > 0 || (listeners.tcp && (listen === null || tls === null)) || upstream === null || policyFile === null || audit === null) {
    return fail(checker.problems, policyFile?.path ?? null)
  }
  const config: GatewayConfig = { source, listen, upstream, tls, sockets, policyFile: policyFile.path, audit, ...operations }
  return { ok: true, value: deepFreeze(config) }
}

// Walks the raw value defensively: anything the schema check reported as the
// wrong type is skipped here, so one mistake gives one diagnostic.
class ConfigChecker {
  readonly problems: Diagnostic[]
  private readonly root: Rec

  constructor (value: unknown, private readonly locator: Locator, private readonly baseDir: string, private readonly overrides: ConfigOverrides) {
    this.problems = checkSchema(ConfigSchema, value, locator)
    this.root = isRecord(value) ? value : {}
  }

  report (code: ErrorCode, path: ValuePath, message: string): void {
    const { line, col } = this.locator.valueAt(path)
    this.problems.push({ file: this.locator.file, line, col, code, message })
  }

  /** `listen` or `upstream`: the CLI flag wins over the file; absent from both is an error. */
  address<T>(key: 'listen' | 'upstream', parse: (text: string) => T | string): T | null {
    const flag = this.overrides[key]
    const fromFile = this.root[key]
    const text = flag ?? fromFile
    if (text === undefined) {
      this.report('DG_MISSING_KEY', [], `missing required key '${key}' at the top level (or pass --${key})`)
      return null
    }
    if (typeof text !== 'string') return null
    const parsed = parse(text)
    if (typeof parsed !== 'string') return parsed
    if (flag === undefined) this.report('DG_BAD_VALUE', [key], parsed)
    else this.problems.push({ file: `--${key}`, line: 0, col: 0, code: 'DG_BAD_VALUE', message: parsed })
    return null
  }

  /**
   * Which listeners the file asks for: the TLS one when `tls` is there (or
   * `listen` is, or no socket listener is: then `tls` is reported
   * missing), socket listeners when `sockets` lists any. `listen` without
   * `tls` next to sockets is a mistake worth naming: it would listen
   * without TLS.
   */
  listeners (): { readonly tcp: boolean } {
    const hasSockets = Array.isArray(this.root.sockets) && this.root.sockets.length > 0
    if (this.root.tls !== undefined) return { tcp: true }
    if (!hasSockets) {
      this.report('DG_MISSING_KEY', [], "missing required key 'tls' at the top level (the TLS listener's ca, cert and key), or 'sockets' for a gateway that serves only local tools")
      return { tcp: false }
    }
    const listen = this.overrides.listen === undefined ? this.root.listen === undefined ? null : ['listen'] : []
    if (listen !== null) {
      this.report('DG_MISSING_KEY', listen, "listen needs a 'tls' section: the TCP listener serves only mutual TLS (drop listen to serve only the socket listeners)")
    }
    return { tcp: false }
  }

  /** `sockets:`, each problem at its line:col. */
  sockets (): SocketListenerConfig[] {
    return readSockets(this.root.sockets, this.baseDir, (path, message) => { this.report('DG_BAD_VALUE', path, message) })
  }

  /** `limits`, `admin`, `shutdown` and `workers`, defaults filled in; see operations.ts. */
  operations (listen: ListenAddress | null, sockets: readonly SocketListenerConfig[]): Pick<GatewayConfig, 'limits' | 'admin' | 'shutdown' | 'workers'> {
    const report = this.report.bind(this)
    const admin = readAdmin(this.root.admin, listen, this.locator, report, this.problems)
    if (admin?.kind === 'unix' && sockets.some((socket) => socket.path === admin.path)) {
      report('DG_BAD_VALUE', isRecord(this.root.admin) ? ['admin', 'listen'] : ['admin'], `admin ${admin.path} is also a socket listener's path; give the admin endpoints a socket of their own`)
    }
    let workers = readWorkers(this.root.workers, report)
    // Workers share the TLS port; a socket file has one listener (worker 1's).
    if (listen === null && workers > 1) {
      if (this.root.workers !== 'auto') report('DG_BAD_VALUE', ['workers'], `workers: ${workers} shares the TLS port among processes, and this config has no tls: section; socket listeners are served by one process, so use workers: 1`)
      workers = 1
    }
    return { limits: readLimits(this.root.limits), admin, shutdown: readShutdown(this.root.shutdown), workers }
  }

  /** The `audit:` section with defaults; a bad syslog address is reported at its line:col. */
  audit (file: string): AuditConfig {
    return readAuditConfig(this.root.audit, file, this.baseDir, (path, message) => { this.report('DG_BAD_VALUE', path, message) })
  }

  /** The absolute path named at `path`, or null if the value is absent or not a usable string. */
  path (path: ValuePath): string | null {
    const raw = valueAt(this.root, path)
    return typeof raw === 'string' && raw !== '' ? resolve(this.baseDir, raw) : null
  }

  /** Reads the file named at `path`, reporting DG_FILE_UNREADABLE with the resolved path and the OS reason. */
  async readableFile (path: ValuePath): Promise<{ path: string; text: string } | null> {
    const absolute = this.path(path)
    if (absolute === null) return null
    const read = await readTextFile(absolute)
    if (read.ok) return { path: absolute, text: read.text }
    this.report('DG_FILE_UNREADABLE', path, `cannot read ${path.join('.')} file ${absolute}: ${read.reason}`)
    return null
  }

  /** Reads and checks the TLS files; PEM checks run only once all three were read. */
  async tls (): Promise<TlsConfig | null> {
    const [ca, cert, key] = await Promise.all([
      this.readableFile(['tls', 'ca']), this.readableFile(['tls', 'cert']), this.readableFile(['tls', 'key'])
    ])
    if (ca === null || cert === null || key === null) return null
    const pem: TlsPem = { ca: ca.text, cert: cert.text, key: key.text }
    const problems = checkTlsMaterial(pem, { certFile: cert.path })
    for (const problem of problems) this.report('DG_TLS_MATERIAL', ['tls', problem.key], problem.message)
    if (problems.length > 0) return null
    const crl = await this.crl(pem.ca)
    if (crl === null) return null
    return { caFile: ca.path, certFile: cert.path, keyFile: key.path, ...pem, ...crl }
  }

  /** Reads `tls.crl` (a path or a list), checks each CRL against the CAs, and that every CA has one. */
  async crl (caText: string): Promise<{ crlFiles: string[]; crls: CrlFacts[] } | null> {
    const raw = valueAt(this.root, ['tls', 'crl'])
    const paths: ValuePath[] = typeof raw === 'string' ? [['tls', 'crl']] : Array.isArray(raw) ? raw.map((_, i) => ['tls', 'crl', i]) : []
    if (paths.length === 0) return { crlFiles: [], crls: [] }
    const before = this.problems.length
    const files = await Promise.all(paths.map(async (path) => await this.readableFile(path)))
    const cas = caCertificates(caText)
    const crls: CrlFacts[] = []
    files.forEach((file, i) => {
      if (file === null) return
      const read = readCrlFile(file.path, file.text, cas)
      for (const problem of read.problems) this.report('DG_TLS_MATERIAL', paths[i] ?? [], problem)
      crls.push(...read.crls)
    })
    // Coverage is only meaningful once every file was read and understood.
    if (this.problems.length === before) {
      for (const problem of uncoveredCas(cas, crls)) this.report('DG_TLS_MATERIAL', ['tls', 'crl'], problem)
    }
    const read = files.filter((file) => file !== null)
    return this.problems.length > before || read.length < files.length ? null : { crlFiles: read.map((file) => file.path), crls }
  }
}

function valueAt (root: unknown, path: ValuePath): unknown {
  let current = root
  for (const segment of path) {
    current = Array.isArray(current) && typeof segment === 'number' ? current[segment] as unknown : isRecord(current) ? current[segment] : undefined
  }
  return current
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
