/**
 * The request path, top to bottom. Every request on a verified connection,
 * ordinary or hijacked, takes these steps in this order; each either
 * refuses (the refusal is recorded before it is answered) or continues:
 *
 *   1. connection      who is asking: the certificate the TLS gate verified, or
 *                      the identity of the socket listener it came in on; a
 *                      request pipelined behind a stream on its connection is
 *                      refused and the connection closed
 *   2. drain and rate  503 while dockgate shuts down, 429 over the identity's rate
 *   3. canonical       503 while the audit trail cannot be written; 400 for a
 *                      target that is not in its one canonical form
 *   4. decision        identity -> teams -> rules (403), and for endpoints that
 *                      can reach the host, a body phase to come
 *   5. isolation       for an ownership team: what the request names must be
 *                      its own (else the daemon's answer for a missing object),
 *                      what it creates gets its label, what it lists is its own
 *                      (isolation.ts; the only step that may wait on the daemon)
 *   6. daemon, slot    502 while the daemon does not answer /_ping (after the
 *                      body phase when the policy judges a body: its answer
 *                      comes first); a long-lived stream or session takes one
 *                      of the identity's stream slots (429 when none is left)
 *   7. body phase      the proxy reads the body (bounded) and the exchange
 *                      judges it, then isolation checks and labels it (exchange.ts)
 *   8. forward         the proxy streams the request to the daemon (src/proxy)
 *   9. audit           the exchange records how it ended (exchange.ts)
 *
 * Steps 1 to 6 are here; 7 to 9 are what the returned exchange does when
 * the proxy drives it. The policy core decides; this file only orders.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { canonicalize, encodePath, judgeRequest, matchIdentity, nonCanonicalRefusal, ownershipScope, type AuditLevel, type CanonicalTarget, type IdentityMatch, type Judgement, type OwnershipScope, type Policy, type RuleRef, type Verdict } from '../policy/index.js'
import type { OwnerIndex } from '../ownership/index.js'
import type { Exchange } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { Limiter, LimitName } from '../limits/limiter.js'
import { requestKind, withoutVersion } from '../limits/stream-kind.js'
import { refusal, type Refusal } from '../shared/errors.js'
import { ForwardedExchange, refusedExchange, type Admitted, type ForwardParts } from './exchange.js'
import { isolate, type IsolationPlan } from './isolation.js'
import type { QuotaGate } from './quota.js'
import type { InFlight } from './in-flight.js'
import { refusedRecord, requestBase } from './records.js'
import { sharedAuditIdentity, type ConnectionInfo } from './connection.js'
import type { RefusalAudit } from './refusal-audit.js'
import type { SessionSettings } from './session-recording.js'

/** What the pipeline reads per request; `policy` is read once per request, so a reload applies to the next one. */
export interface PipelineDeps {
  readonly connectionOf: (req: IncomingMessage) => ConnectionInfo | undefined
  readonly policy: () => Policy
  readonly audit: AuditLog
  /** Writes the refusals of dockgate's own guards (limits, shutdown, the daemon's state), rate limited per identity and code. */
  readonly refusals: RefusalAudit
  readonly limiter: Limiter
  readonly onLimitHit: (limit: LimitName) => void
  /** The 502 for a new request while the daemon does not answer /_ping; null while it does. */
  readonly daemonDown: () => Refusal | null
  readonly inFlight: InFlight
  /** `limits.bodyBytes`: the most of a body read for judging. */
  readonly bodyLimit: number
  /** `audit.level`: the level of requests the policy sets none for. */
  readonly auditLevel: AuditLevel
  /** The owner index, made on first use (only ownership teams need it); absent: no isolation at all. */
  readonly owners?: () => OwnerIndex
  /** Judges image references the policy could not judge by name, on the daemon (images.ts). */
  readonly resolveImages: (verdict: Verdict) => Promise<Verdict>
  /** Team quotas (quota.ts); absent: none are enforced (only with isolation). */
  readonly quotas?: QuotaGate
  /** Where sessions at level `session` are recorded (session-recording.ts); absent: none are. */
  readonly sessions?: SessionSettings
}

