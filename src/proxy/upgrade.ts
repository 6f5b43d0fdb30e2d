/**
 * Hijacked connections: `docker attach`, `exec`, `run -i` (Upgrade: tcp),
 * BuildKit's `/grpc` and `/session` (Upgrade: h2c) and websocket attach.
 * @fastify/http-proxy cannot carry these, so they are handled on the HTTP
 * server's 'upgrade' event, after the same judgement as every other request.
 *
 * Invariants: no byte reaches the daemon before the exchange is admitted;
 * after a refused or non-101 answer the client gets that answer and the
 * connection closes, so no further byte is relayed either way; half-close is
 * passed through in both directions. A session that is recorded is
 * copied to its tap as its bytes pass (never slowed by it), and its end is
 * reported only once the tap has finished its copy.
 */
import http, { type IncomingMessage } from 'node:http'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import { refusal, type Refusal } from '../shared/errors.js'
import { byteCounter, endToEndHeaders, rawResponse, retryAfter } from './streams.js'
import { REQUEST_ID_HEADER, upstreamUnavailable, type Admit, type Exchange, type ExchangeOutcome, type SessionTap, type Upstream } from './exchange.js'
import { readRequestBody, UPGRADE_BODY_LIMIT } from './upgrade-body.js'

const MAX_ERROR_BODY = 64 * 1024

/** Listens for upgrade requests on the HTTP server that receives verified connections. */
export function handleUpgrades (server: http.Server, upstream: Upstream, admit: Admit): void {
  server.on('upgrade', (req: IncomingMessage, client: Duplex, head: Buffer) => {
    const admitted = admit(req)
    if (!(admitted instanceof Promise)) {
      void new HijackSession(upstream, admitted, req, client).start(head)
      return
    }
    // The client's bytes wait in its socket (nothing reads it) while a step asks the daemon.
    void admitted.then((exchange) => { void new HijackSession(upstream, exchange, req, client).start(head) })
  })
}

/** One upgrade request, from judgement to the close of both sides. */
class HijackSession {
  private ended = false
  private readonly counts = { in: 0, out: 0 }
  private tap: SessionTap | null = null

  constructor (
    private readonly upstream: Upstream,
    private readonly exchange: Exchange,
    private readonly req: IncomingMessage,
    private readonly client: Duplex
  ) {
    client.on('error', () => { client.destroy() })
  }

  async start (head: Buffer): Promise<void> {
    if (this.client.destroyed) return this.end({ status: 0, upstreamStatus: null, aborted: true, error: null })
    if (this.exchange.refusal !== null) return this.refuse(this.exchange.refusal)
    const framing = bodyFraming(this.req)
    if (typeof framing !== 'number') return this.refuse(framing)
    const judge = this.exchange.bodyJudge
    // An upgrade request to a judged endpoint (say, create with Upgrade: tcp)
    // gets the same body phase as any other request.
    if (judge !== null && framing > judge.limit) return this.refuse(judge.tooLarge())
    if (judge === null && framing > UPGRADE_BODY_LIMIT) {
      return this.refuse(refusal('DG_BAD_REQUEST', `an upgrade request body may not exceed ${UPGRADE_BODY_LIMIT} bytes`))
    }
    const body = await readRequestBody(this.client, head, framing)
    if (body === null) return this.end({ status: 0, upstreamStatus: null, aborted: true, error: null })
    const verdict = judge === null ? { forward: body } : await judge.judge(body)
    if ('refusal' in verdict) return this.refuse(verdict.refusal)
    const tap = this.exchange.openSession?.(verdict.forward) ?? null
    if (tap !== null && 'code' in tap) return this.refuse(tap)
    this.tap = tap
    // Node's TLS sockets end their write side when the peer ends its own;
    // `docker run -i` ends stdin and must still read the container's output.
    ;(this.client as net.Socket).allowHalfOpen = true
    this.connect(verdict.forward)
  }

  private connect (body: Buffer): void {
    const { req, exchange, upstream } = this
    const query = exchange.upstreamQuery !== undefined
      ? `?${exchange.upstreamQuery}`
      : req.url?.includes('?') === true ? req.url.slice(req.url.indexOf('?')) : ''
    const upstreamReq = http.request({
      method: req.method,
      path: exchange.upstreamPath + query,
      headers: withLength(req, body.length),
      setHost: false,
      // No agent: with one, Node ignores createConnection. A fresh socket per
      // session is right anyway, since a hijacked connection is never reused.
      createConnection: () => net.connect({ path: upstream.socketPath, allowHalfOpen: true })
    })
    upstreamReq.on('upgrade', (res, socket, upHead) => { this.splice(res, socket, upHead) })
    upstreamReq.on('response', (res) => { this.relayNonUpgrade(res) })
    upstreamReq.on('error', (err: NodeJS.ErrnoException) => {
      if (this.client.destroyed) return this.end({ status: 0, upstreamStatus: null, aborted: true, error: null })
      this.refuse(upstreamUnavailable(upstream, err.code ?? err.message))
    })
    this.client.once('close', () => { upstreamReq.destroy() })
    upstreamReq.end(body)
  }

