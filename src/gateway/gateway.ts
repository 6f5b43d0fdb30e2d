/**
 * Assembles the gateway from validated settings: the listeners in front
 * (the TLS gate for remote clients, socket listeners for local tools),
 * fastify (ordinary requests) and the hijack handler behind them, both
 * asking one request pipeline (pipeline.ts) to admit every request, and
 * the audit trail. Building never listens; `listen` does.
 */
import type { X509Certificate } from 'node:crypto'
import { dirname } from 'node:path'
import type { AddressInfo, Socket } from 'node:net'
import type { Server as TlsServer } from 'node:tls'
import type { FastifyBaseLogger } from 'fastify'
import type { GatewayConfig } from '../config/load.js'
import type { Policy } from '../policy/index.js'
import { matchIdentity } from '../policy/index.js'
import { createTlsGate, reloadTlsGate, type AcceptedConnection, type TlsMaterial } from '../tls/gate.js'
import { liveTls } from '../tls/live-tls.js'
import type { RevocationList } from '../tls/revocation.js'
import { UnverifiedSockets } from '../tls/unverified.js'
import { createHttpForwarder } from '../proxy/http.js'
import { handleUpgrades } from '../proxy/upgrade.js'
import { refuseUnsupported } from '../proxy/unsupported.js'
import { UpstreamLiveness } from '../proxy/liveness.js'
import { refuseConnection } from '../proxy/refuse-connection.js'
import { REQUEST_ID_HEADER } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { RejectionLimits } from '../audit/rate-limit.js'
import { addressKey } from '../limits/address-key.js'
import { Limiter, type LimitSettings } from '../limits/limiter.js'
import { refusal, type Refusal } from '../shared/errors.js'
import { caCertificates } from '../config/tls-material.js'
import { peerChain } from '../tls/trust.js'
import { drainer } from './drain.js'
import { InFlight } from './in-flight.js'
import { OpenConnections } from './open-connections.js'
import { Pipeline } from './pipeline.js'
import { withImagesResolved } from './images.js'
import { QuotaGate } from './quota.js'
import { DaemonClient, OwnerIndex } from '../ownership/index.js'
import { connectionRefusedRecord } from './records.js'
import { auditIdentity, tlsConnection, type ConnectionInfo } from './connection.js'
import { SocketListeners } from './socket-listeners.js'
import { createRefusalAudit } from './refusal-audit.js'
import { OpenRecordings } from './session-recording.js'

/** Everything a gateway is configured with, validated (src/reload/settings.ts loads it). */
export interface Settings {
  readonly config: GatewayConfig
  readonly policy: Policy
}

/** What a gateway runs with besides its settings. */
export interface GatewayOptions {
  readonly settings: Settings
  /** The audit trail, already open (the runtime taps it for metrics). */
  readonly audit: AuditLog
  readonly logger: FastifyBaseLogger
  /** Listen on this inherited, already listening descriptor (systemd socket activation) instead of `listen`. */
  readonly listenFd?: number
  /** Place the socket listeners of `sockets:`; true unless set (a cluster's other workers do not). */
  readonly serveSockets?: boolean
  /** Told about what metrics count and the audit trail may not show one for one. */
  readonly observer?: GatewayObserver
  /** How many TLSRejected records each address, and refusals by limits each identity and code, may write before they are counted instead; the built-in limits unless set. */
  readonly rejectionLimits?: RejectionLimits
}

/** Events for metrics. Must not throw. */
export interface GatewayObserver {
  readonly tlsRejected: (reason: string) => void
  /** A limit refused something: a LimitName, `header-size` or `header-timeout`. */
  readonly limitHit: (limit: string) => void
  /** Each daemon liveness probe's outcome: null when it answered, else what is wrong (for the log). */
  readonly daemon?: (problem: string | null) => void
}

/** What is open now. */
export interface GatewayStats {
  readonly connections: number
  readonly streams: number
  readonly sessions: number
  /** Connections not verified yet (handshaking, turned away, refused by a connection limit). */
  readonly unverified: number
  readonly draining: boolean
}

/**
 * New material for a running gateway; parts left out stay as they are.
 * Everything given must already be validated: `update` cannot fail.
 */
export interface GatewayUpdate {
  readonly tls?: TlsMaterial
  readonly policy?: Policy
  readonly revocation?: RevocationList
  readonly limits?: LimitSettings
}

/**
 * A built gateway. `close` stops accepting and drops open connections.
 * `update` swaps material in one synchronous step: new handshakes use the
 * new TLS material, new requests (also on kept-alive connections) the new
 * policy, while streams and hijacked sessions already admitted run on. With
 * a new revocation list, open connections whose certificate it revokes are
 * closed and audited, and with a changed CA, so are open connections
 * whose certificate no CA in it issued; the counts are returned.
 * Independently of updates, a connection is closed (and audited) when its
 * certificate expires.
 */
