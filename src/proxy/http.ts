/**
 * Ordinary (non-upgrade) requests: fastify with @fastify/http-proxy (Node's
 * http client) to the daemon's Unix socket. Everything streams, except the body
 * of a request whose exchange has a body phase: that body is read whole
 * (bounded), judged, and exactly those bytes are forwarded with a
 * Content-Length. The fixes for the library defaults that break the docker
 * CLI are here and each is named where it is applied.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http'
import type { Duplex, Readable, Transform } from 'node:stream'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import httpProxy, { type FastifyHttpProxyOptions } from '@fastify/http-proxy'
import { refusal, type Refusal } from '../shared/errors.js'
import { onClientGone } from './client-gone.js'
import { CreatedIdTap } from './created-id.js'
import { endToEndHeaders, rawResponse } from './streams.js'
import { REQUEST_ID_HEADER, upstreamUnavailable, type Admit, type Exchange, type Upstream } from './exchange.js'
import { forwardableHeaders, forwardJudged, judgeWholeBody, sendRefusal, tooLarge } from './http-body.js'

/** What the forwarder needs; the app wiring supplies judging and logging. */
export interface HttpForwarderOptions {
  readonly upstream: Upstream
  readonly admit: Admit
  readonly logger: FastifyBaseLogger
  /** How long a client may take to send its request headers (slowloris guard). */
  readonly headersTimeoutMs: number
  /** The largest request head (request line and headers) accepted; larger is answered 431. */
  readonly maxHeaderBytes: number
  /**
   * Called for a connection whose bytes are not valid HTTP, before it is
   * answered and closed; returns the auditID of its record (sent as
   * x-dockgate-request-id, so the user can quote it), or null when none.
   */
  readonly onMalformed: (socket: Duplex, refused: Refusal) => string | null
}

/** Per-request bookkeeping, kept off the fastify request to stay typed. */
interface Tracked {
  readonly exchange: Exchange
  /** The judged body, once the body phase allowed it; forwarded instead of the stream. */
  judgedBody: Buffer | null
  bytesIn: number
  bytesOut: number
  error: string | null
  upstreamStatus: number | null
  /** The new object's Id from a create answer, when the exchange wants it. */
  createdId: string | null
  /** `exchange.end` was called. */
  ended: boolean
}

const tracked = new WeakMap<IncomingMessage, Tracked>()

/**
 * Builds the fastify instance. It never listens: the TLS gate owns the port
 * and emits only verified connections into `app.server`.
 */
export async function createHttpForwarder (options: HttpForwarderOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    // Every request is in the audit trail; the operational log stays quiet.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    // No request timeout: a build context or `docker cp` upload may take
    // longer than Node's 300 s default; headers must still arrive in time,
    // checked every second rather than Node's default 30 s.
    serverFactory: (handler) => http.createServer({
      requestTimeout: 0,
      headersTimeout: options.headersTimeoutMs,
      maxHeaderSize: options.maxHeaderBytes,
      connectionsCheckingInterval: Math.min(1000, options.headersTimeoutMs)
    }, handler),
    frameworkErrors: (error, request, reply) => { refuseEarly(options.admit, request, reply, refusal('DG_BAD_REQUEST', `malformed request: ${error.message}`)) },
    clientErrorHandler: (error, socket) => { answerMalformed(options, error, socket) }
  })
  // Expect: 100-continue is answered only after the request is judged, so a
  // refused upload is never invited to send its body.
  app.server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => { app.server.emit('request', req, res) })
  app.addHook('onRequest', (request, reply, done) => { judge(options.admit, request, reply, done) })
  app.addHook('preHandler', (request, reply, done) => { bodyPhase(request, reply, done) })
  // Unreachable through a valid policy (rules only name the methods Docker
  // uses), kept so an unknown method can never fall through to a default.
  app.setNotFoundHandler((request, reply) => {
    sendRefusal(request, reply, refusal('DG_METHOD_NOT_SUPPORTED', `method ${request.method} is not part of the Docker API`))
  })
  // fastify's own text/plain and JSON parsers would buffer (and limit) a
  // body before the proxy sees it; @fastify/http-proxy registers pass-through
  // parsers, so every body reaches the forwarder or the body phase unread.
  app.removeAllContentTypeParsers()
  // reply-from warns with a stack for every failed upstream request; each is
  // answered 502 and audited, and the daemon's state is logged once per
  // change (runtime.ts), so its warnings would only flood the log.
  await app.register(httpProxy, { ...proxyOptions(options), logLevel: 'error' })
  return app
}

