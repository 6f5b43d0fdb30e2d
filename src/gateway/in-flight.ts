/**
 * The operational guard around judging: every request passes here before
 * and after the policy. Before: refused with 503 while dockgate shuts
 * down, and with 429 over the identity's request rate. After an allowing
 * judgement: refused with 502 while the daemon does not answer /_ping
 * (so it is not left waiting on a hung daemon); a long-lived stream or hijacked session takes one of the
 * identity's stream slots, or is refused with 429 when it has none left
 * (so one team's streams cannot starve the others). A refusal by the
 * policy stays a 403: limits never speak for requests the caller may not
 * make anyway.
 *
 * It also knows what is in flight, which is what a graceful shutdown
 * waits for, and what the stream gauges show.
 */
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { randomUUID } from 'node:crypto'
import type { Admit, Exchange } from '../proxy/exchange.js'
import type { AuditRecord } from '../audit/record.js'
import type { Policy } from '../policy/index.js'
import { refusal, type Refusal } from '../shared/errors.js'
import type { Limiter, LimitName } from '../limits/limiter.js'
import { requestKind, withoutVersion, type RequestKind } from '../limits/stream-kind.js'
import type { ConnectionInfo } from './pipeline.js'
import { refusedExchange } from './exchange.js'
import { guardRefusalOf, guardRefusalRecord } from './limit-records.js'
import type { GuardRefusal } from './refusal-audit.js'

/** What the guard needs; `policy` is read per request so reloads apply. */
export interface GuardDeps {
  readonly connectionOf: (req: IncomingMessage) => ConnectionInfo | undefined
  readonly policy: () => Policy
  /** Writes a refusal's record, rate limited per identity and code (refusal-audit.ts). */
  readonly auditRefusal: (refusal: GuardRefusal, record: () => AuditRecord) => void
  readonly limiter: Limiter
  readonly onLimitHit: (limit: LimitName) => void
  /** The 502 for a new request while the daemon does not answer /_ping; null while it does. */
  readonly upstreamDown?: () => Refusal | null
}

interface InFlight { readonly kind: RequestKind; opened: boolean }

/** See the module comment. */
export class Guard {
  private draining = false
  private readonly inFlight = new Set<InFlight>()
  private idleWaiters: Array<() => void> = []

  constructor (private readonly deps: GuardDeps) {}

  /** The admit function the proxy calls: `inner` judges, the guard limits and tracks. */
  wrap (inner: Admit): Admit {
    return (req) => this.admit(inner, req)
  }

  /** From now on every new request is answered 503 and every answer closes its connection. */
  startDraining (): void {
    this.draining = true
  }

  /** True once {@link Guard.startDraining} was called; it never goes back. */
  get isDraining (): boolean {
    return this.draining
  }

  /** Exchanges admitted and not yet ended (refusals included until answered). */
  get inFlightCount (): number {
    return this.inFlight.size
  }

  /** Open streams, and hijacked sessions the daemon switched to raw bytes. */
  openKinds (): { streams: number; sessions: number } {
    let streams = 0
    let sessions = 0
    for (const entry of this.inFlight) {
      if (entry.kind === 'stream') streams += 1
      else if (entry.kind === 'session' && entry.opened) sessions += 1
    }
    return { streams, sessions }
  }

  /** Resolves once nothing is in flight. */
  async idle (): Promise<void> {
    if (this.inFlight.size === 0) return
    await new Promise<void>((resolve) => { this.idleWaiters.push(resolve) })
  }

  /**
   * Records the refusal of a request that never reaches judging (CONNECT,
   * an Expect dockgate cannot meet), rate limited like every guard refusal;
   * returns its request id, or null for a connection nobody verified.
   */
  recordUnjudged (req: IncomingMessage, refused: Refusal): string | null {
    const connection = this.deps.connectionOf(req)
    if (connection === undefined) return null
    const requestId = randomUUID()
    const policy = this.deps.policy()
    const started = performance.now()
    this.deps.auditRefusal(guardRefusalOf(connection, policy, refused), () => guardRefusalRecord(requestId, connection, policy, req, refused, started))
    return requestId
  }