export interface Gateway {
  /** Listens on the TLS port (when there is one), then places every socket listener. */
  listen: () => Promise<Listening>
  close: () => Promise<void>
  update: (next: GatewayUpdate) => GatewayUpdateResult
  /**
   * Graceful shutdown, first half: stop accepting, answer every new request
   * 503 (closing its connection), wait up to `graceMs` for what is in
   * flight, then cut what is left (streams, hijacked sessions, slow
   * requests; each gets its aborted audit record). Resolves with how many
   * exchanges were cut. Call `close` afterwards. Calling it again
   * shortens the wait to the new deadline if that is sooner.
   */
  drain: (graceMs: number) => Promise<{ cut: number }>
  /**
   * What is wrong with the daemon, or null when it answers /_ping: the
   * liveness probe's last answer when it is at most `maxAgeMs` old, else a
   * probe now (one probe serves liveness and readiness).
   */
  daemonProblem: (maxAgeMs: number) => Promise<string | null>
  stats: () => GatewayStats
}

/** Where a gateway listens: the TLS port (null without a `tls:` section) and the socket listeners' paths. */
export interface Listening {
  readonly tls: AddressInfo | null
  readonly sockets: readonly string[]
}

/** What an update closed: connections of revoked certificates, and of certificates no CA in a new `tls.ca` issued. */
export interface GatewayUpdateResult {
  readonly closedRevoked: number
  readonly closedUntrusted: number
}

/** Wires the modules together; see the module comment for the data flow. */
export async function buildGateway (options: GatewayOptions): Promise<Gateway> {
  const { config } = options.settings
  const tls = config.tls === null ? null : liveTls(config.tls, new Date())
  let policy = options.settings.policy
  let revocation = tls?.revocation ?? null
  let trustedCa = config.tls?.ca ?? null
  const open = new OpenConnections(options.audit)
  const observer = options.observer ?? { tlsRejected: () => {}, limitHit: () => {} }
  const limiter = new Limiter(config.limits)
  const unverified = new UnverifiedSockets((address) => limiter.openUnverified(addressKey(address)), observer.limitHit)
  const liveness = new UpstreamLiveness({ upstream: config.upstream, ...(observer.daemon === undefined ? {} : { onResult: observer.daemon }) })
  const refusals = createRefusalAudit(options.audit, options.rejectionLimits)
  const inFlight = new InFlight()
  // Image and quota checks ask the daemon directly (the owner index has its own client).
  const daemon = new DaemonClient(config.upstream.socketPath)
  // Made on the first request of an ownership team, so a policy without one never follows the daemon's events.
  let owners: OwnerIndex | null = null
  const ownerIndex = (): OwnerIndex => {
    owners ??= new OwnerIndex({ socketPath: config.upstream.socketPath, onProblem: (message) => { options.logger.warn(`owner index: ${message}`) } })
    return owners
  }
  const identityOf = (connection: ConnectionInfo): ReturnType<typeof auditIdentity> =>
    auditIdentity(connection, matchIdentity(policy, connection.principal), policy.file)
  const pipeline = new Pipeline({
    connectionOf: (req) => open.infoOf(req.socket),
    policy: () => policy,
    audit: options.audit,
    refusals,
    limiter,
    onLimitHit: observer.limitHit,
    daemonDown: () => liveness.refusal(),
    inFlight,
    bodyLimit: config.limits.bodyBytes,
    auditLevel: config.audit.level,
    owners: ownerIndex,
    resolveImages: async (verdict) => await withImagesResolved(verdict, daemon),
    quotas: new QuotaGate(daemon, ownerIndex),
    // Recordings are named relative to the folder of the file this gateway's records go to (a worker's own, too).
    sessions: { ...config.audit.sessions, auditDir: dirname(options.audit.file), open: new OpenRecordings() }
  })
  const app = await createHttpForwarder({
    upstream: config.upstream,
    admit: (req) => pipeline.admit(req),
    logger: options.logger,
    headersTimeoutMs: config.limits.headersTimeoutSeconds * 1000,
    maxHeaderBytes: config.limits.headerBytes,
    onMalformed: (socket, refused) => {
      if (refused.status === 431) observer.limitHit('header-size')
      if (refused.status === 408) observer.limitHit('header-timeout')
      const connection = open.infoOf(socket)
      if (connection === undefined) return null
      const record = connectionRefusedRecord(connection, identityOf(connection), refused, 'error')
      options.audit.write(record)
      return record.auditID
    }
  })
  handleUpgrades(app.server, config.upstream, (req) => pipeline.admit(req))
  refuseUnsupported(app.server, (req, refused) => pipeline.recordUnjudged(req, refused))
  await app.ready()
  // The HTTP server never listens (the listeners in front own the
  // sockets), but Node starts enforcing headersTimeout only once a server
  // emits 'listening'.
  app.server.emit('listening')

  // Every connection, of either transport, is counted against the
  // connection limits here and then served by the one HTTP server.
  // A TLS connection refused here still counts as unverified until it closes (stats, limits.unverified*).
  const admitConnection = (socket: Socket, connection: ConnectionInfo, tlsParts?: { chain: () => readonly X509Certificate[]; verified: () => void }): void => {
    const admission = limiter.openConnection(connection.key)
    if (!admission.ok) {
      observer.limitHit(admission.limit)
      refuseOverLimit(socket, connection, admission, (refused) => refusals.refused(
        { identity: connection.key, code: refused.code, client: connection.client, auditIdentity: () => identityOf(connection) },
        () => connectionRefusedRecord(connection, identityOf(connection), refused, 'reason')))
      return
    }
    tlsParts?.verified()
    open.add(socket, connection, tlsParts?.chain)
    socket.once('close', () => { admission.release() })
    app.server.emit('connection', socket)
  }
  const gate = tls === null ? null : createTlsGate({
    material: tls.material,
    revocation: () => revocation as RevocationList,
    unverified,
    onAccepted: (accepted: AcceptedConnection) => {
      const { socket, identity, remoteAddress, remotePort } = accepted
      admitConnection(socket, tlsConnection(identity, remoteAddress, remotePort), { chain: () => peerChain(socket), verified: () => { unverified.verified(socket) } })
    },
    // Counted for metrics whether or not the audit rate limit writes a record.
    onRejected: (rejection): Record<string, string> => {
      observer.tlsRejected(rejection.reason)
      const requestId = refusals.tlsRejected(rejection)
      return requestId === null ? {} : { [REQUEST_ID_HEADER]: requestId }
    }
  })
  const sockets = new SocketListeners(options.serveSockets === false ? [] : config.sockets, admitConnection)

  let gateClosed: Promise<void> | null = null
  const closeGate = async (): Promise<void> => {
    gateClosed ??= gate === null ? Promise.resolve() : new Promise<void>((resolve) => { gate.close(() => { resolve() }) })
    await Promise.all([gateClosed, sockets.stop()])
  }
  const drain = drainer({ inFlight, stopAccepting: closeGate, open: open.sockets, closeUnverified: () => { unverified.destroyAll() } })

  return {
    listen: async () => {
      const address = gate === null ? null : await listenTls(gate, config.listen, options.listenFd)
      try {
        const paths = await sockets.listen()
        liveness.start()
        return { tls: address, sockets: paths }
      } catch (err) {
        await closeGate()
        throw err
      }
    },
    close: async () => {
      liveness.stop()
      const closed = closeGate()
      unverified.destroyAll()
      for (const socket of open.sockets) socket.destroy()
      await app.close()
      await closed
      await owners?.close()
      refusals.close()
    },
    update: (next) => {
      if (next.tls !== undefined && gate !== null) reloadTlsGate(gate, next.tls)
      if (next.policy !== undefined) policy = next.policy
      if (next.limits !== undefined) limiter.update(next.limits)
      if (next.revocation !== undefined) revocation = next.revocation
      const closedRevoked = next.revocation === undefined ? 0 : open.closeRevoked(next.revocation)
      // Only a changed CA can untrust what the gate admitted; new handshakes already verify against it.
      const caChanged = next.tls !== undefined && next.tls.ca !== trustedCa
      if (next.tls !== undefined) trustedCa = next.tls.ca
      return { closedRevoked, closedUntrusted: caChanged && trustedCa !== null ? open.closeUntrusted(caCertificates(trustedCa)) : 0 }
    },
    drain,
    daemonProblem: async (maxAgeMs) => await liveness.current(maxAgeMs),
    stats: () => ({ connections: open.sockets.size, ...inFlight.openKinds(), unverified: unverified.size, draining: inFlight.isDraining })
  }
}

