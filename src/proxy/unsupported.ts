/**
 * Requests Node's HTTP server takes off the normal path before fastify
 * sees them: CONNECT (the 'connect' event; with no listener Node drops the
 * connection without a word) and an `Expect` other than 100-continue
 * ('checkExpectation'; with no listener Node answers a bare 417 whose body
 * is `0`). Both are refused in Docker's error shape, 405 and 417, each
 * after `record` wrote its audit record, and the connection is closed.
 * Nothing of either request reaches the daemon.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { refusal, type Refusal } from '../shared/errors.js'
import { REQUEST_ID_HEADER } from './exchange.js'
import { errorBody, rawResponse } from './streams.js'

/** Records a refusal of a request that is never judged; returns its request id, or null for a connection nobody verified. */
export type RecordUnjudged = (req: IncomingMessage, refused: Refusal) => string | null

/** Listens for CONNECT and unmet expectations on the server that receives verified connections. */
export function refuseUnsupported (server: http.Server, record: RecordUnjudged): void {
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => { socket.destroy() })
    const refused = refusal('DG_METHOD_NOT_SUPPORTED', 'method CONNECT is not part of the Docker API; dockgate is not a forward proxy')
    const id = record(req, refused)
    socket.end(rawResponse(refused.status, http.STATUS_CODES[refused.status] ?? 'Error', refused.message, id === null ? {} : { [REQUEST_ID_HEADER]: id }))
  })
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const refused = refusal('DG_EXPECTATION_FAILED', `Expect: ${req.headers.expect ?? ''} cannot be met; only Expect: 100-continue is understood`)
    const id = record(req, refused)
    const body = errorBody(refused.message)
    // The body the client holds back is never read: the connection closes.
    res.shouldKeepAlive = false
    res.writeHead(refused.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      ...(id === null ? {} : { [REQUEST_ID_HEADER]: id })
    })
    res.end(body)
  })
}
