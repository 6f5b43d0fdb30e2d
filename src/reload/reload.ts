/**
 * Live reload: on SIGHUP (the caller forwards it) and when a watched file
 * changes, load everything again (config, policy, CA, server certificate and
 * key, CRLs), validate all of it, and swap it into the running gateway in
 * one step. If anything is wrong, nothing is swapped: the old state keeps
 * serving and every problem is logged as `FILE:LINE:COL CODE message`.
 *
 * Also keeps time: it re-derives the TLS material when a CRL goes stale
 * (see src/tls/live-tls.ts for why that must not lock clients out) and repeats
 * expiry warnings. `listen`, `upstream`, `audit.*`, `admin`, `workers`
 * and the limits that shape the HTTP server (`bodyBytes`, `headerBytes`,
 * `headersTimeoutSeconds`) are fixed for the life of the process; a changed
 * value is logged as needing a restart. The other limits apply at once.
 * (SIGHUP also reopens the audit file: see src/runtime/runtime.ts.)
 */
import type { FastifyBaseLogger } from 'fastify'
import type { GatewayConfig, TlsConfig } from '../config/load.js'
import { formatAdmin } from '../config/operations.js'
import { formatDiagnostic, type Diagnostic, type Loaded } from '../shared/diagnostics.js'
import type { GatewayUpdate, GatewayUpdateResult } from '../gateway/gateway.js'
import type { Settings } from './settings.js'
import { describeExpiry, expiryLevel, expiryOf, type ExpiryItem, type ExpiryLevel } from '../config/expiry.js'
import { crlsOnly } from './reload-crls.js'
import { digestOf, MAX_PROBLEMS, type FileDigest, type ReloadEvent, type ReloadOutcome } from './reload-event.js'
import { crlRollbacks } from '../config/crl-order.js'
import { liveTls } from '../tls/live-tls.js'
import { fingerprint, watchFiles, type FileWatch } from './watch.js'

/** What started a reload, for the log. */
export type ReloadTrigger = 'SIGHUP' | 'file-change'

/**
 * The outcome of one reload. `applied` false with no diagnostics: nothing
 * had changed. `crlsApplied`: the reload was refused but its CRLs, which
 * only add revocations, were applied anyway (see reload-crls.ts).
 */
export interface ReloadResult {
  readonly applied: boolean
  readonly diagnostics: readonly Diagnostic[]
  readonly closedRevoked: number
  /** Open connections closed because the new `tls.ca` no longer trusts their certificate's issuer. */
  readonly closedUntrusted: number
  readonly crlsApplied: boolean
}

const NOTHING_DONE = { applied: false, diagnostics: [], closedRevoked: 0, closedUntrusted: 0, crlsApplied: false } as const satisfies ReloadResult

/** Counters for the metrics of issue 6 and for tests. */
export interface ReloadStats {
  readonly applied: number
  readonly failed: number
  readonly lastAppliedAt: string | null
  readonly lastFailedAt: string | null
  /** Whether the TLS handshake currently checks CRLs (false without CRLs, or with a stale one). */
  readonly handshakeChecksCrl: boolean
}

/** What the reloader needs; `load` reads and checks everything from disk again. */
export interface ReloaderOptions {
  readonly gateway: { update: (next: GatewayUpdate) => GatewayUpdateResult }
  readonly initial: Settings
  readonly load: () => Promise<Loaded<Settings>>
  readonly logger: FastifyBaseLogger
  /** Told of every reload that applied or refused something, after it took effect (the runtime writes it to the audit trail). */
  readonly onReload?: (event: ReloadEvent) => void
  /** Quiet time after the last file event before reloading; 300 ms unless set. */
  readonly debounceMs?: number
  readonly now?: () => Date
}

/** A running reloader; see the module comment. */
export interface Reloader {
  /** Logs expiry, starts watching files and the clock. Call once, after the gateway listens. */
  start: () => void
  /** Reloads now; concurrent calls run one after the other. Never rejects. */
  reload: (trigger: ReloadTrigger) => Promise<ReloadResult>
  /** Expiry of the material in use, now. */
  expiry: () => ExpiryItem[]
  stats: () => ReloadStats
  /** The settings in use: the initial ones, or those of the last applied reload. */
  settings: () => Settings
  close: () => void
}

const CLOCK_INTERVAL_MS = 60 * 60 * 1000
const REMINDER_INTERVAL_MS = 24 * 60 * 60 * 1000

/** Creates the reloader for a gateway built from `initial`. */
export function createReloader (options: ReloaderOptions): Reloader {
  return new LiveReloader(options)
}

