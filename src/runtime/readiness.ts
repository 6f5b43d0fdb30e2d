/**
 * What `/readyz` checks in one gateway process: the daemon answers
 * `/_ping`, the policy and the certificates are loaded and usable, the
 * audit trail is writable, and the gateway is not shutting down. Each
 * check says why in words, so `curl /readyz` is a diagnosis.
 */
import type { Readiness, ReadinessCheck } from './admin-server.js'
import { readinessOf } from './admin-server.js'
import type { Upstream } from '../proxy/exchange.js'
import type { ExpiryItem } from '../config/expiry.js'
import type { Settings } from '../reload/settings.js'
import type { AuditHealth } from './tap.js'

/** Where the checks look. */
export interface ReadinessSources {
  readonly upstream: Upstream
  /** The gateway's daemon probe (liveness and readiness share it): null when /_ping answers, else why not. */
  readonly daemonProblem: (maxAgeMs: number) => Promise<string | null>
  /** The audit file this process writes (a worker's own). */
  readonly auditFile: string
  readonly settings: () => Settings
  readonly expiry: () => readonly ExpiryItem[]
  readonly audit: () => AuditHealth
  readonly draining: () => boolean
}

/** The daemon is probed for readiness at most this often; a busy health checker must not become load on dockerd. */
const DAEMON_PROBE_EVERY_MS = 1000

/** Builds the readiness function for one process. */
export function createReadiness (sources: ReadinessSources): () => Promise<Readiness> {
  return async () => {
    const problem = await sources.daemonProblem(DAEMON_PROBE_EVERY_MS)
    const { config, policy } = sources.settings()
    const audit = sources.audit()
    return readinessOf({
      daemon: problem === null ? pass(`${sources.upstream.url} answers /_ping`) : fail(problem),
      policy: pass(`${config.policyFile}: ${policy.teams.length} team(s)`),
      certificates: certificates(sources.expiry()),
      audit: audit.writable ? pass(`${sources.auditFile} is writable`) : fail(`${sources.auditFile} is not writable: ${audit.lastError ?? 'unknown error'}`),
      accepting: sources.draining() ? fail('shutting down: new requests are answered 503') : pass('taking requests')
    })
  }
}

// The server certificate or a CA past notAfter means clients cannot
// connect; a stale CRL does not (dockgate keeps refusing revoked serials).
function certificates (items: readonly ExpiryItem[]): ReadinessCheck {
  const expired = items.filter((item) => item.kind !== 'crl' && item.secondsLeft !== null && item.secondsLeft <= 0)
  if (expired.length > 0) return fail(expired.map((item) => `${item.kind} ${item.file} (${item.subject}) expired ${item.at ?? ''}`).join('; '))
  const server = items.find((item) => item.kind === 'server-cert')
  const days = server?.secondsLeft === null || server === undefined ? '' : `; server certificate valid for ${Math.floor(server.secondsLeft / 86_400)} more day(s)`
  return pass(`loaded${days}`)
}

function pass (detail: string): ReadinessCheck {
  return { ok: true, detail }
}

function fail (detail: string): ReadinessCheck {
  return { ok: false, detail }
}
