/**
 * Assembles the gateway: the TLS gate in front, fastify (ordinary requests)
 * and the hijack handler behind it, one judging function for both (wrapped
 * by the operational guard: limits and shutdown), and the audit trail.
 * Building never listens; `listen` does.
 */
import type { AddressInfo, Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import type { AuditLevel, Policy } from '../policy/index.js'
import { createTlsGate, reloadTlsGate, type AcceptedConnection, type TlsMaterial } from '../tls/gate.js'
import { NO_REVOCATIONS, type RevocationList } from '../tls/revocation.js'
import { UnverifiedSockets } from '../tls/unverified.js'
import { createHttpForwarder } from '../proxy/http.js'
import { handleUpgrades } from '../proxy/upgrade.js'
import { refuseUnsupported } from '../proxy/unsupported.js'
import { UpstreamLiveness } from '../proxy/liveness.js'
import { refuseConnection } from '../proxy/refuse-connection.js'
import type { Upstream } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { RejectionLimits } from '../audit/rate-limit.js'
import { addressKey } from '../limits/address-key.js'
import { Limiter, type LimitSettings } from '../limits/limiter.js'
import { refusal, type Refusal } from '../shared/errors.js'
import { DEFAULT_LIMITS, defaultBurst } from '../config/operations.js'
import { createAdmit, type ConnectionInfo } from './admit.js'
import { drainer } from './drain.js'
import { Guard } from './guard.js'
import { connectionRefusedRecord, guardRefusalOf } from './limit-records.js'
import { malformedRecord, revokedConnectionRecord } from './records.js'
import { createRefusalAudit } from './refusal-audit.js'

/** Everything a gateway runs with; all of it validated before it gets here. */
export interface GatewayOptions {
  readonly listen: { readonly host: string; readonly port: number }
  readonly upstream: Upstream
  readonly tls: TlsMaterial
  /** Certificates refused even when the TLS layer would let them through (resumed sessions); none unless set. */
  readonly revocation?: RevocationList
  readonly policy: Policy
  readonly audit: AuditLog
  readonly logger: FastifyBaseLogger
  /** Time allowed for a client's request headers; 60 s unless set. */
  readonly headersTimeoutMs?: number
  /** `limits.bodyBytes`: the largest body read for judging; 1 MiB unless set. */
  readonly bodyBytes?: number
  /** `audit.level`: for requests the policy sets no level for; metadata unless set. */
  readonly auditLevel?: AuditLevel
  /** How many TLSRejected records each address, and refusals by limits each identity and code, (and all together) may write before they are counted instead. */
  readonly rejectionLimits?: RejectionLimits
  /** `limits.headerBytes`: the largest request head; 32 KiB unless set. */
  readonly maxHeaderBytes?: number
  /** Connection, stream and rate limits; the config's defaults ({@link DEFAULT_GATEWAY_LIMITS}) unless set. */
  readonly limits?: LimitSettings
  /** Listen on this inherited, already listening descriptor (systemd socket activation) instead of `listen`. */
  readonly listenFd?: number
  /** Told about what metrics count and the audit trail may not show one for one. */
  readonly observer?: GatewayObserver
}

/** Events for metrics. Must not throw. */
export interface GatewayObserver {
  readonly tlsRejected: (reason: string) => void
  /** A limit refused something: a LimitName, `header-size` or `header-timeout`. */
  readonly limitHit: (limit: string) => void
  /** Each daemon liveness probe's outcome: null when it answered, else what is wrong (for the log). */
  readonly daemon?: (problem: string | null) => void
}

/** The limits a gateway built without any runs with: the config's defaults. */
export const DEFAULT_GATEWAY_LIMITS: LimitSettings = { ...DEFAULT_LIMITS, requestBurst: defaultBurst(DEFAULT_LIMITS.requestsPerSecond) }

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
 * closed and audited; the count is returned.
 */
export interface Gateway {
  listen: () => Promise<AddressInfo>
  close: () => Promise<void>
  update: (next: GatewayUpdate) => { closedRevoked: number }
  /**
   * Graceful shutdown, first half: stop accepting, answer every new request
   * 503 (closing its connection), wait up to `graceMs` for what is in
   * flight, then cut what is left (streams, hijacked sessions, slow
   * requests; each gets its aborted audit record). Resolves with how many
   * exchanges were cut. Call `close` afterwards. Calling it again
   * shortens the wait to the new deadline if that is sooner.
   */
  drain: (graceMs: number) => Promise<{ cut: number }>
  stats: () => GatewayStats
}

/** Wires the modules together; see the module comment for the data flow. */
export async function buildGateway (options: GatewayOptions): Promise<Gateway> {
  const connections = new WeakMap<object, ConnectionInfo>()
  const open = new Set<Socket>()
  let policy = options.policy
  let revocation = options.revocation ?? NO_REVOCATIONS
  const observer = options.observer ?? { tlsRejected: () => {}, limitHit: () => {} }
  const limiter = new Limiter(options.limits ?? DEFAULT_GATEWAY_LIMITS)
  const unverified = new UnverifiedSockets((address) => limiter.openUnverified(addressKey(address)), observer.limitHit)
  const connectionOf = (req: { socket: object }): ConnectionInfo | undefined => connections.get(req.socket)
  const liveness = new UpstreamLiveness({ upstream: options.upstream, ...(observer.daemon === undefined ? {} : { onResult: observer.daemon }) })
  const refusals = createRefusalAudit(options.audit, options.rejectionLimits)
  const guard = new Guard({ connectionOf, policy: () => policy, auditRefusal: refusals.refused, limiter, onLimitHit: observer.limitHit, upstreamDown: () => liveness.refusal() })
  const admit = guard.wrap(createAdmit({
    connectionOf,
    policy: () => policy,
    audit: options.audit,
    ...(options.bodyBytes === undefined ? {} : { bodyLimit: options.bodyBytes }),
    ...(options.auditLevel === undefined ? {} : { auditLevel: options.auditLevel })
  }))
  const app = await createHttpForwarder({
    upstream: options.upstream,
    admit,
    logger: options.logger,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_LIMITS.headersTimeoutSeconds * 1000,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_LIMITS.headerBytes,
    onMalformed: (socket, refused) => {
      if (refused.status === 431) observer.limitHit('header-size')
      if (refused.status === 408) observer.limitHit('header-timeout')
      const connection = connections.get(socket)
      if (connection !== undefined) options.audit.write(malformedRecord(connection, refused, policy))
    }
  })
  handleUpgrades(app.server, options.upstream, admit)
  refuseUnsupported(app.server, (req, refused) => guard.recordUnjudged(req, refused))
  await app.ready()
  // The HTTP server never listens (the TLS gate owns the port), but Node
  // starts enforcing headersTimeout only once a server emits 'listening'.
  app.server.emit('listening')

  const gate = createTlsGate({
    material: options.tls,
    revocation: () => revocation,
    unverified,
    onAccepted: (accepted: AcceptedConnection) => {
      const { socket, identity, remoteAddress, remotePort } = accepted
      const connection: ConnectionInfo = { identity, remoteAddress, remotePort }
      const admission = limiter.openConnection(identity.fingerprint256)
      if (!admission.ok) {
        observer.limitHit(admission.limit)
        refuseOverLimit(socket, connection, admission, (refused) => {
          refusals.refused(guardRefusalOf(connection, policy, refused), () => connectionRefusedRecord(connection, policy, refused))
        })
        return
      }
      unverified.verified(socket)
      connections.set(socket, connection)
      open.add(socket)
      socket.once('close', () => { open.delete(socket); admission.release() })
      app.server.emit('connection', socket)
    },
    // Counted for metrics whether or not the audit rate limit writes a record.
    onRejected: (rejection) => {
      observer.tlsRejected(rejection.reason)
      refusals.tlsRejected(rejection)
    }
  })

  let gateClosed: Promise<void> | null = null
  const closeGate = async (): Promise<void> => {
    gateClosed ??= new Promise<void>((resolve) => { gate.close(() => { resolve() }) })
    await gateClosed
  }
  const drain = drainer({ guard, stopAccepting: closeGate, open, closeUnverified: () => { unverified.destroyAll() } })

  return {
    listen: async () => await new Promise<AddressInfo>((resolve, reject) => {
      gate.once('error', reject)
      const done = (): void => {
        gate.off('error', reject)
        liveness.start()
        resolve(gate.address() as AddressInfo)
      }
      if (options.listenFd === undefined) gate.listen(options.listen.port, options.listen.host, done)
      else gate.listen({ fd: options.listenFd }, done)
    }),
    close: async () => {
      liveness.stop()
      const closed = closeGate()
      unverified.destroyAll()
      for (const socket of open) socket.destroy()
      await app.close()
      await closed
      refusals.close()
    },
    update: (next) => {
      if (next.tls !== undefined) reloadTlsGate(gate, next.tls)
      if (next.policy !== undefined) policy = next.policy
      if (next.limits !== undefined) limiter.update(next.limits)
      if (next.revocation === undefined) return { closedRevoked: 0 }
      revocation = next.revocation
      return { closedRevoked: closeRevoked(open, connections, revocation, options.audit) }
    },
    drain,
    stats: () => ({ connections: open.size, ...guard.openKinds(), unverified: unverified.size, draining: guard.isDraining })
  }
}

// Refused as a whole, in Docker's error shape: the handshake is done, so
// the client can be told why instead of seeing a reset. Recorded first.
function refuseOverLimit (socket: Socket, connection: ConnectionInfo, over: { limit: string; max: number }, record: (refused: Refusal) => void): void {
  const refused = over.limit === 'connections'
    ? refusal('DG_LIMIT_CONNECTIONS', `the gateway has ${over.max} open connections (limits.maxConnections); retry shortly`, 1)
    : refusal('DG_LIMIT_IDENTITY_CONNECTIONS', `${connection.identity.subject} already has ${over.max} open connections (limits.connectionsPerIdentity); close some and retry`, 1)
  record(refused)
  refuseConnection(socket, refused)
}

// Connections that finish their handshake after this point are vetted
// against the new list by the gate; this catches the ones already open.
function closeRevoked (open: ReadonlySet<Socket>, connections: WeakMap<object, ConnectionInfo>, revocation: RevocationList, audit: AuditLog): number {
  let closed = 0
  for (const socket of open) {
    const connection = connections.get(socket)
    if (connection === undefined || !revocation.isRevoked(connection.identity)) continue
    audit.write(revokedConnectionRecord(connection))
    socket.destroy()
    closed += 1
  }
  return closed
}