/** One request as it arrived, before any step judged it. */
interface Arrival {
  readonly req: IncomingMessage
  readonly connection: ConnectionInfo
  readonly policy: Policy
  readonly canonical: ReturnType<typeof canonicalize>
  readonly admitted: Admitted
}

/** The request path; see the module comment. `admit` never throws. */
export class Pipeline {
  /** Long-lived exchanges (streams, sessions) open on each client connection. */
  private readonly longLived = new WeakMap<object, number>()

  constructor (private readonly deps: PipelineDeps) {}

  /** Steps 1 to 6 for one request; the exchange carries out the rest. Synchronous unless isolation applies. */
  admit (req: IncomingMessage): Exchange | Promise<Exchange> {
    // 1. connection
    const arrival = this.arrive(req)
    if (arrival === null) {
      // Only verified connections and socket listeners' reach the HTTP
      // server; this is a wiring bug, and the safe answer is to refuse.
      return refusedExchange(randomUUID(), refusal('DG_TLS_REJECTED', 'connection has no verified client certificate'), null)
    }
    const { connection, canonical } = arrival
    const key = connection.key
    if (this.behindStream(req)) return this.refusePipelined(arrival)

    // 2. drain and rate
    if (this.deps.inFlight.isDraining) {
      return this.refuseByGuard(arrival, refusal('DG_SHUTTING_DOWN', 'the gateway is shutting down; retry, and your client will reach it (or its replacement) on a new connection'))
    }
    const rate = this.deps.limiter.takeRequest(key)
    if (!rate.ok) {
      this.deps.onLimitHit('rate')
      return this.refuseByGuard(arrival, refusal('DG_LIMIT_RATE',
        `${connection.name} sent more than ${rate.max} requests per second (limits.requestsPerSecond); retry in ${rate.retryAfterSeconds} s`, rate.retryAfterSeconds))
    }

    // 3. canonical request (nothing is answered that cannot be recorded)
    const blocked = this.deps.audit.blocked()
    if (blocked !== null) return this.refuse(arrival, refusal('DG_AUDIT_UNAVAILABLE', blocked))
    if (!canonical.ok) return this.refuse(arrival, nonCanonicalRefusal(canonical.reason))

    // 4. identity and policy decision
    const judgement = this.judge(arrival, canonical.target)
    if (judgement.kind === 'final' && judgement.verdict.outcome === 'deny') {
      return this.refuseDecided(arrival, judgement, judgement.verdict.refusal as Refusal, judgement.verdict.rule)
    }

    if (judgement.kind === 'final' && judgement.verdict.images !== undefined) {
      // An image the policy cannot judge by name (a tag request's source given by id): the daemon says which it is.
      return this.deps.resolveImages(judgement.verdict).then((verdict) => verdict.outcome === 'deny'
        ? this.refuseDecided(arrival, judgement, verdict.refusal as Refusal, verdict.rule)
        : this.isolateThenForward(arrival, { kind: 'final', verdict }, canonical.target))
        .catch((err: unknown) => this.refuse(arrival, refusal('DG_UPSTREAM_UNAVAILABLE', `the image this request names could not be looked up on the daemon (${err instanceof Error ? err.message : String(err)})`)))
    }
    return this.isolateThenForward(arrival, judgement, canonical.target)
  }

  /** Step 5, team isolation (isolation.ts): what the request names, creates and lists; then the rest. */
  private isolateThenForward (arrival: Arrival, judgement: Judgement, target: CanonicalTarget): Exchange | Promise<Exchange> {
    const scope = this.deps.owners === undefined ? null : ownershipScope(arrival.policy, matchOf(judgement)?.teams ?? [])
    if (scope === null) return this.forward(arrival, judgement, target, null)
    // Isolation asks the daemon what its index does not know yet: not while the daemon does not answer.
    const down = this.deps.daemonDown()
    if (down !== null) return this.refuseByGuard(arrival, down)
    return this.isolated(arrival, judgement, target, scope)
      .catch((err: unknown) => this.refuse(arrival, refusal('DG_BAD_REQUEST', `the request could not be judged (${err instanceof Error ? err.message : String(err)})`)))
  }