/** Node's largest timer (2^31 - 1 ms); see proxyOptions. */
const UPSTREAM_IDLE_TIMEOUT_MS = 2 ** 31 - 1

function proxyOptions (options: HttpForwarderOptions): FastifyHttpProxyOptions {
  return {
    upstream: `unix+http://${encodeURIComponent(options.upstream.socketPath)}/`,
    // Node's http client, not undici: undici reads a response ~50 times
    // slower as soon as its reader applies backpressure (a `docker cp` or
    // `export` to a client slower than the Unix socket: 2.6 MB/s against
    // 180 MB/s, measured on one machine in one run).
    http: {
      agentOptions: {
        // Hundreds of open `logs -f` / `events` streams each hold a
        // connection; a capped pool would queue `/_ping` behind them.
        maxSockets: Infinity,
        maxFreeSockets: 256
      },
      // reply-from turns 0 into its 10 s default, and Node refuses Infinity:
      // the largest socket idle timeout Node takes (24.8 days) keeps a quiet
      // `docker logs -f` or `events` open.
      requestOptions: { timeout: UPSTREAM_IDLE_TIMEOUT_MS }
    },
    disableRequestLogging: true,
    handler: (request, reply, _dest, replyOptions) => forward(request, reply, replyOptions),
    replyOptions: {
      // reply-from retries GETs on 503 up to ten times by default; a 503 from
      // dockerd (e.g. "not a swarm manager") is an answer, not a glitch.
      retryDelay: () => null,
      rewriteRequestHeaders: (_request, headers) => forwardableHeaders(headers),
      rewriteHeaders: (headers) => endToEndHeaders(headers) as IncomingHttpHeaders,
      onResponse: (request, reply, res) => { relayResponse(request.raw as IncomingMessage, reply as FastifyReply, res as unknown as UpstreamResponse) },
      onError: (reply, { error }) => { answerUpstreamError(options.upstream, reply as FastifyReply, error) }
    }
  }
}

function judge (admit: Admit, request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const admitted = admit(request.raw)
  if (admitted instanceof Promise) {
    void admitted.then((exchange) => { proceed(exchange, request, reply, done) })
    return
  }
  proceed(admitted, request, reply, done)
}

function proceed (admitted: Exchange, request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  const exchange = track(admitted, request, reply)
  // The client left while a step asked the daemon: nothing to answer or forward.
  if (request.raw.socket.destroyed) {
    reply.raw.destroy()
    return
  }
  if (exchange.refusal !== null) {
    sendRefusal(request, reply, exchange.refusal)
    return
  }
  // A body known to be too large is refused before it is invited or read.
  const bodyJudge = exchange.bodyJudge
  if (bodyJudge !== null && Number(request.headers['content-length'] ?? '0') > bodyJudge.limit) {
    sendRefusal(request, reply, tooLarge(bodyJudge))
    return
  }
  if (request.headers.expect?.toLowerCase() === '100-continue') reply.raw.writeContinue()
  done()
}

/**
 * The body phase of a judged request, before the forwarder runs; see
 * http-body.ts. Callback style: most requests have no body phase, and an
 * async hook would cost them a promise each. When the body is refused the
 * refusal was sent, and `done` is not called (fastify's rule for a hook
 * that answered).
 */
function bodyPhase (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
  const state = tracked.get(request.raw)
  const bodyJudge = state?.exchange.bodyJudge ?? null
  if (state === undefined || bodyJudge === null) {
    done()
    return
  }
  judgeWholeBody(request, reply, bodyJudge).then((judged) => {
    state.judgedBody = judged
    if (judged !== null) done()
  }, done)
}

// A framework error (an unparsable URL, say) before or after judging. The
// request is judged first if it was not (so it is recorded); a judgement
// that needs the daemon is not waited for: the fallback is answered.
function refuseEarly (admit: Admit, request: FastifyRequest, reply: FastifyReply, fallback: Refusal): void {
  let exchange = tracked.get(request.raw)?.exchange
  if (exchange === undefined) {
    const admitted = admit(request.raw)
    if (admitted instanceof Promise) {
      void admitted.then((late) => { late.end({ status: fallback.status, upstreamStatus: null, bytesIn: 0, bytesOut: 0, aborted: false, error: null }) })
      sendRefusal(request, reply, fallback)
      return
    }
    exchange = track(admitted, request, reply)
  }
  sendRefusal(request, reply, exchange.refusal ?? fallback)
}

