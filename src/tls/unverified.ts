/**
 * Connections the TLS gate accepted and nobody has verified yet: the
 * handshake is running, the client was turned away and is being answered,
 * or a connection limit refused it. Each holds one slot of a budget of
 * their own, asked for before TLS starts; without one the socket is closed
 * at once, with no handshake and no TLS record (it is counted instead). The
 * slot comes back when the socket closes, or when the app admits the
 * connection as verified, so unverified connections can never take the
 * slots verified clients hold.
 *
 * Invariants: every tracked socket holds exactly one slot and gives it
 * back once; a socket closed here for lack of a slot is never reported as
 * a TLS failure; after `destroyAll` nothing unverified is left open.
 */
import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'

/** A slot of the unverified budget for `remoteAddress`, or the limit that refused one. */
export type UnverifiedAdmit = (remoteAddress: string) =>
  | { readonly ok: true; readonly release: () => void }
  | { readonly ok: false; readonly limit: string }

/** See the module comment. */
export class UnverifiedSockets {
  private readonly open = new Map<Socket, () => void>()
  private readonly dropped = new WeakSet<Socket>()

  /** `onDrop` is told the limit of every socket closed for lack of a slot; it must not throw. */
  constructor (private readonly admit: UnverifiedAdmit, private readonly onDrop: (limit: string) => void) {}

  /** For the server's 'connection' event, before TLS wraps the socket. */
  accept (raw: Socket): void {
    const slot = this.admit(raw.remoteAddress ?? '')
    if (!slot.ok) {
      this.dropped.add(raw)
      raw.destroy()
      this.onDrop(slot.limit)
      return
    }
    this.open.set(raw, slot.release)
    raw.once('close', () => { this.release(raw) })
  }

  /** The app admitted `socket` as a verified connection: it no longer counts here. */
  verified (socket: TLSSocket): void {
    const raw = transportOf(socket)
    if (raw !== undefined) this.release(raw)
  }

  /** True when `socket` wraps a connection closed here for lack of a slot (its TLS error is no client's doing). */
  wasDropped (socket: TLSSocket): boolean {
    const raw = transportOf(socket)
    return raw !== undefined && this.dropped.has(raw)
  }

  /** Closes every unverified connection (shutdown); returns how many there were. */
  destroyAll (): number {
    const sockets = [...this.open.keys()]
    for (const raw of sockets) raw.destroy()
    return sockets.length
  }

  /** Unverified connections open now. */
  get size (): number {
    return this.open.size
  }

  private release (raw: Socket): void {
    const release = this.open.get(raw)
    if (release === undefined) return
    this.open.delete(raw)
    release()
  }
}

// Node keeps the TCP socket a server-side TLS socket wraps as `_parent`
// (undocumented, but there since Node 0.11): the only link between the
// socket of the 'connection' event and the TLS socket of later events.
function transportOf (socket: TLSSocket): Socket | undefined {
  return (socket as unknown as { _parent?: Socket | null })._parent ?? undefined
}
