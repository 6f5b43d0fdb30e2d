/**
 * When a client's connection closes, for every exchange on it. Node emits
 * 'close' on a ServerResponse only once the response owns the socket: the
 * answers of requests pipelined behind another one (a `docker events`
 * stream, say) wait in Node's queue and never learn that the client left,
 * so their exchanges would never end, holding their stream slots, their
 * in-flight entries and their daemon connections for good. One 'close'
 * listener per socket (not one per request, which a long pipeline would
 * pile up) tells each of them.
 */
import type { Duplex } from 'node:stream'

const waiting = new WeakMap<Duplex, Set<() => void>>()

/** Calls `gone` once when `socket` closes (at once if it already has); returns a function that cancels the call. */
export function onClientGone (socket: Duplex, gone: () => void): () => void {
  if (socket.destroyed) {
    gone()
    return () => {}
  }
  let callbacks = waiting.get(socket)
  if (callbacks === undefined) {
    const created = new Set<() => void>()
    waiting.set(socket, created)
    socket.once('close', () => {
      waiting.delete(socket)
      for (const callback of created) callback()
    })
    callbacks = created
  }
  const registered = callbacks
  registered.add(gone)
  return () => { registered.delete(gone) }
}
