/**
 * The first half of a graceful shutdown, for one gateway: stop accepting,
 * answer new requests 503, wait for what is in flight up to
 * a deadline, then cut what is left. Kept apart from the gateway assembly
 * so each reads on its own.
 */
import type { Socket } from 'node:net'
import type { InFlight } from './in-flight.js'

/**
 * After cutting, how long the aborted exchanges get to write their
 * records. They do so as their sockets close, within milliseconds; this
 * only bounds a bug, inside the second past the deadline a stop may take.
 */
const RECORDS_AFTER_CUT_MS = 500

/** What draining acts on. */
export interface DrainParts {
  readonly inFlight: InFlight
  /** Stops accepting connections; resolves once the listener is closed. */
  readonly stopAccepting: () => Promise<void>
  /** The open client connections, cut at the deadline. */
  readonly open: ReadonlySet<Socket>
  /**
   * Closes the connections nobody has verified yet (handshakes, clients
   * being turned away or refused): none of them carries a request, and
   * each would otherwise hold the listener's close for up to 10 s.
   */
  readonly closeUnverified: () => void
}

/**
 * Returns `drain(graceMs)`: the first call starts draining and resolves
 * with how many exchanges were cut at the deadline; a later call returns
 * the same promise, with the deadline moved up if its own is sooner (a
 * second signal).
 */
export function drainer (parts: DrainParts): (graceMs: number) => Promise<{ cut: number }> {
  let deadline: { at: number; wake: () => void } | null = null
  let drained: Promise<{ cut: number }> | null = null
  const run = async (graceMs: number): Promise<{ cut: number }> => {
    parts.inFlight.startDraining()
    void parts.stopAccepting()
    parts.closeUnverified()
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, graceMs)
      deadline = { at: Date.now() + graceMs, wake: () => { clearTimeout(timer); resolve() } }
      void parts.inFlight.idle().then(() => { clearTimeout(timer); resolve() })
    })
    // What is still in flight is cut; idle keep-alive connections just close.
    const cut = parts.inFlight.count
    for (const socket of parts.open) socket.destroy()
    await Promise.race([parts.inFlight.idle(), new Promise((resolve) => setTimeout(resolve, RECORDS_AFTER_CUT_MS).unref())])
    return { cut }
  }
  return async (graceMs) => {
    if (drained === null) {
      drained = run(graceMs)
    } else if (deadline !== null && Date.now() + graceMs < deadline.at) {
      deadline.wake()
    }
    return await drained
  }
}
