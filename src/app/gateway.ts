/**
 * Assembles the gateway: the TLS gate in front, fastify (ordinary requests)
 * and the hijack handler behind it, one judging function for both, and the
 * audit trail. Building never listens; `listen` does.
 */
import type { AddressInfo, Socket } from 'node:net'
import type { FastifyBaseLogger } from 'fastify'
import type { AuditLevel, Policy } from '../policy/index.js'
import { createTlsGate, reloadTlsGate, type AcceptedConnection, type TlsMaterial, type TlsRejection } from '../tls/gate.js'
import { NO_REVOCATIONS, type RevocationList } from '../tls/revocation.js'
import { createHttpForwarder } from '../proxy/http.js'
import { handleUpgrades } from '../proxy/upgrade.js'
import type { Upstream } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import { DEFAULT_REJECTION_LIMITS, RejectionLimiter, type RejectionLimits } from '../audit/rate-limit.js'
import { createAdmit, type ConnectionInfo } from './admit.js'
import { malformedRecord, revokedConnectionRecord, suppressedRecord, tlsRejectedRecord } from './records.js'

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
  /** How many TLSRejected records each address (and all together) may write before they are counted instead. */
  readonly rejectionLimits?: RejectionLimits
}

/** How often counted (suppressed) TLS rejections are written as Suppressed records. */
const SUMMARY_INTERVAL_MS = 60_000

/**
 * New material for a running gateway; parts left out stay as they are.
 * Everything given must already be validated: `update` cannot fail.
 */
export interface GatewayUpdate {
  readonly tls?: TlsMaterial
  readonly policy?: Policy
  readonly revocation?: RevocationList
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
}

/** Wires the modules together; see the module comment for the data flow. */
export async function buildGateway (options: GatewayOptions): Promise<Gateway> {
  const connections = new WeakMap<object, ConnectionInfo>()
  const open = new Set<Socket>()
  let policy = options.policy
  let revocation = options.revocation ?? NO_REVOCATIONS
  const admit = createAdmit({
    connectionOf: (req) => connections.get(req.socket),
    policy: () => policy,
    audit: options.audit,
    ...(options.bodyBytes === undefined ? {} : { bodyLimit: options.bodyBytes }),
    ...(options.auditLevel === undefined ? {} : { auditLevel: options.auditLevel })
  })
  const rejections = auditRejections(options.audit, options.rejectionLimits ?? DEFAULT_REJECTION_LIMITS)
  const app = await createHttpForwarder({
    upstream: options.upstream,
    admit,
    logger: options.logger,
    headersTimeoutMs: options.headersTimeoutMs ?? 60_000,
    onMalformed: (socket, refused) => {
      const connection = connections.get(socket)
      if (connection !== undefined) options.audit.write(malformedRecord(connection, refused))
    }
  })
  handleUpgrades(app.server, options.upstream, admit)
  await app.ready()
  // The HTTP server never listens (the TLS gate owns the port), but Node
  // starts enforcing headersTimeout only once a server emits 'listening'.
  app.server.emit('listening')

  const gate = createTlsGate({
    material: options.tls,
    revocation: () => revocation,
    onAccepted: (accepted: AcceptedConnection) => {
      const { socket, identity, remoteAddress, remotePort } = accepted
      connections.set(socket, { identity, remoteAddress, remotePort })
      open.add(socket)
      socket.once('close', () => open.delete(socket))
      app.server.emit('connection', socket)
    },
    onRejected: rejections.record
  })

  return {
    listen: async () => await new Promise<AddressInfo>((resolve, reject) => {
      gate.once('error', reject)
      gate.listen(options.listen.port, options.listen.host, () => {
        gate.off('error', reject)
        resolve(gate.address() as AddressInfo)
      })
    }),
    close: async () => {
      const closed = new Promise<void>((resolve) => gate.close(() => { resolve() }))
      for (const socket of open) socket.destroy()
      await app.close()
      await closed
      rejections.close()
    },
    update: (next) => {
      if (next.tls !== undefined) reloadTlsGate(gate, next.tls)
      if (next.policy !== undefined) policy = next.policy
      if (next.revocation === undefined) return { closedRevoked: 0 }
      revocation = next.revocation
      return { closedRevoked: closeRevoked(open, connections, revocation, options.audit) }
    }
  }
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

/**
 * TLSRejected records, rate limited so a scan cannot flood the disk: what
 * the limiter holds back is written as Suppressed summaries every minute
 * and when the gateway closes.
 */
function auditRejections (audit: AuditLog, limits: RejectionLimits): { record: (rejection: TlsRejection) => void; close: () => void } {
  const limiter = new RejectionLimiter(limits)
  const flush = (): void => { for (const summary of limiter.summaries()) audit.write(suppressedRecord(summary)) }
  const timer = setInterval(flush, SUMMARY_INTERVAL_MS)
  timer.unref()
  return {
    record: (rejection) => {
      const now = new Date()
      if (limiter.admit(rejection.remoteAddress, rejection.reason, now)) audit.write(tlsRejectedRecord(rejection, now))
    },
    close: () => {
      clearInterval(timer)
      flush()
    }
  }
}
