/**
 * The contract between the forwarding layer and whoever judges requests.
 * The proxy knows nothing about identities, policies or audit: for every
 * request it asks `admit` for an {@link Exchange}, forwards only when the
 * exchange carries no refusal, and reports how it ended exactly once.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { Transform } from 'node:stream'
import { refusal, type Refusal } from '../shared/errors.js'

/** How one request/response (or hijacked session) ended. */
export interface ExchangeOutcome {
  /** Status sent to the client; 0 when the client left before any answer. */
  readonly status: number
  /** Status the daemon answered with; null when it never answered (unreachable, refused before forwarding). */
  readonly upstreamStatus: number | null
  /** Request body bytes read from the client (session bytes client→daemon for hijacks). */
  readonly bytesIn: number
  /** Response body bytes sent to the client (session bytes daemon→client for hijacks). */
  readonly bytesOut: number
  /** True when the exchange ended because either side went away early. */
  readonly aborted: boolean
  /** Upstream failure, when the daemon could not be reached or broke off. */
  readonly error: string | null
  /** The `Id` of a 201 answer, when the exchange asked for it (`wantsCreatedId`) and the answer had one. */
  readonly createdId?: string | null
}

/**
 * The body phase of a request whose body must be judged before anything is
 * forwarded. The proxy reads the whole body (decoding chunked framing), at
 * most `limit` bytes, and calls `judge` once; then it forwards exactly the
 * bytes the verdict names (the judged body, or the gateway's rewrite of it),
 * with a Content-Length and without Transfer-Encoding, or answers the
 * refusal. A body known or found to exceed `limit` is not read further:
 * `tooLarge()` gives its refusal (413).
 */
export interface BodyJudge {
  readonly limit: number
  /** What to do with `body`; a refusal is already audited. Must not throw (nor reject). */
  judge: (body: Buffer) => BodyVerdict | Promise<BodyVerdict>
  /** The refusal (413) of a body larger than `limit`, already audited; the body is not read. */
  tooLarge: () => Refusal
}

/**
 * A copy of a hijacked session's bytes for whoever records it. The proxy
 * hands it each chunk as it passes, after the chunk is on its way: a tap
 * must return at once and never throw, and nothing it does may delay or
 * reorder the session's bytes (it is never in their backpressure).
 */
export interface SessionTap {
  /** The daemon switched protocols, with these headers: the session opens now. */
  begin: (headers: IncomingHttpHeaders) => void
  /** Bytes the daemon sent the client. */
  output: (chunk: Buffer) => void
  /** Bytes the client sent the daemon. */
  input: (chunk: Buffer) => void
  /**
   * Both sides closed. Resolves (never rejects) once the copy is complete
   * and durable; the proxy calls `end` only after that, so the session's
   * record can vouch for it. Undefined when there was nothing to finish
   * (the session never opened): `end` may follow at once.
   */
  close: () => Promise<void> | undefined
}

/** The body phase's answer: refuse, or forward exactly these bytes. */
export type BodyVerdict = { readonly refusal: Refusal } | { readonly forward: Buffer }

/**
 * One judged request. `refusal` null means forward `upstreamPath` (the exact
 * path that was judged) with `upstreamQuery` when set, else the client's raw
 * query unchanged,
 * after the body phase when `bodyJudge` is set (otherwise the body streams
 * unread). `end` must be called exactly once, and before the answer's last
 * byte is sent wherever the proxy can (so what is recorded was recorded
 * before the client saw it finish); `started` at most once, before `end`.
 */
export interface Exchange {
  readonly requestId: string
  readonly refusal: Refusal | null
  readonly upstreamPath: string
  /**
   * The query to forward instead of the client's (without `?`), when the
   * gateway rewrote it. Never empty: reply-from would put the client's
   * query back on a target without one.
   */
  readonly upstreamQuery?: string
  readonly bodyJudge: BodyJudge | null
  /**
   * Whether the client connection may be kept alive after this exchange;
   * asked when the answer's head is written. Absent means yes. dockgate
   * says no while it shuts down, so clients reconnect elsewhere.
   */
  readonly keepAlive?: () => boolean
  /**
   * The answer names a new object (container or exec create): the proxy
   * copies the first few KiB of a 201 body as it passes (never holding it
   * back) and reports its JSON `Id` in `end`. Absent means no.
   */
  readonly wantsCreatedId?: boolean
  /**
   * Passes a 2xx answer's body through this before the client gets it (the
   * answer then has no Content-Length): a list the daemon cannot filter
   * for the caller. Absent means the body is relayed as it comes.
   */
  readonly responseFilter?: () => Transform
  /**
   * A long-lived exchange is about to start, called before the client sees
   * its status line: the daemon switched protocols (101; a hijacked session)
   * or answered with a body of unknown length (a stream: events, logs -f,
   * wait, pull and build progress).
   */
  started: (status: number) => void
  /**
   * For an upgrade request, once its body is read and judged and before
   * anything is forwarded: a tap for the session's bytes when they must be
   * recorded, null when not, or a refusal (already recorded) when they
   * must be and cannot be: then nothing is forwarded. Absent means null.
   */
  readonly openSession?: (body: Buffer) => SessionTap | Refusal | null
  end: (outcome: ExchangeOutcome) => void
}

/**
 * Judges a request before any of it reaches the daemon. Must not throw
 * (nor reject). Synchronous where it can be; a promise where a step must
 * ask the daemon (an object the owner index does not know yet).
 */
export type Admit = (req: IncomingMessage) => Exchange | Promise<Exchange>

/** Header that tells a client the id its request has in the audit trail; never read from clients. */
export const REQUEST_ID_HEADER = 'x-dockgate-request-id'

/** Where the daemon listens. */
export interface Upstream {
  readonly socketPath: string
  /** The configured form, `unix:///path`, for messages. */
  readonly url: string
}

/**
 * The refusal for a daemon that cannot be reached, naming the socket and
 * the OS reason, with what it means for the reasons people meet. Who to
 * add to which group is for the operator's log (probe.ts), not for clients.
 */
export function upstreamUnavailable (upstream: Upstream, cause: string): Refusal {
  const meaning = CAUSES[cause]
  return refusal('DG_UPSTREAM_UNAVAILABLE', `the Docker daemon at ${upstream.url} is not answering (${cause}${meaning === undefined ? '' : `: ${meaning}`})`)
}

const CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'no daemon socket at that path; is dockerd running?',
  ECONNREFUSED: 'nothing accepts on the daemon socket; is dockerd running?',
  EACCES: 'the gateway may not open the daemon socket; its operator must add dockgate\'s user to the socket\'s group',
  ETIMEDOUT: 'the daemon accepts connections but does not answer /_ping; is dockerd hung?'
}