class LiveReloader implements Reloader {
  private current: Settings
  private appliedFingerprint = ''
  private queue: Promise<unknown> = Promise.resolve()
  private watcher: FileWatch | null = null
  private watched = ''
  private clock: NodeJS.Timeout | null = null
  private closed = false
  private handshakeChecksCrl: boolean
  private readonly expiryLogged = new Map<string, { level: ExpiryLevel; at: number }>()
  private counts = { applied: 0, failed: 0, lastAppliedAt: null as string | null, lastFailedAt: null as string | null }
  private readonly now: () => Date
  private readonly log: FastifyBaseLogger

  constructor (private readonly options: ReloaderOptions) {
    this.current = options.initial
    this.now = options.now ?? (() => new Date())
    this.log = options.logger
    this.handshakeChecksCrl = options.initial.config.tls === null || liveTls(options.initial.config.tls, this.now()).handshakeChecksCrl
  }

  start (): void {
    this.queue = this.queue.then(async () => { this.appliedFingerprint = await fingerprint(watchedFiles(this.current.config)) })
    this.logTlsMode()
    this.logExpiry(true)
    this.rewatch()
    this.scheduleClock()
  }

  async reload (trigger: ReloadTrigger): Promise<ReloadResult> {
    const run = this.queue.then(async () => await this.reloadNow(trigger))
    this.queue = run.catch(() => {})
    return await run.catch((err: unknown): ReloadResult => {
      this.log.error({ trigger, err }, 'reload failed unexpectedly; still serving the previous state')
      return NOTHING_DONE
    })
  }

  expiry (): ExpiryItem[] {
    return this.current.config.tls === null ? [] : expiryOf(this.current.config.tls, this.now())
  }

  stats (): ReloadStats {
    return { ...this.counts, handshakeChecksCrl: this.handshakeChecksCrl }
  }

  settings (): Settings {
    return this.current
  }

  close (): void {
    this.closed = true
    this.watcher?.close()
    if (this.clock !== null) clearTimeout(this.clock)
  }

  private async reloadNow (trigger: ReloadTrigger): Promise<ReloadResult> {
    if (this.closed) return NOTHING_DONE
    const files = watchedFiles(this.current.config)
    const print = await fingerprint(files)
    if (trigger === 'file-change' && print === this.appliedFingerprint) return NOTHING_DONE
    const loaded = await this.options.load()
    const diagnostics = loaded.ok ? crlRollbacks(this.current.config.tls?.crls ?? [], loaded.value.config.tls?.crls ?? []) : loaded.diagnostics
    if (!loaded.ok || diagnostics.length > 0) return await this.refuse(trigger, diagnostics, loaded.ok ? loaded.value.config.policyFile : null)
    this.warnRestartNeeded(loaded.value.config)
    const next = withRunningListeners(loaded.value, this.current.config)
    // Hashed before the swap, so the Reloaded record can be written right after it, ahead of any request the new policy decides.
    const hashed = await this.digests(next.config.source, next.config.policyFile)
    const live = next.config.tls === null ? null : liveTls(next.config.tls, this.now())
    const { closedRevoked, closedUntrusted } = this.options.gateway.update({
      ...(live === null ? {} : { tls: live.material, revocation: live.revocation }), policy: next.policy, limits: next.config.limits
    })
    this.tell(trigger, 'applied', [], hashed, closedRevoked + closedUntrusted)
    for (const warning of next.policy.warnings) this.log.warn({ trigger, code: warning.code }, formatDiagnostic(warning))
    this.current = next
    // With a different set of files, the next event must reload to be sure.
    this.appliedFingerprint = watchedFiles(next.config).join('\n') === files.join('\n') ? print : ''
    this.handshakeChecksCrl = live?.handshakeChecksCrl ?? true
    this.counts = { ...this.counts, applied: this.counts.applied + 1, lastAppliedAt: this.now().toISOString() }
    this.log.info({
      trigger, policy: next.config.policyFile, crls: next.config.tls?.crls.length ?? 0, revoked: live?.revocation.size ?? 0, closedRevoked, closedUntrusted
    }, `reloaded (${trigger}): new connections use the new certificates and CRLs, new requests the new policy` +
      (closedRevoked > 0 ? `; closed ${closedRevoked} open connection(s) of revoked certificates` : '') +
      (closedUntrusted > 0 ? `; closed ${closedUntrusted} open connection(s) whose certificate no CA in tls.ca issued any more` : ''))
    this.logTlsMode()
    this.logExpiry(true)
    this.rewatch()
    this.scheduleClock()
    return { applied: true, diagnostics: [], closedRevoked, closedUntrusted, crlsApplied: false }
  }

