/**
 * Judging one request: connection → identity → canonical request → decision,
 * and the audit records that describe it. This is the only place where the
 * TLS identity, the policy core, the proxy contract and the audit trail meet.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { canonicalize, decide, matchIdentity, nonCanonicalRefusal, type Policy } from '../policy/index.js'
import type { Admit, Exchange, ExchangeOutcome } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { AuditRecord, AuditRequest } from '../audit/record.js'
import type { CertificateIdentity } from '../tls/identity.js'
import { refusal, type Refusal } from '../shared/errors.js'
import { auditIdentity, ruleOf } from './records.js'

/** What the TLS gate learned about a connection, kept for its lifetime. */
export interface ConnectionInfo {
  readonly identity: CertificateIdentity
  readonly remoteAddress: string
  readonly remotePort: number
}

/** Everything judging needs, passed in so it can be swapped on reload. */
export interface AdmitDeps {
  readonly connectionOf: (req: IncomingMessage) => ConnectionInfo | undefined
  readonly policy: () => Policy
  readonly audit: AuditLog
}

/** Builds the function the proxy calls for every request before forwarding anything. */
export function createAdmit (deps: AdmitDeps): Admit {
  return (req) => admit(deps, req)
}

function admit (deps: AdmitDeps, req: IncomingMessage): Exchange {
  const started = performance.now()
  const requestId = randomUUID()
  const connection = deps.connectionOf(req)
  const target = req.url ?? ''
  const method = req.method ?? ''
  const upgrade = req.headers.upgrade ?? null
  if (connection === undefined) {
    // Only verified connections are emitted into the HTTP server; reaching
    // here would be a wiring bug, and the safe answer is to refuse.
    return refused(requestId, refusal('DG_TLS_REJECTED', 'connection has no verified client certificate'))
  }
  const policy = deps.policy()
  const base = {
    schema: 1 as const,
    auditID: requestId,
    client: { address: connection.remoteAddress, port: connection.remotePort }
  }
  const canonical = canonicalize(target)
  if (!canonical.ok) {
    const teams = matchIdentity(policy, connection.identity)
    const request: AuditRequest = { method, target, path: null, apiVersion: null, upgrade }
    const denial = nonCanonicalRefusal(canonical.reason)
    deps.audit.write({
      ...base, stage: 'Refused', identity: auditIdentity(connection.identity, teams), request,
      decision: 'deny', code: denial.code, rule: null, status: denial.status, durationMs: elapsed(started)
    })
    return refused(requestId, denial)
  }
  const { path, apiVersion } = canonical.target
  const request: AuditRequest = { method, target, path, apiVersion, upgrade }
  const decision = decide(policy, connection.identity, method, canonical.target)
  const identity = auditIdentity(connection.identity, decision.identity)
  const judged = { ...base, identity, request, rule: ruleOf(decision.rule) }
  if (!decision.allowed) {
    deps.audit.write({
      ...judged, stage: 'Refused', decision: 'deny', code: decision.refusal.code,
      status: decision.refusal.status, durationMs: elapsed(started)
    })
    return refused(requestId, decision.refusal)
  }
  const upstreamPath = (apiVersion === null ? '' : `/v${apiVersion}`) + path
  return allowed(deps.audit, requestId, upstreamPath, judged, started)
}

function allowed (
  audit: AuditLog, requestId: string, upstreamPath: string,
  judged: Omit<AuditRecord, 'stage'>, started: number
): Exchange {
  let sessionStarted: number | null = null
  return {
    requestId,
    refusal: null,
    upstreamPath,
    sessionOpened () {
      sessionStarted = performance.now()
      audit.write({ ...judged, stage: 'RequestReceived', decision: 'allow', status: 101, durationMs: elapsed(started) })
    },
    end (outcome: ExchangeOutcome) {
      audit.write({
        ...judged,
        stage: 'ResponseComplete',
        decision: 'allow',
        status: outcome.status,
        bytesIn: outcome.bytesIn,
        bytesOut: outcome.bytesOut,
        durationMs: elapsed(started),
        ...(sessionStarted === null ? {} : { sessionMs: elapsed(sessionStarted) }),
        aborted: outcome.aborted,
        ...(outcome.error === null ? {} : { error: outcome.error, code: 'DG_UPSTREAM_UNAVAILABLE' })
      })
    }
  }
}

/** A refused exchange: its record was written before the answer, so `end` has nothing to add. */
function refused (requestId: string, denial: Refusal): Exchange {
  return { requestId, refusal: denial, upstreamPath: '', sessionOpened () {}, end () {} }
}

function elapsed (since: number): number {
  return Math.round((performance.now() - since) * 1000) / 1000
}