  /** The daemon switched protocols: relay its 101, then raw bytes both ways. */
  private splice (res: IncomingMessage, upstream: Duplex, upHead: Buffer): void {
    const { client, counts, tap } = this
    // Recorded before the client learns the session is open.
    this.exchange.started(101)
    client.write(statusLine(res) + headerLines(res.rawHeaders) + `${REQUEST_ID_HEADER}: ${this.exchange.requestId}\r\n\r\n`)
    tap?.begin(res.headers)
    if (upHead.length > 0) {
      client.write(upHead)
      tap?.output(upHead)
    }
    counts.out += upHead.length
    client.pipe(byteCounter(tap === null ? (n) => { counts.in += n } : (n, chunk) => { counts.in += n; tap.input(chunk) })).pipe(upstream)
    upstream.pipe(byteCounter(tap === null ? (n) => { counts.out += n } : (n, chunk) => { counts.out += n; tap.output(chunk) })).pipe(client)
    upstream.on('error', () => { upstream.destroy(); client.destroy() })
    // A session ended normally when each side sent its end (FIN) before
    // closing; a side cut without one (dockgate at shutdown or revocation,
    // a reset, a crash) makes it aborted.
    const ended = { client: false, upstream: false }
    client.once('end', () => { ended.client = true })
    upstream.once('end', () => { ended.upstream = true })
    let open = 2
    const closed = (): void => {
      open -= 1
      if (open === 0) this.end({ status: 101, upstreamStatus: 101, aborted: !(ended.client && ended.upstream), error: null })
    }
    // A side that has fully closed can neither send nor receive; the other is
    // ended (not cut) so bytes already in flight are still delivered.
    upstream.once('close', () => { client.end(); closed() })
    client.once('close', () => { upstream.destroy(); closed() })
  }

  /**
   * The daemon answered without switching (404 no such container, 409 not
   * running). Relay that answer, bounded, and close: nothing the client
   * sends afterwards is forwarded.
   */
  private relayNonUpgrade (res: IncomingMessage): void {
    const chunks: Buffer[] = []
    let size = 0
    res.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= MAX_ERROR_BODY) chunks.push(chunk)
    })
    res.on('error', () => { this.client.destroy() })
    res.on('end', () => {
      const body = Buffer.concat(chunks)
      const headers = endToEndHeaders(res.headers)
      delete headers['content-length']
      const lines = Object.entries(headers)
        .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${String(x)}\r\n`)).join('')
      const head = statusLine(res) + lines + `content-length: ${body.length}\r\nconnection: close\r\n` +
        `${REQUEST_ID_HEADER}: ${this.exchange.requestId}\r\n\r\n`
      this.counts.out = body.length
      // Recorded before the answer is sent.
      this.end({ status: res.statusCode ?? 502, upstreamStatus: res.statusCode ?? null, aborted: false, error: null })
      this.client.end(Buffer.concat([Buffer.from(head, 'latin1'), body]))
    })
  }

  private refuse (refused: Refusal): void {
    const reason = http.STATUS_CODES[refused.status] ?? 'Error'
    const error = refused.code === 'DG_UPSTREAM_UNAVAILABLE' ? refused.message : null
    this.end({ status: refused.status, upstreamStatus: null, aborted: false, error })
    this.client.end(rawResponse(refused.status, reason, refused.message, { [REQUEST_ID_HEADER]: this.exchange.requestId, ...retryAfter(refused) }, refused.answer))
  }

  private end (outcome: Omit<ExchangeOutcome, 'bytesIn' | 'bytesOut'>): void {
    if (this.ended) return
    this.ended = true
    const ended = { ...outcome, bytesIn: this.counts.in, bytesOut: this.counts.out }
    // A recording is complete and durable before the record vouching for it is written.
    const closing = this.tap?.close()
    if (closing === undefined) this.exchange.end(ended)
    else void closing.then(() => { this.exchange.end(ended) })
  }
}

/** Upgrade requests must be framed by Content-Length; anything else is refused. */
function bodyFraming (req: IncomingMessage): number | Refusal {
  if (req.headers['transfer-encoding'] !== undefined) {
    return refusal('DG_BAD_REQUEST', 'an upgrade request must not use Transfer-Encoding')
  }
  const length = Number(req.headers['content-length'] ?? '0')
  if (!Number.isSafeInteger(length) || length < 0) return refusal('DG_BAD_REQUEST', 'invalid Content-Length')
  return length
}

/**
 * The request's headers with the Content-Length of what is forwarded: the
 * body may be the gateway's rewrite of the one sent, and a request with
 * neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3).
 * Saying so explicitly stops Node from sending a POST without a length (h2c
 * /session) chunked, with a terminator the client never sent.
 */
function withLength (req: IncomingMessage, length: number): string[] {
  const headers: string[] = []
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? ''
    if (name.toLowerCase() !== 'content-length') headers.push(name, req.rawHeaders[i + 1] ?? '')
  }
  headers.push('Content-Length', String(length))
  return headers
}

function statusLine (res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`
}

function headerLines (rawHeaders: string[]): string {
  let out = ''
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) out += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`
  return out
}
