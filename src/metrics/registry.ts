/**
 * The gateway's Prometheus metrics (prom-client), in one registry per
 * process with Node's default process metrics. Counters are fed by
 * `observe*` calls as things happen; gauges that mirror state elsewhere
 * (open connections, reload counts, certificate expiry, audit health) are
 * read from `sources` at scrape time, so they are never stale.
 *
 * Label values are bounded: teams come from the policy (or `none`),
 * statuses and reasons from small fixed sets. Nothing from a request
 * (paths, subjects of client certificates) ever becomes a label.
 *
 * With several workers each registry is one worker's; the primary sums
 * them (AggregatorRegistry), except where `aggregator` says otherwise.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'

/** How one request (or hijacked session) ended, as the metrics see it. */
export interface RequestObservation {
  readonly team: string
  readonly decision: string
  readonly status: number
  /** `request`, `stream` or `session` (see src/limits/stream-kind.ts). */
  readonly kind: string
  readonly durationSeconds: number
  readonly bytesIn: number
  readonly bytesOut: number
}

/** One expiring item: seconds until it expires (negative once past). */
export interface ExpiryObservation {
  readonly kind: string
  readonly file: string
  readonly subject: string
  readonly secondsLeft: number | null
}

/** The reloader's counts; times are ISO 8601, null until the first of their kind. */
export interface ReloadObservation {
  readonly applied: number
  readonly failed: number
  readonly lastAppliedAt: string | null
  readonly lastFailedAt: string | null
  readonly handshakeChecksCrl: boolean
}

/** The label values each fixed-label counter starts with at 0, so `rate(...) > 0` alerts see the first hit. */
export interface KnownLabels {
  readonly limits: readonly string[]
  readonly tlsReasons: readonly string[]
  readonly closedReasons: readonly string[]
}

/** State read at scrape time. Every function must be cheap and must not throw. */
export interface MetricSources {
  readonly connections: () => number
  /** Connections not verified yet: TLS handshakes running, clients being turned away. */
  readonly unverified: () => number
  readonly streams: () => { readonly streams: number; readonly sessions: number }
  readonly reloads: () => ReloadObservation | null
  readonly expiry: () => readonly ExpiryObservation[]
  readonly audit: () => { readonly writable: boolean; readonly writeFailures: number }
  readonly draining: () => boolean
}

/** The metrics of one gateway process. */
export interface GatewayMetrics {
  readonly registry: Registry
  readonly observeRequest: (o: RequestObservation) => void
  /** Requests refused whose records were counted instead of written (a Suppressed summary): counted, not timed. */
  readonly countRequests: (labels: { readonly team: string; readonly decision: string; readonly status: number }, count: number) => void
  readonly observeTlsRejection: (reason: string) => void
  /** A limit refused something; `limit` is a LimitName or `header-size` / `header-timeout`. */
  readonly observeLimitHit: (limit: string) => void
  /** dockgate closed an open connection itself (`revoked`, `expired`, `unknown-ca`). */
  readonly observeConnectionClosed: (reason: string) => void
}

/** Buckets from a millisecond `_ping` to an hour-long `exec` session. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600]

/**
 * Creates the registry and every metric; see the metrics table in docs/operations.md.
 * `info.startedAt` (ms since the epoch) is when the running settings were
 * first loaded: the last successful reload until one is applied.
 */
export function createMetrics (sources: MetricSources, info: { readonly version: string; readonly startedAt?: number }, known?: KnownLabels): GatewayMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const requests = new Counter({ name: 'dockgate_requests_total', help: 'Requests answered, by team, decision (allow, deny, would-deny) and HTTP status (101 for hijacked sessions, 0 when the client left first)', labelNames: ['team', 'decision', 'status'], registers })
  const duration = new Histogram({ name: 'dockgate_request_duration_seconds', help: 'Time from request to the end of its answer; kind is request, stream (events, logs -f, stats, wait) or session (hijacked: attach, exec)', labelNames: ['team', 'kind'], buckets: DURATION_BUCKETS, registers })
  const bytes = new Counter({ name: 'dockgate_bytes_total', help: 'Body bytes relayed, counted when each exchange ends: direction in is client to daemon, out is daemon to client', labelNames: ['team', 'direction'], registers })
  const tls = new Counter({ name: 'dockgate_tls_handshake_failures_total', help: 'Clients turned away at the TLS layer, by reason (no-certificate, unknown-ca, expired, revoked, handshake-failed, ...)', labelNames: ['reason'], registers })
  const limits = new Counter({ name: 'dockgate_limit_hits_total', help: 'Requests or connections refused by a limit: connections, identity-connections, streams, rate, header-size, header-timeout', labelNames: ['limit'], registers })
  const closed = new Counter({ name: 'dockgate_connections_closed_total', help: 'Open connections dockgate closed itself, by reason (revoked: a reloaded CRL revokes the certificate; expired: the certificate expired while open; unknown-ca: a reloaded tls.ca no longer trusts its issuer)', labelNames: ['reason'], registers })
  for (const limit of known?.limits ?? []) limits.inc({ limit }, 0)
  for (const reason of known?.tlsReasons ?? []) tls.inc({ reason }, 0)
  for (const reason of known?.closedReasons ?? []) closed.inc({ reason }, 0)
  stateGauges(registers, sources)
  stateCounters(registers, sources)
  reloadGauges(registers, sources, info.startedAt ?? Date.now())
  new Gauge({ name: 'dockgate_build_info', help: 'Always 1; the labels say which dockgate and Node.js run', labelNames: ['version', 'node'], aggregator: 'first', registers })
    .set({ version: info.version, node: process.version }, 1)
  return {
    registry,
    observeRequest: (o) => {
      requests.inc({ team: o.team, decision: o.decision, status: String(o.status) })
      duration.observe({ team: o.team, kind: o.kind }, o.durationSeconds)
      if (o.bytesIn > 0) bytes.inc({ team: o.team, direction: 'in' }, o.bytesIn)
      if (o.bytesOut > 0) bytes.inc({ team: o.team, direction: 'out' }, o.bytesOut)
    },
    countRequests: (labels, count) => { requests.inc({ team: labels.team, decision: labels.decision, status: String(labels.status) }, count) },
    observeTlsRejection: (reason) => { tls.inc({ reason }) },
    observeLimitHit: (limit) => { limits.inc({ limit }) },
    observeConnectionClosed: (reason) => { closed.inc({ reason }) }
  }
}