  /** Step 5 for an ownership team; a dry run forwards what isolation would refuse and records it as would-deny. */
  private async isolated (arrival: Arrival, judgement: Judgement, target: CanonicalTarget, scope: OwnershipScope): Promise<Exchange> {
    const owners = (this.deps.owners as () => OwnerIndex)()
    await builtWithin(owners, OWNER_INDEX_WAIT_MS)
    const isolation = await isolate(scope, owners, { method: arrival.req.method ?? '', segments: target.segments, query: target.query, contentTypes: contentTypes(arrival.req) })
    const dryRun = isDryRun(arrival.policy, matchOf(judgement)?.teams ?? [])
    if (isolation.kind === 'forward') return this.forward(arrival, judgement, target, { plan: dryRun ? unscoped(isolation.plan) : isolation.plan, dryRun, wouldDeny: null })
    if (dryRun) return this.forward(arrival, judgement, target, { plan: {}, dryRun, wouldDeny: isolation.refusal })
    return this.refuseDecided(arrival, judgement, isolation.refusal, null)
  }

  /** Steps 6 (daemon liveness and stream slot) and the exchange that carries out the rest. */
  private forward (arrival: Arrival, judgement: Judgement, target: CanonicalTarget, isolation: ForwardParts['isolation'] | null): Exchange {
    const { req, connection } = arrival
    // Checked again here: a request admitted while isolation asked the daemon may now be behind a stream.
    if (this.behindStream(req)) return this.refusePipelined(arrival)
    const plan = isolation?.plan
    // 6. daemon liveness (a body the policy judges is judged first) and stream slot
    const down = judgement.kind === 'final' ? this.deps.daemonDown() : null
    if (down !== null) return this.refuseByGuard(arrival, down)
    const path = plan?.segments === undefined ? target.path : encodePath(plan.segments)
    const upstreamPath = (target.apiVersion === null ? '' : `/v${target.apiVersion}`) + path
    const kind = requestKind(req.method ?? '', withoutVersion(upstreamPath), target.query, req.headers.upgrade ?? null)
    let releaseSlot: (() => void) | null = null
    if (kind !== 'request') {
      const slot = this.deps.limiter.openStream(connection.key)
      if (!slot.ok) {
        this.deps.onLimitHit('streams')
        return this.refuseByGuard(arrival, refusal('DG_LIMIT_STREAMS',
          `${connection.name} already has ${slot.max} open streams and sessions (limits.streamsPerIdentity); ` +
          'close one (docker logs -f, events, attach, exec) and retry', 1))
      }
      releaseSlot = this.holdOn(req, slot.release)
    }

    // 7 to 9: the body phase, forwarding and the records of how it ended
    return new ForwardedExchange(arrival.admitted, judgement, {
      audit: this.deps.audit,
      inFlight: this.deps.inFlight,
      entry: this.deps.inFlight.enter(kind),
      upstreamPath,
      ...(plan?.query === undefined ? {} : { upstreamQuery: plan.query }),
      releaseSlot,
      bodyLimit: this.deps.bodyLimit,
      daemonDown: this.deps.daemonDown,
      resolveImages: this.deps.resolveImages,
      ...(this.deps.sessions === undefined ? {} : { sessions: this.deps.sessions }),
      ...quotaOf(this.deps.quotas, arrival.policy, plan?.segments ?? target.segments, req.method ?? ''),
      ...(isolation === null ? {} : { isolation })
    })
  }

