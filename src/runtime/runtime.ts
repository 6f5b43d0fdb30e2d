/**
 * One serving process, assembled from validated settings: the audit trail
 * (tapped for metrics), the metrics registry, the gateway, the reloader
 * bound to it, and (unless a cluster primary serves them) the admin
 * endpoints. `dockgate serve` runs
 * one of these, or one per worker; tests run the same thing in-process.
 *
 * Lifecycle: `start` listens; `shutdown` drains (new requests 503,
 * in-flight ones get `shutdown.graceSeconds`, streams and sessions are cut
 * at the deadline), closes everything and flushes the audit trail.
 */
import type { AddressInfo } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import { startAdmin, type AdminServer, type Readiness } from './admin-server.js'
import { formatAdmin } from '../config/operations.js'
import { LIMIT_NAMES } from '../limits/limiter.js'
import { createMetrics, type GatewayMetrics } from '../metrics/registry.js'
import { REJECT_REASONS } from '../tls/gate.js'
import type { Loaded } from '../shared/diagnostics.js'
import { buildGateway, type Gateway, type Listening } from '../gateway/gateway.js'
import { reloadedRecord } from '../gateway/records.js'
import { SocketPlacementError } from '../local/socket-file.js'
import { descriptorShortfall, openFilesLimit, watchDescriptors } from './descriptors.js'
import { openAuditTrail } from './audit-trail.js'
import { createReadiness } from './readiness.js'
import { createReloader, type ReloadResult, type Reloader } from '../reload/reload.js'
import type { Settings } from '../reload/settings.js'
import { auditOpenFailure, listenFailure } from './startup.js'
import { observeRecord, tapAudit, type AuditHealth } from './tap.js'
import { VERSION } from '../shared/version.js'

/** How to assemble one process. */
export interface RuntimeOptions {
  readonly settings: Settings
  readonly load: () => Promise<Loaded<Settings>>
  readonly logger: FastifyBaseLogger
  /** The audit file to write; the config's `audit.file` unless a worker's own is given. */
  readonly auditFile?: string
  /** An inherited listening descriptor (socket activation) to serve instead of `listen`. */
  readonly listenFd?: number
  /** Serve `admin:` from this process; false in cluster workers, whose primary serves it. */
  readonly serveAdmin: boolean
  /** Serve the socket listeners (`sockets:`); true unless set (in a cluster, worker 1 does). */
  readonly serveSockets?: boolean
  /** Log what the daemon liveness probes find; true unless set (one process of a cluster is enough). */
  readonly reportDaemon?: boolean
  readonly debounceMs?: number
}

/** A startup failure with the message to print after `dockgate: not started: `. */
export class StartupError extends Error {}

/** An assembled process; see the module comment. */
export interface Runtime {
  readonly gateway: Gateway
  readonly reloader: Reloader
  /** SIGHUP: reopen the audit file if it was moved away (logrotate; the chain continues into the new file), then reload everything. */
  readonly hangup: () => Promise<ReloadResult>
  readonly metrics: GatewayMetrics
  readonly readiness: () => Promise<Readiness>
  readonly auditHealth: () => AuditHealth
  readonly auditFile: string
  /** Listens on the TLS port and the socket listeners, then the admin address; rejects with a {@link StartupError}, having closed everything. */
  start: () => Promise<{ readonly address: AddressInfo | null; readonly sockets: readonly string[]; readonly admin: string | null }>
  /**
   * Graceful shutdown; resolves when everything is closed and the audit
   * trail flushed. `force` (a second signal) cuts what is in flight now.
   * Safe to call again: a later call can only make it sooner.
   */
  shutdown: (options?: { readonly force?: boolean }) => Promise<{ readonly cut: number }>
  /** Closes everything now, without draining (tests, and after a failed start); flushes the audit trail. */
  close: () => Promise<void>
}

/** The same daemon problem is logged again after this long. */
const DAEMON_REMINDER_MS = 10 * 60_000