  /** The exchange whose allowed body is answered 502 instead of forwarded while the daemon does not answer /_ping. */
  private liveAfterJudging (exchange: Exchange, upstreamDown: () => Refusal | null): Exchange {
    const judge = exchange.bodyJudge
    if (judge === null) return exchange
    return { ...exchange, bodyJudge: { limit: judge.limit, judge: (body) => judge.judge(body) ?? (body === null ? null : upstreamDown()) } }
  }

  private admit (inner: Admit, req: IncomingMessage): Exchange {
    const started = performance.now()
    const connection = this.deps.connectionOf(req)
    if (connection === undefined) return this.track(inner(req), 'request', null)
    const key = connection.identity.fingerprint256
    if (this.draining) {
      return this.refuse(req, connection, started, refusal('DG_SHUTTING_DOWN', 'the gateway is shutting down; retry, and your client will reach it (or its replacement) on a new connection'))
    }
    const rate = this.deps.limiter.takeRequest(key)
    if (!rate.ok) {
      this.deps.onLimitHit('rate')
      return this.refuse(req, connection, started, refusal('DG_LIMIT_RATE',
        `${connection.identity.subject} sent more than ${rate.max} requests per second (limits.requestsPerSecond); retry in ${rate.retryAfterSeconds} s`, rate.retryAfterSeconds))
    }
    let exchange = inner(req)
    if (exchange.refusal !== null) return this.track(exchange, 'request', null)
    // Nothing of the allowed exchange was recorded yet; it is dropped unforwarded.
    // A body still to be judged is judged first: the policy's answer (403,
    // 413) says more than the daemon's state, and the 502 then ends the
    // exchange like any unreachable daemon's.
    const down = exchange.bodyJudge === null ? this.deps.upstreamDown?.() ?? null : null
    if (down !== null) return this.refuse(req, connection, started, down)
    if (exchange.bodyJudge !== null && this.deps.upstreamDown !== undefined) exchange = this.liveAfterJudging(exchange, this.deps.upstreamDown)
    const query = req.url?.includes('?') === true ? req.url.slice(req.url.indexOf('?') + 1) : ''
    const kind = requestKind(req.method ?? '', withoutVersion(exchange.upstreamPath), query, req.headers.upgrade ?? null)
    if (kind === 'request') return this.track(exchange, kind, null)
    const slot = this.deps.limiter.openStream(key)
    if (!slot.ok) {
      this.deps.onLimitHit('streams')
      return this.refuse(req, connection, started, refusal('DG_LIMIT_STREAMS',
        `${connection.identity.subject} already has ${slot.max} open streams and sessions (limits.streamsPerIdentity); ` +
        'close one (docker logs -f, events, attach, exec) and retry', 1))
    }
    return this.track(exchange, kind, slot.release)
  }

  // The refusal is recorded before it is answered, as every refusal is
  // (unless its identity went over its share of records for this code).
  private refuse (req: IncomingMessage, connection: ConnectionInfo, started: number, refused: Refusal): Exchange {
    const requestId = randomUUID()
    const policy = this.deps.policy()
    this.deps.auditRefusal(guardRefusalOf(connection, policy, refused), () => guardRefusalRecord(requestId, connection, policy, req, refused, started))
    return this.track(refusedExchange(requestId, refused), 'request', null)
  }

  private track (exchange: Exchange, kind: RequestKind, release: (() => void) | null): Exchange {
    const entry: InFlight = { kind, opened: false }
    this.inFlight.add(entry)
    return {
      requestId: exchange.requestId,
      refusal: exchange.refusal,
      upstreamPath: exchange.upstreamPath,
      bodyJudge: exchange.bodyJudge,
      ...(exchange.wantsCreatedId === undefined ? {} : { wantsCreatedId: exchange.wantsCreatedId }),
      keepAlive: () => !this.draining && (exchange.keepAlive?.() ?? true),
      // Called for a hijack's 101 and a stream's first byte; only sessions
      // that really switched protocols count as open sessions.
      started: (status) => {
        entry.opened = true
        exchange.started(status)
      },
      end: (outcome) => {
        release?.()
        try {
          exchange.end(outcome)
        } finally {
          this.inFlight.delete(entry)
          if (this.inFlight.size === 0) this.wakeIdle()
        }
      }
    }
  }

  private wakeIdle (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }
}