function stateGauges (registers: Registry[], sources: MetricSources): void {
  new Gauge({ name: 'dockgate_open_connections', help: 'Verified client connections open now', registers, collect () { this.set(sources.connections()) } })
  new Gauge({ name: 'dockgate_unverified_connections', help: 'Connections not verified yet: TLS handshakes running, clients being turned away or refused by a connection limit', registers, collect () { this.set(sources.unverified()) } })
  new Gauge({ name: 'dockgate_open_streams', help: 'Long-lived streams open now (events, logs -f, stats, wait)', registers, collect () { this.set(sources.streams().streams) } })
  new Gauge({ name: 'dockgate_open_sessions', help: 'Hijacked sessions open now (attach, exec, run -i, BuildKit)', registers, collect () { this.set(sources.streams().sessions) } })
  new Gauge({ name: 'dockgate_draining', help: '1 while shutting down (no new requests are taken)', aggregator: 'max', registers, collect () { this.set(sources.draining() ? 1 : 0) } })
  new Gauge({ name: 'dockgate_audit_writable', help: '1 when the audit trail accepts records', aggregator: 'min', registers, collect () { this.set(sources.audit().writable ? 1 : 0) } })
  new Gauge({
    name: 'dockgate_tls_expiry_seconds',
    help: 'Seconds until the server certificate (kind server-cert) or a CA (ca) expires, or a CRL (crl) reaches its nextUpdate; negative once past',
    labelNames: ['kind', 'file', 'subject'],
    aggregator: 'min',
    registers,
    collect () {
      this.reset()
      for (const item of sources.expiry()) {
        if (item.secondsLeft !== null) this.set({ kind: item.kind, file: item.file, subject: item.subject }, item.secondsLeft)
      }
    }
  })
  new Gauge({
    name: 'dockgate_crl_checked_in_handshake',
    help: '1 when the TLS handshake checks CRLs; 0 without CRLs or while one is stale (dockgate then refuses revoked serials itself)',
    aggregator: 'min',
    registers,
    collect () { this.set(sources.reloads()?.handshakeChecksCrl === true ? 1 : 0) }
  })
}

// Whether the last reload worked, and when the settings in use were loaded:
// a failed reload leaves the old settings serving, which only these show.
function reloadGauges (registers: Registry[], sources: MetricSources, startedAt: number): void {
  new Gauge({
    name: 'dockgate_reload_last_success',
    help: '1 unless the last reload failed (the previous config, policy and certificates still serve); with workers, the lowest of any worker',
    aggregator: 'min',
    registers,
    collect () {
      const stats = sources.reloads()
      const failed = stats?.lastFailedAt ?? null
      this.set(failed === null || (stats?.lastAppliedAt ?? '') >= failed ? 1 : 0)
    }
  })
  new Gauge({
    name: 'dockgate_reload_last_success_timestamp_seconds',
    help: 'When the settings in use were loaded: at start, or by the last reload applied (Unix time); with workers, the oldest',
    aggregator: 'min',
    registers,
    collect () {
      const applied = sources.reloads()?.lastAppliedAt ?? null
      this.set((applied === null ? startedAt : Date.parse(applied)) / 1000)
    }
  })
}

// Counters whose counts live elsewhere (the reloader, the audit writer):
// each scrape sets them to the source's running total.
function stateCounters (registers: Registry[], sources: MetricSources): void {
  new Counter({
    name: 'dockgate_reloads_total',
    help: 'Reloads of config, policy and certificates, by outcome (applied, failed); with workers, the highest count of any worker',
    labelNames: ['outcome'],
    aggregator: 'max',
    registers,
    collect () {
      const stats = sources.reloads()
      this.reset()
      this.inc({ outcome: 'applied' }, stats?.applied ?? 0)
      this.inc({ outcome: 'failed' }, stats?.failed ?? 0)
    }
  })
  new Counter({
    name: 'dockgate_audit_write_failures_total',
    help: 'Audit records that could not be written',
    registers,
    collect () {
      this.reset()
      this.inc(sources.audit().writeFailures)
    }
  })
}