/** Opens the audit trail and builds everything; rejects with a {@link StartupError} if the audit file cannot be opened. */
export async function buildRuntime (options: RuntimeOptions): Promise<Runtime> {
  const { config } = options.settings
  const auditFile = options.auditFile ?? config.audit.file
  let raw
  try {
    raw = openAuditTrail(config.audit, options.logger, auditFile)
  } catch (err) {
    throw new StartupError(auditOpenFailure(auditFile, err))
  }
  // The metrics are made before the gateway (it reports to them) and read it once it exists.
  const built: { gateway?: Gateway; reloader?: Reloader } = {}
  const stats = (): ReturnType<Gateway['stats']> => built.gateway?.stats() ?? { connections: 0, streams: 0, sessions: 0, unverified: 0, draining: false }
  const daemon = daemonReporter(options)
  const metrics = createMetrics({
    connections: () => stats().connections,
    unverified: () => stats().unverified,
    streams: () => stats(),
    reloads: () => built.reloader?.stats() ?? null,
    expiry: () => built.reloader?.expiry() ?? [],
    audit: () => tapped.health(),
    draining: () => stats().draining
  }, { version: VERSION, startedAt: Date.now() }, {
    // The gateway's observer reports header limits under these names.
    limits: [...LIMIT_NAMES, 'header-size', 'header-timeout'],
    tlsReasons: REJECT_REASONS,
    closedReasons: ['revoked', 'expired', 'unknown-ca']
  })
  const tapped = tapAudit(raw, (record) => { observeRecord(metrics, record) })
  const gateway = await buildGateway({
    settings: options.settings,
    audit: tapped.audit,
    logger: options.logger,
    observer: { tlsRejected: metrics.observeTlsRejection, limitHit: metrics.observeLimitHit, daemon: options.reportDaemon === false ? () => {} : daemon },
    ...(options.listenFd === undefined ? {} : { listenFd: options.listenFd }),
    ...(options.serveSockets === false ? { serveSockets: false } : {})
  })
  const reloader = createReloader({
    gateway,
    initial: options.settings,
    load: options.load,
    logger: options.logger,
    // Every change of policy and config, applied or refused, in the same chain as the requests it changed.
    onReload: (event) => { tapped.audit.write(reloadedRecord(event)) },
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs })
  })
  Object.assign(built, { gateway, reloader })
  const hangup = async (): Promise<ReloadResult> => {
    const reopened = tapped.audit.reopen()
    if (reopened.reopened) options.logger.info({ audit: tapped.audit.file }, 'SIGHUP: the audit file had been moved away; records continue in a new file')
    return await reloader.reload('SIGHUP')
  }
  const readiness = createReadiness({
    upstream: config.upstream,
    daemonProblem: gateway.daemonProblem,
    auditFile,
    settings: reloader.settings.bind(reloader),
    expiry: reloader.expiry.bind(reloader),
    audit: tapped.health,
    draining: () => stats().draining
  })
  let admin: AdminServer | null = null
  let stopping: Promise<{ cut: number }> | null = null
  let unwatch = (): void => {}

  const closeAll = async (): Promise<void> => {
    unwatch()
    reloader.close()
    await gateway.close()
    await admin?.close()
    // Records are written synchronously; closing seals the file and stops the sinks.
    await tapped.audit.close()
  }
  return {
    gateway,
    reloader,
    hangup,
    metrics,
    readiness,
    auditHealth: tapped.health,
    auditFile,
    start: async () => {
      const fileLimit = openFilesLimit()
      const shortfall = descriptorShortfall(config.limits, fileLimit)
      if (shortfall !== null && options.reportDaemon !== false) options.logger.warn(shortfall)
      // Each process has descriptors of its own: each says when it runs out.
      if (shortfall !== null && fileLimit !== null) unwatch = watchDescriptors(fileLimit, (message) => { options.logger.warn(message) })
      let listening: Listening
      try {
        listening = await gateway.listen()
      } catch (err) {
        await closeAll()
        if (err instanceof SocketPlacementError) throw new StartupError(`DG_LISTEN_FAILED socket listener: ${err.message}`)
        const where = options.listenFd !== undefined ? `inherited fd ${options.listenFd}` : config.listen === null ? '?' : `${config.listen.host}:${config.listen.port}`
        throw new StartupError(listenFailure('the TLS port', where, err as NodeJS.ErrnoException))
      }
      if (options.serveAdmin && config.admin !== null) {
        try {
          admin = await startAdmin({
            listen: config.admin,
            readiness,
            metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() })
          })
        } catch (err) {
          await closeAll()
          throw new StartupError(listenFailure('the admin endpoints', formatAdmin(config.admin), err as NodeJS.ErrnoException))
        }
      }
      reloader.start()
      return { address: listening.tls, sockets: listening.sockets, admin: admin?.address ?? null }
    },
    close: closeAll,
    shutdown: async (how = {}) => {
      if (stopping !== null) {
        if (how.force === true) void gateway.drain(0)
        return await stopping
      }
      stopping = (async () => {
        reloader.close()
        const grace = how.force === true ? 0 : reloader.settings().config.shutdown.graceSeconds
        const { connections, streams, sessions } = gateway.stats()
        const inFlight = { connections, streams, sessions }
        options.logger.info({ graceSeconds: grace, ...inFlight },
          `dockgate stopping: no new connections, new requests answered 503; waiting up to ${grace} s for what is in flight ` +
          `(${inFlight.streams} stream(s) and ${inFlight.sessions} session(s) are closed at the deadline; a second signal cuts everything now)`)
        const { cut } = await gateway.drain(grace * 1000)
        await closeAll()
        options.logger.info({ cut, audit: auditFile }, `dockgate stopped: ${cut} exchange(s) cut at the deadline; audit trail flushed`)
        return { cut }
      })()
      return await stopping
    }
  }
}

// The gateway probes the daemon every few seconds; the operator's log gets
// the diagnosis (which socket, which group to join): once per distinct
// problem, again after a quiet while, and a line when it answers again.
function daemonReporter (options: RuntimeOptions): (problem: string | null) => void {
  let logged: { problem: string; at: number } | null = null
  return (problem) => {
    const now = Date.now()
    if (problem === null) {
      if (logged !== null) options.logger.info(`the Docker daemon at ${options.settings.config.upstream.url} answers again`)
      logged = null
      return
    }
    if (logged !== null && logged.problem === problem && now - logged.at < DAEMON_REMINDER_MS) return
    logged = { problem, at: now }
    options.logger.warn(`${problem}; requests are answered 502 until it is up`)
  }
}