  /**
   * Records the refusal of a request that never enters the path (CONNECT,
   * an Expect dockgate cannot meet), rate limited like every guard
   * refusal; returns its request id, or null for a connection nobody
   * verified.
   */
  recordUnjudged (req: IncomingMessage, refused: Refusal): string | null {
    const arrival = this.arrive(req)
    if (arrival === null) return null
    this.recordGuardRefusal(arrival, refused)
    return arrival.admitted.requestId
  }

  /**
   * Whether a stream or session is open ahead of this request on its
   * connection. HTTP answers a connection's requests in order, so the
   * answer of a request pipelined behind a stream could only come after
   * the stream ends, which for `docker events` is never; and Node stops
   * reading a connection whose queued answers pile up, so the client's
   * departure would go unnoticed while the stream held its slot and its
   * daemon connection. No Docker client pipelines.
   */
  private behindStream (req: IncomingMessage): boolean {
    return (this.longLived.get(req.socket) ?? 0) > 0
  }

  /** Refuses (and records) a request pipelined behind a stream, and closes its connection, which ends that stream too. */
  private refusePipelined (arrival: Arrival): Exchange {
    const exchange = this.refuseByGuard(arrival, refusal('DG_BAD_REQUEST',
      'a request pipelined behind a stream or session on the same connection can never be answered; the connection is closed (send each stream on a connection of its own)'))
    arrival.req.socket.destroy()
    return exchange
  }

  /** Counts a long-lived exchange on the request's connection until `release` runs (at most once). */
  private holdOn (req: IncomingMessage, release: () => void): () => void {
    const socket = req.socket
    this.longLived.set(socket, (this.longLived.get(socket) ?? 0) + 1)
    let held = true
    return () => {
      if (!held) return
      held = false
      this.longLived.set(socket, (this.longLived.get(socket) ?? 1) - 1)
      release()
    }
  }

  private arrive (req: IncomingMessage): Arrival | null {
    const started = performance.now()
    const connection = this.deps.connectionOf(req)
    if (connection === undefined) return null
    const policy = this.deps.policy()
    const canonical = canonicalize(req.url ?? '', req.method ?? '')
    const requestId = randomUUID()
    const admitted: Admitted = {
      requestId,
      started,
      base: requestBase(requestId, connection, req, canonical),
      identity: (match) => sharedAuditIdentity(connection, match, policy.file),
      defaultLevel: this.deps.auditLevel
    }
    return { req, connection, policy, canonical, admitted }
  }

  // The policy core does not throw on any input; if a bug made it, the
  // request is refused rather than forwarded unjudged.
  private judge (arrival: Arrival, target: Extract<Arrival['canonical'], { ok: true }>['target']): Judgement {
    const facts = { principal: arrival.connection.principal, method: arrival.req.method ?? '', target, contentTypes: contentTypes(arrival.req) }
    try {
      return judgeRequest(arrival.policy, facts, this.deps.auditLevel)
    } catch (err) {
      const denial = refusal('DG_BAD_REQUEST', `the request could not be judged (${err instanceof Error ? err.message : String(err)})`)
      return { kind: 'final', verdict: { outcome: 'deny', identity: null, team: null, rule: null, refusal: denial, audit: null } }
    }
  }

  /** A refusal of the policy or of isolation, recorded at the level the policy sets for the request (else the gateway's). */
  private refuseDecided (arrival: Arrival, judgement: Judgement, refused: Refusal, rule: RuleRef | null): Exchange {
    const { admitted } = arrival
    const level = (judgement.kind === 'final' ? judgement.verdict.audit?.level : undefined) ?? this.deps.auditLevel
    this.deps.audit.write(refusedRecord({ base: admitted.base, identity: admitted.identity(matchOf(judgement)), level, rule }, refused, admitted.started))
    return this.refused(arrival, refused)
  }

