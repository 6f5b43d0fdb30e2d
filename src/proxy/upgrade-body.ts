/**
 * Reads the body of an upgrade request. Node hands the bytes that followed
 * the headers to the 'upgrade' listener as `head` (the exec start JSON
 * arrives there); a body split across packets must be completed from the
 * socket, and bytes beyond it belong to the session, not the request.
 */
import type { Duplex } from 'node:stream'

/** Upgrade requests carry small JSON bodies at most; anything larger is refused. */
export const UPGRADE_BODY_LIMIT = 1024 * 1024

/**
 * Resolves with exactly `length` body bytes, or null if the client closed
 * first. Any bytes read past the body are pushed back onto the socket
 * (`unshift`) and the socket is left paused, so nothing is lost or relayed
 * before the daemon has accepted the upgrade.
 */
export async function readRequestBody (client: Duplex, head: Buffer, length: number): Promise<Buffer | null> {
  if (head.length >= length) {
    if (head.length > length) client.unshift(head.subarray(length))
    return head.subarray(0, length)
  }
  return await new Promise((resolve) => {
    const chunks = [head]
    let have = head.length
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      have += chunk.length
      if (have < length) return
      cleanup()
      const all = Buffer.concat(chunks)
      if (all.length > length) client.unshift(all.subarray(length))
      resolve(all.subarray(0, length))
    }
    const onGone = (): void => { cleanup(); resolve(null) }
    const cleanup = (): void => {
      client.off('data', onData)
      client.off('end', onGone)
      client.off('close', onGone)
      client.pause()
    }
    client.on('data', onData)
    client.once('end', onGone)
    client.once('close', onGone)
  })
}
