/**
 * A gateway that reloads: built from validated settings with the TLS
 * material of this moment (tls-state.ts), and a reloader bound to it. What
 * `dockgate serve` runs, and what the reload tests run, so both exercise
 * the same wiring.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { AuditLog } from '../audit/log.js'
import type { Loaded } from '../shared/diagnostics.js'
import { buildGateway, type Gateway, type GatewayObserver } from '../gateway/gateway.js'
import { createReloader, type ReloadResult, type Reloader } from '../reload/reload.js'
import type { Settings } from '../reload/settings.js'
import { liveTls } from '../tls/live-tls.js'

/** What a live gateway needs; `load` reads everything from disk again on each reload. */
export interface LiveGatewayOptions {
  readonly settings: Settings
  readonly load: () => Promise<Loaded<Settings>>
  readonly audit: AuditLog
  readonly logger: FastifyBaseLogger
  readonly debounceMs?: number
  /** Metrics hooks; none unless set. */
  readonly observer?: GatewayObserver
  /** An inherited listening descriptor to serve on instead of `listen` (socket activation). */
  readonly listenFd?: number
}

/** A gateway with its reloader; `hangup` is what SIGHUP does. */
export interface LiveGateway {
  readonly gateway: Gateway
  readonly reloader: Reloader
  /**
   * SIGHUP: reopen the audit file if it was moved away (logrotate; the chain
   * continues into the new file), then reload everything.
   */
  readonly hangup: () => Promise<ReloadResult>
}

/**
 * Builds the gateway and its reloader. Neither listens nor watches yet:
 * call `gateway.listen()`, then `reloader.start()`; on shutdown
 * `reloader.close()` before `gateway.close()`.
 */
export async function buildLiveGateway (options: LiveGatewayOptions): Promise<LiveGateway> {
  const { config, policy } = options.settings
  const tls = liveTls(config.tls, new Date())
  const gateway = await buildGateway({
    listen: config.listen,
    upstream: config.upstream,
    tls: tls.material,
    revocation: tls.revocation,
    policy,
    audit: options.audit,
    logger: options.logger,
    bodyBytes: config.limits.bodyBytes,
    auditLevel: config.audit.level,
    maxHeaderBytes: config.limits.headerBytes,
    headersTimeoutMs: config.limits.headersTimeoutSeconds * 1000,
    limits: config.limits,
    ...(options.observer === undefined ? {} : { observer: options.observer }),
    ...(options.listenFd === undefined ? {} : { listenFd: options.listenFd })
  })
  const reloader = createReloader({
    gateway,
    initial: options.settings,
    load: options.load,
    logger: options.logger,
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs })
  })
  const hangup = async (): Promise<ReloadResult> => {
    const reopened = options.audit.reopen()
    if (reopened.reopened) options.logger.info({ audit: options.audit.file }, 'SIGHUP: the audit file had been moved away; records continue in a new file')
    return await reloader.reload('SIGHUP')
  }
  return { gateway, reloader, hangup }
}