/** Listens on the TLS port, or on the inherited descriptor (systemd socket activation). */
async function listenTls (gate: TlsServer, listen: GatewayConfig['listen'], listenFd: number | undefined): Promise<AddressInfo> {
  return await new Promise<AddressInfo>((resolve, reject) => {
    gate.once('error', reject)
    const done = (): void => {
      gate.off('error', reject)
      resolve(gate.address() as AddressInfo)
    }
    if (listenFd !== undefined) gate.listen({ fd: listenFd }, done)
    else if (listen !== null) gate.listen(listen.port, listen.host, done)
    else reject(new Error('no TLS listen address'))
  })
}

// Refused as a whole, in Docker's error shape: the handshake is done, so
// the client can be told why instead of seeing a reset. Recorded first;
// `record` returns the record's id, which the answer carries (none when
// the refusal was only counted).
function refuseOverLimit (socket: Socket, connection: ConnectionInfo, over: { limit: string; max: number }, record: (refused: Refusal) => string | null): void {
  const refused = over.limit === 'connections'
    ? refusal('DG_LIMIT_CONNECTIONS', `the gateway has ${over.max} open connections (limits.maxConnections); retry shortly`, 1)
    : refusal('DG_LIMIT_IDENTITY_CONNECTIONS', `${connection.name} already has ${over.max} open connections (limits.connectionsPerIdentity); close some and retry`, 1)
  refuseConnection(socket, refused, record(refused))
}
