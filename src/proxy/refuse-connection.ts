/**
 * Refusing a whole connection in Docker's error shape, before any of it is
 * parsed as HTTP: used when a connection limit is reached. The client gets
 * one answer to its first request (so the docker CLI prints the reason
 * instead of "connection reset") and the connection closes.
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import type { Refusal } from '../shared/errors.js'
import { REQUEST_ID_HEADER } from './exchange.js'
import { errorBody, retryAfter } from './streams.js'

/** How long a refused client has to send its first bytes before it is cut. */
const FIRST_BYTES_GRACE_MS = 5_000

/**
 * Waits for the client's first bytes, answers `refused` and closes. Bytes
 * are never parsed beyond telling HEAD (which gets no body) from the rest.
 * `requestId` is the auditID of the refusal's record, sent as
 * x-dockgate-request-id so the user can quote it (null: no record was
 * written, the refusal was only counted).
 */
export function refuseConnection (socket: Duplex, refused: Refusal, requestId: string | null): void {
  socket.on('error', () => { socket.destroy() })
  const timer = setTimeout(() => { socket.destroy() }, FIRST_BYTES_GRACE_MS)
  socket.once('data', (chunk: Buffer) => {
    clearTimeout(timer)
    const body = errorBody(refused.message)
    const isHead = chunk.subarray(0, 5).toString('latin1') === 'HEAD '
    const extra = Object.entries(retryAfter(refused)).map(([k, v]) => `${k}: ${v}\r\n`).join('')
    socket.end(
      `HTTP/1.1 ${refused.status} ${http.STATUS_CODES[refused.status] ?? 'Error'}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${requestId === null ? '' : `${REQUEST_ID_HEADER}: ${requestId}\r\n`}Connection: close\r\n${extra}\r\n` + (isHead ? '' : body))
    socket.removeAllListeners('data')
    socket.resume()
  })
  socket.once('close', () => { clearTimeout(timer) })
}
