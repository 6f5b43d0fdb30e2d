/**
 * Reads a whole request body for judging, bounded. Node has already removed
 * the chunked framing, so the bytes are exactly the message body the daemon
 * would read. Nothing is forwarded here; the caller forwards the same bytes.
 */
import type { Readable } from 'node:stream'

/** The body, or why there is none: more than the limit, or the client went away first. */
export type BodyRead =
  | { readonly kind: 'body'; readonly body: Buffer }
  | { readonly kind: 'too-large' }
  | { readonly kind: 'aborted' }

/**
 * Resolves once the body has ended, exceeded `limit` bytes (reading stops
 * and the stream is paused: the caller answers 413 and closes), or the
 * stream failed or closed early. Never rejects.
 */
export async function readWholeBody (stream: Readable, limit: number): Promise<BodyRead> {
  return await new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (result: BodyRead): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onGone)
      stream.off('close', onGone)
      if (result.kind !== 'body') stream.pause()
      resolve(result)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) finish({ kind: 'too-large' })
      else chunks.push(chunk)
    }
    const onEnd = (): void => { finish({ kind: 'body', body: Buffer.concat(chunks, size) }) }
    const onGone = (): void => { finish({ kind: 'aborted' }) }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('error', onGone)
    stream.once('close', onGone)
  })
}