  // All or nothing, except for CRLs that only add revocations: those are
  // applied on their own (reload-crls.ts), so a revocation never waits for
  // an unrelated problem to be fixed.
  private async refuse (trigger: ReloadTrigger, diagnostics: readonly Diagnostic[], policyFile: string | null): Promise<ReloadResult> {
    const files = await this.digests(this.current.config.source, policyFile ?? this.current.config.policyFile)
    const tell = (outcome: ReloadOutcome, closed: number): void => { this.tell(trigger, outcome, diagnostics, files, closed) }
    for (const d of diagnostics) this.log.error({ trigger, code: d.code }, formatDiagnostic(d))
    const failed = `reload (${trigger}) failed with ${diagnostics.length} problem(s)`
    const crls = this.current.config.tls === null ? { kind: 'skip' as const, reason: null } : await crlsOnly(this.current.config.tls)
    this.counts = { ...this.counts, failed: this.counts.failed + 1, lastFailedAt: this.now().toISOString() }
    if (crls.kind === 'apply') {
      const closedRevoked = this.applyCrlsOnly(crls.tls)
      this.log.error({ trigger, problems: diagnostics.length, newlyRevoked: crls.newlyRevoked, closedRevoked },
        `${failed}: the revocations were applied anyway, because the new CRLs only add revocations ` +
        `(${crls.newlyRevoked} newly revoked; closed ${closedRevoked} open connection(s) of revoked certificates), ` +
        'but the rest of the reload was refused; still serving the previous certificates and policy')
      tell('crls-only', closedRevoked)
      return { ...NOTHING_DONE, diagnostics, closedRevoked, crlsApplied: true }
    }
    this.log.error({ trigger, problems: diagnostics.length },
      `${failed}; still serving the previous certificates, CRLs and policy` +
      (crls.reason === null ? '' : `; the changed CRLs were not applied either: ${crls.reason}`))
    tell('refused', 0)
    return { ...NOTHING_DONE, diagnostics }
  }

  // Hashed as they are after the load read them: a file replaced in
  // between shows the newer bytes, which the next reload (its change is
  // watched) then records too.
  private async digests (configFile: string | null, policyFile: string): Promise<{ config: FileDigest | null; policy: FileDigest | null }> {
    if (this.options.onReload === undefined) return { config: null, policy: null }
    const [config, policy] = await Promise.all([digestOf(configFile), digestOf(policyFile)])
    return { config, policy }
  }

  private tell (trigger: ReloadTrigger, outcome: ReloadOutcome, diagnostics: readonly Diagnostic[], files: { config: FileDigest | null; policy: FileDigest | null }, closedConnections: number): void {
    this.options.onReload?.({
      trigger,
      outcome,
      problems: diagnostics.slice(0, MAX_PROBLEMS).map(formatDiagnostic),
      moreProblems: Math.max(0, diagnostics.length - MAX_PROBLEMS),
      ...files,
      closedConnections
    })
  }

  // The serving certificate, key and CA with the new CRLs: a new secure
  // context (so fresh ticket keys) and the open connections they revoke closed.
  private applyCrlsOnly (tls: TlsConfig): number {
    const live = liveTls(tls, this.now())
    const { closedRevoked } = this.options.gateway.update({ tls: live.material, revocation: live.revocation })
    this.current = Object.freeze({ ...this.current, config: Object.freeze({ ...this.current.config, tls }) })
    this.handshakeChecksCrl = live.handshakeChecksCrl
    this.logTlsMode()
    this.logExpiry(true)
    this.scheduleClock()
    return closedRevoked
  }

  // The process was started with these; changing them needs a new listener,
  // a new HTTP server or a new audit writer, which a reload does not create.
  // The other limits and shutdown.graceSeconds apply at once.
  private warnRestartNeeded (next: GatewayConfig): void {
    const running = this.options.initial.config
    const admin = (config: GatewayConfig): string => config.admin === null ? 'off' : formatAdmin(config.admin)
    const changes: Array<[string, string, string]> = [
      ['listen', listenText(running), listenText(next)],
      ['sockets', JSON.stringify(running.sockets), JSON.stringify(next.sockets)],
      ['upstream', running.upstream.url, next.upstream.url],
      ...(['file', 'level', 'sessions', 'fsync', 'onFailure', 'rotate', 'sinks'] as const).map((key): [string, string, string] =>
        [`audit.${key}`, JSON.stringify(running.audit[key]), JSON.stringify(next.audit[key])]),
      ['limits.bodyBytes', String(running.limits.bodyBytes), String(next.limits.bodyBytes)],
      ['limits.headerBytes', String(running.limits.headerBytes), String(next.limits.headerBytes)],
      ['limits.headersTimeoutSeconds', String(running.limits.headersTimeoutSeconds), String(next.limits.headersTimeoutSeconds)],
      ['admin', admin(running), admin(next)],
      ['workers', String(running.workers), String(next.workers)]
    ]
    for (const [key, now, wanted] of changes) {
      if (now === wanted) continue
      this.log.warn({ key, running: now, configured: wanted },
        `${key} changed to ${wanted} but dockgate still uses ${now}: restart dockgate to apply it (everything else was reloaded)`)
    }
  }

