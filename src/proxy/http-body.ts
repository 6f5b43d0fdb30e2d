/**
 * The parts of the HTTP forwarder that deal with request bodies dockgate
 * reads itself: refusals (which must not leave an unread body on a kept-alive
 * connection), the body phase of a judged request, and forwarding exactly
 * the bytes judged.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { refusal, type Refusal } from '../shared/errors.js'
import type { BodyJudge } from './exchange.js'
import { readWholeBody } from './read-body.js'
import { errorBody } from './streams.js'

/** Answers `refused` in Docker's error shape; closes the connection if a body is left unread. */
export function sendRefusal (request: FastifyRequest, reply: FastifyReply, refused: Refusal): void {
  // An unread request body would otherwise be read and discarded by Node to
  // keep the connection alive; closing is cheaper and safer.
  if (hasDeclaredBody(request.raw) && !request.raw.complete) void reply.header('connection', 'close')
  // The docker CLI decodes `{"message"}` only when Content-Type is exactly
  // application/json; fastify appends `; charset=utf-8` unless a serializer
  // is set, so the (already serialised) body goes through an identity one.
  if (refused.retryAfterSeconds !== undefined) void reply.header('retry-after', String(refused.retryAfterSeconds))
  void reply.code(refused.status).header('content-type', 'application/json')
    .serializer((body: string) => body).send(errorBody(refused.message))
}

/** True iff the request declares a body (chunked, or a non-zero Content-Length). */
export function hasDeclaredBody (req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? '0') > 0
}

/** The judge's refusal for a body too large to read (a judge always refuses one; the fallback only satisfies the type). */
export function tooLarge (bodyJudge: BodyJudge): Refusal {
  const verdict = bodyJudge.judge(null)
  return 'refusal' in verdict ? verdict.refusal : refusal('DG_BODY_TOO_LARGE', `the request body is larger than ${bodyJudge.limit} bytes`)
}

/**
 * The body phase: read the whole body (at most the judge's limit) and judge
 * it. Resolves with the bytes to forward, or null when the request was
 * answered (refused) or abandoned; nothing has been sent upstream either way.
 */
export async function judgeWholeBody (request: FastifyRequest, reply: FastifyReply, bodyJudge: BodyJudge): Promise<Buffer | null> {
  // Fail closed if anything consumed the body before the judge could.
  if (request.raw.readableEnded && request.raw.readableLength === 0 && hasDeclaredBody(request.raw)) {
    sendRefusal(request, reply, refusal('DG_BODY_INVALID', 'the request body could not be read for judging'))
    return null
  }
  const read = await readWholeBody(request.raw, bodyJudge.limit)
  if (read.kind === 'aborted') {
    // The client left mid-body: nothing to answer and nothing to forward.
    reply.hijack()
    reply.raw.destroy()
    return null
  }
  if (read.kind === 'too-large') {
    sendRefusal(request, reply, tooLarge(bodyJudge))
    return null
  }
  const verdict = bodyJudge.judge(read.body)
  if ('forward' in verdict) return verdict.forward
  sendRefusal(request, reply, verdict.refusal)
  return null
}

/**
 * Forwards exactly the judged bytes to `upstreamPath`: a fixed
 * Content-Length, no Transfer-Encoding, and the client's Content-Type as
 * sent (reply-from would otherwise re-encode a JSON body or drop its
 * parameters).
 */
export function forwardJudged (request: FastifyRequest, reply: FastifyReply, upstreamPath: string, body: Buffer, replyOptions: unknown): FastifyReply {
  const contentType = request.raw.headers['content-type']
  return reply.from(upstreamPath, {
    ...(replyOptions as Parameters<FastifyReply['from']>[1]),
    body,
    contentType: 'application/octet-stream',
    rewriteRequestHeaders: (_request, headers) => {
      const out = forwardableHeaders(headers)
      delete out['transfer-encoding']
      out['content-length'] = String(body.length)
      if (contentType === undefined) delete out['content-type']
      else out['content-type'] = contentType
      return out
    }
  })
}

/**
 * Hop-by-hop request headers (RFC 9110 7.6.1): they describe the client's
 * connection to dockgate, not dockgate's to the daemon. `expect` too:
 * dockgate answers 100-continue itself, after judging.
 */
const HOP_BY_HOP_REQUEST = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'expect']

/**
 * The request headers to forward on an ordinary (non-upgrade) request:
 * without hop-by-hop headers and without those the client's Connection
 * header names. Framing is the upstream client's: it sends the body with
 * its own length or chunking.
 */
export function forwardableHeaders (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const rest = { ...headers }
  const named = String(headers.connection ?? '').toLowerCase().split(',').map((name) => name.trim())
  for (const name of [...HOP_BY_HOP_REQUEST, ...named]) delete rest[name]
  return rest
}