  /** A refusal before the policy decided (audit trail, canonical form), recorded at the gateway's level. */
  private refuse (arrival: Arrival, refused: Refusal): Exchange {
    const { admitted, connection, policy } = arrival
    const facts = { base: admitted.base, identity: admitted.identity(matchIdentity(policy, connection.principal)), level: this.deps.auditLevel, rule: null }
    this.deps.audit.write(refusedRecord(facts, refused, admitted.started))
    return this.refused(arrival, refused)
  }

  /** A refusal by dockgate's own guards: recorded at level metadata, rate limited per identity and code. */
  private refuseByGuard (arrival: Arrival, refused: Refusal): Exchange {
    this.recordGuardRefusal(arrival, refused)
    return this.refused(arrival, refused)
  }

  private recordGuardRefusal (arrival: Arrival, refused: Refusal): void {
    const { admitted, connection, policy } = arrival
    const identity = (): ReturnType<Admitted['identity']> => admitted.identity(matchIdentity(policy, connection.principal))
    this.deps.refusals.refused(
      { identity: connection.key, code: refused.code, client: connection.client, auditIdentity: identity },
      () => refusedRecord({ base: admitted.base, identity: identity(), level: 'metadata', rule: null }, refused, admitted.started))
  }

  // A refused request is in flight until it is answered, like any other.
  private refused (arrival: Arrival, refused: Refusal): Exchange {
    const { inFlight } = this.deps
    return refusedExchange(arrival.admitted.requestId, refused, { inFlight, entry: inFlight.enter('request') })
  }
}

/** Every Content-Type value as sent (Node keeps only the first in `headers`). */
function contentTypes (req: IncomingMessage): string[] {
  const values: string[] = []
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    if (req.rawHeaders[i]?.toLowerCase() === 'content-type') values.push(req.rawHeaders[i + 1] ?? '')
  }
  return values
}

/** How long a request of an ownership team waits for the owner index to be built (once, at the first such request). */
const OWNER_INDEX_WAIT_MS = 10_000

/** Resolves once `owners` is built; rejects (refused, like any request that cannot be judged) after `ms`. */
async function builtWithin (owners: OwnerIndex, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new Error(`the owner index was not built from the daemon within ${ms / 1000} s`)) }, ms)
  })
  try {
    await Promise.race([owners.ready, late])
  } finally {
    clearTimeout(timer)
  }
}

/** The quota check for a container create or update (the path as forwarded, with the resolved id); none for anything else. */
function quotaOf (quotas: QuotaGate | undefined, policy: Policy, segments: readonly string[], method: string): Pick<ForwardParts, 'quota'> {
  if (quotas === undefined || method !== 'POST' || segments[0] !== 'containers') return {}
  if (segments.length === 2 && segments[1] === 'create') return { quota: async (verdict) => await quotas.decide(policy, verdict, { kind: 'create' }) }
  const container = segments[1]
  if (segments.length === 3 && segments[2] === 'update' && container !== undefined) return { quota: async (verdict) => await quotas.decide(policy, verdict, { kind: 'update', container }) }
  return {}
}

/** The identity entry the judgement was made for, or null when none matched. */
function matchOf (judgement: Judgement): IdentityMatch | null {
  return judgement.kind === 'final' ? judgement.verdict.identity : judgement.pending.identity
}

/** Whether every team of the identity runs in dry-run (`mode: audit`): then isolation records would-deny and forwards. */
function isDryRun (policy: Policy, teams: readonly string[]): boolean {
  return teams.length > 0 && teams.every((name) => policy.compiledTeams.find((team) => team.name === name)?.mode === 'audit')
}

/** A dry run labels what a team creates (so enforcing later works) but scopes no list: the team still sees everything. */
function unscoped (plan: IsolationPlan): IsolationPlan {
  if (plan.listing !== true) return plan
  return {
    ...(plan.segments === undefined ? {} : { segments: plan.segments }),
    ...(plan.body === undefined ? {} : { body: plan.body }),
    ...(plan.created === undefined ? {} : { created: plan.created })
  }
}