  private logTlsMode (): void {
    const { tls } = this.current.config
    if (tls === null || tls.crls.length === 0) return
    const live = liveTls(tls, this.now())
    if (live.handshakeChecksCrl) return
    this.log.error({ staleCrls: live.staleCrls, revoked: live.revocation.size },
      `CRL ${live.staleCrls.join(', ')} is stale or not valid yet: the TLS handshake stops checking CRLs so clients are not ` +
      `all locked out, and dockgate keeps refusing the ${live.revocation.size} revoked certificate(s) it knows; ` +
      'run `dockgate certs crl` to publish a current CRL (dockgate picks it up without a restart)')
  }

  private logExpiry (all: boolean): void {
    const at = this.now().getTime()
    for (const item of this.expiry()) {
      const key = `${item.kind} ${item.file} ${item.subject}`
      const level = expiryLevel(item)
      const last = this.expiryLogged.get(key)
      const due = all || last?.level !== level || (level !== 'ok' && at - last.at >= REMINDER_INTERVAL_MS)
      if (!due) continue
      this.expiryLogged.set(key, { level, at })
      this.log[level === 'ok' ? 'info' : level === 'warn' ? 'warn' : 'error']({ expiry: item }, describeExpiry(item))
    }
  }

  // Wakes at the next CRL boundary (or hourly) to re-derive the TLS
  // material and to repeat warnings, so nothing depends on a reload happening.
  private scheduleClock (): void {
    if (this.clock !== null) clearTimeout(this.clock)
    const now = this.now().getTime()
    const { tls } = this.current.config
    const boundary = (tls === null ? null : liveTls(tls, this.now()).nextChange?.getTime()) ?? Infinity
    const delay = Math.max(0, Math.min(boundary - now, CLOCK_INTERVAL_MS))
    this.clock = setTimeout(() => { void this.queue.then(() => { this.tick() }) }, delay)
    this.clock.unref()
  }

  private tick (): void {
    if (this.closed) return
    const live = this.current.config.tls === null ? null : liveTls(this.current.config.tls, this.now())
    if (live !== null && live.handshakeChecksCrl !== this.handshakeChecksCrl) {
      this.options.gateway.update({ tls: live.material })
      this.handshakeChecksCrl = live.handshakeChecksCrl
      if (live.handshakeChecksCrl) this.log.info('every CRL is current again: the TLS handshake checks them')
      else this.logTlsMode()
    }
    this.logExpiry(false)
    this.scheduleClock()
  }

  private rewatch (): void {
    const files = watchedFiles(this.current.config)
    if (files.join('\n') === this.watched) return
    this.watcher?.close()
    this.watched = files.join('\n')
    this.watcher = watchFiles(files, () => { void this.reload('file-change') }, this.options.debounceMs ?? 300, (dir, err) => {
      this.log.warn({ dir, err: err.message }, `cannot watch ${dir}; changes there are picked up on SIGHUP only`)
    })
  }
}

/** The files a reload reads: the config file (unless built in memory), the policy, CA, certificate, key and CRLs. */
export function watchedFiles (config: GatewayConfig): string[] {
  const { tls } = config
  const files = [config.source, config.policyFile, ...(tls === null ? [] : [tls.caFile, tls.certFile, tls.keyFile, ...tls.crlFiles])]
  return [...new Set(files.filter((file): file is string => file !== null))].sort()
}

/** `listen` as the restart warning shows it. */
function listenText (config: GatewayConfig): string {
  return config.listen === null ? 'none (no tls: section)' : `${config.listen.host}:${config.listen.port}`
}

/**
 * The loaded settings as a reload applies them: with or without a TLS
 * listener as the process started (adding or removing `tls:` needs a
 * restart; warnRestartNeeded says so), and with the socket listeners it
 * runs, so what the process reports is what it serves.
 */
function withRunningListeners (loaded: Settings, running: GatewayConfig): Settings {
  const keepTls = (loaded.config.tls === null) !== (running.tls === null)
  if (!keepTls && JSON.stringify(loaded.config.sockets) === JSON.stringify(running.sockets)) return loaded
  const config = { ...loaded.config, sockets: running.sockets, ...(keepTls ? { tls: running.tls, listen: running.listen } : {}) }
  return Object.freeze({ ...loaded, config: Object.freeze(config) })
}
