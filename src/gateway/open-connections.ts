/**
 * The gateway's open client connections, each with the verified identity
 * it was admitted with, and the reasons dockgate closes one on its own.
 * The TLS gate decides once, at the handshake; a connection can outlive
 * that decision (keep-alive, `docker events`, `exec` sessions), so what the
 * gate would now refuse is closed here too:
 *
 * - revoked: a reloaded CRL revokes the certificate;
 * - expired: the certificate's notAfter passes (a timer per connection);
 * - untrusted: `tls.ca` changed and the certificate no longer chains to a
 *   CA in it (CA rotation or removal).
 *
 * Each close is audited as `ConnectionClosed` with its own code before the
 * socket is destroyed; whatever was in flight gets its aborted record too.
 * Connections of socket listeners are tracked (draining, counting) but
 * have no certificate, so none of the three applies to them.
 */
import type { X509Certificate } from 'node:crypto'
import type { Socket } from 'node:net'
import type { AuditLog } from '../audit/log.js'
import type { RevocationList } from '../tls/revocation.js'
import { chainsToAny } from '../tls/trust.js'
import type { ConnectionInfo } from './connection.js'
import { closedConnectionRecord, type CloseReason } from './records.js'

/** setTimeout fires at once for delays past 2^31−1 ms (~24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The open connections. Invariant: a socket is in `sockets` from `add`
 * until it closes, and while it is, its certificate has not expired (its
 * timer closes it first).
 */
export class OpenConnections {
  private readonly open = new Set<Socket>()
  private readonly infos = new WeakMap<object, ConnectionInfo>()
  private readonly chains = new WeakMap<object, () => readonly X509Certificate[]>()

  constructor (private readonly audit: AuditLog) {}

  /** Every open connection, for draining and closing. */
  get sockets (): ReadonlySet<Socket> {
    return this.open
  }

  /**
   * Tracks `socket` until it closes and, for TLS, closes it when its
   * certificate expires. `chain` gives the peer's certificate chain (client
   * certificate first), read only when the trusted CAs change.
   */
  add (socket: Socket, connection: ConnectionInfo, chain: () => readonly X509Certificate[] = () => []): void {
    this.infos.set(socket, connection)
    this.chains.set(socket, chain)
    this.open.add(socket)
    const notAfter = connection.transport === 'tls' ? Date.parse(connection.certificate.notAfter) : NaN
    const timer = closeAt(notAfter, () => { this.close(socket, connection, 'expired') })
    socket.once('close', () => {
      this.open.delete(socket)
      timer.cancel()
    })
  }

  /** The identity `socket` was admitted with, if it is one of ours. */
  infoOf (socket: object): ConnectionInfo | undefined {
    return this.infos.get(socket)
  }

  /** Closes the open connections whose certificate `revocation` revokes; returns how many. */
  closeRevoked (revocation: RevocationList): number {
    return this.closeWhere((connection) => connection.transport === 'tls' && revocation.isRevoked(connection.certificate), 'revoked')
  }

  /**
   * Closes the open connections whose certificate chains to none of `cas`
   * (the new `tls.ca`); returns how many. Fails closed: a connection whose
   * chain cannot be read any more is closed.
   */
  closeUntrusted (cas: readonly X509Certificate[]): number {
    return this.closeWhere((connection, socket) => connection.transport === 'tls' && !chainsToAny(this.chains.get(socket)?.() ?? [], cas), 'untrusted')
  }

  private closeWhere (matches: (connection: ConnectionInfo, socket: Socket) => boolean, reason: CloseReason): number {
    let closed = 0
    for (const socket of [...this.open]) {
      const connection = this.infos.get(socket)
      if (connection === undefined || socket.destroyed || !matches(connection, socket)) continue
      this.close(socket, connection, reason)
      closed += 1
    }
    return closed
  }

  private close (socket: Socket, connection: ConnectionInfo, reason: CloseReason): void {
    // Closed for another reason a moment ago: one record says why it ended.
    if (socket.destroyed) return
    this.audit.write(closedConnectionRecord(connection, reason))
    socket.destroy()
  }
}

// Calls `fire` once the wall clock is past `at` (X.509 notAfter is the last
// valid second). Waits are re-checked against the clock when they end, so
// long waits can be chained and a clock that was set back is honoured.
function closeAt (at: number, fire: () => void): { cancel: () => void } {
  let timer: NodeJS.Timeout | null = null
  const arm = (): void => {
    const left = at - Date.now()
    if (left < 0) {
      timer = null
      fire()
      return
    }
    timer = setTimeout(arm, Math.min(left + 1, MAX_TIMER_MS))
    timer.unref()
  }
  if (!Number.isNaN(at)) arm()
  return { cancel: () => { if (timer !== null) clearTimeout(timer) } }
}