/**
 * Registers the exchange and arranges for `end` to be reported exactly
 * once: when the answer closes, or at once when the client already left.
 */
function track (exchange: Exchange, request: FastifyRequest, reply: FastifyReply): Exchange {
  const state: Tracked = { exchange, judgedBody: null, bytesIn: 0, bytesOut: 0, error: null, upstreamStatus: null, createdId: null, ended: false }
  tracked.set(request.raw, state)
  void reply.header(REQUEST_ID_HEADER, exchange.requestId)
  keepAliveOrClose(exchange, reply.raw)
  // 'close' fires for finished, aborted and failed responses alike; fastify's
  // onResponse hook does not fire for an aborted stream. A relayed answer
  // has usually been recorded before its last byte (relayResponse).
  const closed = (): void => {
    const res = reply.raw
    finish(state, res.headersSent ? res.statusCode : 0, !res.writableFinished)
  }
  // An answer queued behind a pipelined stream gets no 'close' of its own when the client leaves.
  const cancel = onClientGone(request.raw.socket, closed)
  reply.raw.once('close', () => { cancel(); closed() })
  return exchange
}

/** Reports how the exchange ended, once. */
function finish (state: Tracked, status: number, aborted: boolean): void {
  if (state.ended) return
  state.ended = true
  state.exchange.end({ status, upstreamStatus: state.upstreamStatus, bytesIn: state.bytesIn, bytesOut: state.bytesOut, aborted, error: state.error, createdId: state.createdId })
}

/** Ends the connection after this answer when the exchange says so (Node then sends `Connection: close`). */
function keepAliveOrClose (exchange: Exchange, res: ServerResponse): void {
  if (exchange.keepAlive !== undefined && !exchange.keepAlive()) res.shouldKeepAlive = false
}

function forward (request: FastifyRequest, reply: FastifyReply, replyOptions: unknown): FastifyReply {
  const state = tracked.get(request.raw)
  if (state === undefined) throw new Error('request reached the forwarder without being judged')
  if (state.judgedBody !== null) {
    state.bytesIn = state.judgedBody.length
    return forwardJudged(request, reply, upstreamTarget(state.exchange), state.judgedBody, replyOptions)
  }
  if (state.exchange.bodyJudge !== null) throw new Error('a judged body reached the forwarder without its body phase')
  const body = request.body
  const sent = reply.from(upstreamTarget(state.exchange), replyOptions as Parameters<FastifyReply['from']>[1])
  if (isReadable(body)) countPiped(body, (n) => { state.bytesIn += n })
  return sent
}

/**
 * Counts a request body as it streams to the daemon, without a stream in
 * between (a counting Transform cost uploads about a fifth of their speed:
 * docs/performance.md). reply-from pipes the body inside `reply.from`,
 * synchronously, so a 'data' listener added now sees every chunk the pipe
 * sees. Added before the pipe, it would start the flow with nobody to
 * write to and lose bytes; so if the body is not flowing yet (a
 * reply-from that pipes later), it is not counted rather than lost, and
 * the upload tests' byte counts fail.
 */
function countPiped (body: Readable, onBytes: (n: number) => void): void {
  if (body.readableFlowing !== true) return
  body.on('data', (chunk: Buffer) => { onBytes(chunk.length) })
}

/** The judged path, with the gateway's query when it rewrote one (reply-from then uses it instead of the client's). */
function upstreamTarget (exchange: Exchange): string {
  return exchange.upstreamQuery === undefined ? exchange.upstreamPath : `${exchange.upstreamPath}?${exchange.upstreamQuery}`
}

interface UpstreamResponse {
  readonly statusCode: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly stream: Readable
}

/**
 * Sends the daemon's answer ourselves instead of `reply.send(stream)`:
 * fastify holds a streamed response's headers until the first body chunk,
 * and `docker run` blocks on the headers of `POST /containers/{id}/wait`,
 * whose body comes only when the container exits. `pipe` rather than
 * `pipeline`: the latter allocates an AbortController and throws a
 * DOMException per response, which halved throughput.
 *
 * The exchange is reported ended when the daemon's body ends and before
 * the client gets the end of the answer, so a process killed right after
 * a client saw its answer complete has already written its record (the
 * price: a client that leaves while its last bytes are still buffered is
 * recorded as not aborted). A response of unknown length (a stream) is
 * reported started before its headers are relayed.
 */
