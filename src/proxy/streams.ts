/**
 * Small stream and header helpers shared by the HTTP and hijack paths.
 */
import { Transform, type TransformCallback } from 'node:stream'
import type { OutgoingHttpHeaders } from 'node:http'

/**
 * A pass-through that reports each chunk's size. Used instead of 'data'
 * listeners, which would switch a stream to flowing mode before its consumer
 * is attached and lose bytes.
 */
export function byteCounter (onBytes: (n: number, chunk: Buffer) => void): Transform {
  return new Transform({
    transform (chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback) {
      callback(null, chunk)
      // After the chunk is passed on: whoever counts (or copies) it comes second.
      onBytes(chunk.length, chunk)
    }
  })
}

/**
 * Hop-by-hop headers describe one connection, not the message (RFC 9110
 * 7.6.1); the daemon's connection to dockgate is not the client's.
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'])

/** Copies response headers without hop-by-hop ones or those the Connection header names. */
export function endToEndHeaders (headers: Record<string, string | string[] | number | undefined>): OutgoingHttpHeaders {
  const named = String(headers.connection ?? '').toLowerCase().split(',').map((s) => s.trim())
  const out: OutgoingHttpHeaders = {}
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase()
    if (value === undefined || HOP_BY_HOP.has(key) || named.includes(key)) continue
    out[key] = value
  }
  return out
}

/** Serialises a refusal body: Docker's error shape, nothing else. */
export function errorBody (message: string): string {
  return JSON.stringify({ message })
}

/** The `Retry-After` header of a refusal that says when to retry, for raw responses; none otherwise. */
export function retryAfter (refused: { readonly retryAfterSeconds?: number }): Record<string, string> {
  return refused.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(refused.retryAfterSeconds) }
}

/**
 * A complete HTTP/1.1 response for a raw socket (hijack path, where there is
 * no ServerResponse): `{"message"}`, or the daemon's own `answer` when one
 * is given. Always closes: nothing may follow a refused upgrade.
 */
export function rawResponse (status: number, reason: string, message: string, extraHeaders: Record<string, string> = {}, answer?: { readonly contentType: string; readonly body: string }): string {
  const body = answer?.body ?? errorBody(message)
  const lines = [
    `HTTP/1.1 ${status} ${reason}`,
    `Content-Type: ${answer?.contentType ?? 'application/json'}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(extraHeaders).map(([k, v]) => `${k}: ${v}`)
  ]
  return lines.join('\r\n') + '\r\n\r\n' + body
}