function relayResponse (req: IncomingMessage, reply: FastifyReply, res: UpstreamResponse): void {
  const state = tracked.get(req)
  if (state !== undefined) state.upstreamStatus = res.statusCode
  reply.hijack()
  const raw = reply.raw
  if (state !== undefined) keepAliveOrClose(state.exchange, raw)
  const unknownLength = res.headers['content-length'] === undefined
  if (state !== undefined && unknownLength && hasBody(req.method, res.statusCode)) state.exchange.started(res.statusCode)
  const filter = state !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? state.exchange.responseFilter?.() ?? null : null
  // A filtered body's length is not known until it is filtered: it goes chunked.
  if (filter !== null) reply.removeHeader('content-length')
  raw.writeHead(res.statusCode, reply.getHeaders() as OutgoingHttpHeaders)
  if (unknownLength) raw.flushHeaders()
  const body = filter === null ? res.stream : filtered(res.stream, filter)
  const tap = state?.exchange.wantsCreatedId === true && res.statusCode === 201 ? new CreatedIdTap() : null
  body.pipe(raw, { end: false })
  // Attached after pipe, so the stream is already flowing into `raw`.
  body.on('data', (chunk: Buffer) => {
    if (state !== undefined) state.bytesOut += chunk.length
    tap?.push(chunk)
  })
  body.once('end', () => {
    if (state !== undefined) {
      state.createdId = tap?.id() ?? null
      finish(state, res.statusCode, false)
    }
    raw.end()
  })
  body.on('error', (err) => {
    if (state !== undefined) state.error ??= err.message
    raw.destroy()
  })
  // A client that goes away closes its upstream request (its socket is destroyed), also while
  // this answer still waits behind another on a pipelined connection.
  const gone = (): void => { if (!body.readableEnded) body.destroy() }
  const cancel = onClientGone(req.socket, gone)
  raw.once('close', () => { cancel(); gone() })
  body.once('close', cancel)
}

/** `source` through `filter`; an error on either side is the error of what comes out. */
function filtered (source: Readable, filter: Transform): Readable {
  source.on('error', (err) => { filter.destroy(err) })
  filter.once('close', () => { if (!source.readableEnded) source.destroy() })
  return source.pipe(filter)
}

function answerUpstreamError (upstream: Upstream, reply: FastifyReply, error: Error): void {
  const cause = (error.cause ?? error) as NodeJS.ErrnoException
  const state = tracked.get(reply.request.raw)
  const reason = cause.code ?? cause.message
  const refused = upstreamUnavailable(upstream, reason)
  if (state !== undefined) {
    state.error = reason
    // Recorded before the 502 is sent, unless the answer had already begun.
    if (!reply.raw.headersSent) finish(state, refused.status, false)
  }
  sendRefusal(reply.request, reply, refused)
}

/** Whether a response carries a body at all (RFC 9110: not for HEAD, 1xx, 204, 304). */
function hasBody (method: string | undefined, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304
}

/** Refusals for Node's HTTP parser errors; anything else is DG_BAD_REQUEST. */
const MALFORMED: Readonly<Record<string, Refusal>> = {
  HPE_HEADER_OVERFLOW: refusal('DG_HEADERS_TOO_LARGE', 'request headers are too large'),
  ERR_HTTP_REQUEST_TIMEOUT: refusal('DG_HEADERS_TIMEOUT', 'request headers did not arrive in time')
}

/**
 * Bytes that are not HTTP never reach the proxy. The client still gets an
 * answer in Docker's error shape (when its socket can take one), and the
 * attempt is reported for the audit trail.
 */
function answerMalformed (options: HttpForwarderOptions, error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy()
    return
  }
  const refused = MALFORMED[error.code ?? ''] ?? refusal('DG_BAD_REQUEST', `malformed HTTP request (${error.code ?? 'parse error'})`)
  const requestId = options.onMalformed(socket, refused)
  socket.end(rawResponse(refused.status, http.STATUS_CODES[refused.status] ?? 'Bad Request', refused.message,
    requestId === null ? {} : { [REQUEST_ID_HEADER]: requestId }))
}

function isReadable (value: unknown): value is Readable {
  return typeof value === 'object' && value !== null && typeof (value as Readable).pipe === 'function'
}
