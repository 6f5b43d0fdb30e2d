/**
 * Judging one request: connection → identity → canonical request →
 * judgement (method and path, then the query or body where the endpoint
 * can reach the host), and the audit records that describe it. This is the
 * only place where the TLS identity, the policy core, the proxy contract
 * and the audit trail meet.
 *
 * Fail closed: while the audit trail cannot be written (and
 * `audit.onFailure` is refuse), every request is refused with 503 before
 * anything else, saying why.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { performance } from 'node:perf_hooks'
import { canonicalize, judgeRequest, matchIdentity, nonCanonicalRefusal, type AuditLevel, type Judgement, type Policy } from '../policy/index.js'
import type { Admit, Exchange } from '../proxy/exchange.js'
import type { AuditLog } from '../audit/log.js'
import type { CertificateIdentity } from '../tls/identity.js'
import { refusal, type Refusal } from '../shared/errors.js'
import { DEFAULT_LIMITS } from '../config/operations.js'
import { auditIdentity, requestBase } from './records.js'
import { elapsed, finalExchange, pendingExchange, refusedExchange, type Judged } from './exchange.js'

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
  /** Largest request body read for judging (`limits.bodyBytes`); 1 MiB unless set. */
  readonly bodyLimit?: number
  /** `audit.level`: the level of requests the policy sets none for; metadata unless set. */
  readonly auditLevel?: AuditLevel
}

/** Builds the function the proxy calls for every request before forwarding anything. */
export function createAdmit (deps: AdmitDeps): Admit {
  return (req) => admit(deps, req)
}

function admit (deps: AdmitDeps, req: IncomingMessage): Exchange {
  const started = performance.now()
  const requestId = randomUUID()
  const connection = deps.connectionOf(req)
  if (connection === undefined) {
    // Only verified connections are emitted into the HTTP server; reaching
    // here would be a wiring bug, and the safe answer is to refuse.
    return refusedExchange(requestId, refusal('DG_TLS_REJECTED', 'connection has no verified client certificate'))
  }
  const policy = deps.policy()
  const defaultLevel = deps.auditLevel ?? 'metadata'
  const method = req.method ?? ''
  const canonical = canonicalize(req.url ?? '')
  const base = requestBase(requestId, connection, req, canonical)
  const refuse = (denial: Refusal): Exchange => {
    deps.audit.write({
      ...base, stage: 'Refused', identity: auditIdentity(connection.identity, matchIdentity(policy, connection.identity), policy.file),
      level: defaultLevel, decision: 'deny', code: denial.code, reason: denial.message, rule: null, status: denial.status, durationMs: elapsed(started)
    })
    return refusedExchange(requestId, denial)
  }
  const blocked = deps.audit.blocked()
  if (blocked !== null) return refuse(refusal('DG_AUDIT_UNAVAILABLE', blocked))
  if (!canonical.ok) return refuse(nonCanonicalRefusal(canonical.reason))
  const { path, apiVersion } = canonical.target
  const facts = { principal: connection.identity, method, target: canonical.target, contentTypes: contentTypes(req) }
  const judgement = judgeSafely(policy, facts, defaultLevel)
  const judged: Judged = {
    audit: deps.audit,
    requestId,
    upstreamPath: (apiVersion === null ? '' : `/v${apiVersion}`) + path,
    started,
    base,
    identity: connection.identity,
    policyFile: policy.file,
    defaultLevel
  }
  return judgement.kind === 'final'
    ? finalExchange(judged, judgement.verdict)
    : pendingExchange(judged, judgement.pending, deps.bodyLimit ?? DEFAULT_LIMITS.bodyBytes)
}


// The policy core does not throw on any input; if a bug made it, the request
// is refused rather than forwarded unjudged.
function judgeSafely (policy: Policy, facts: Parameters<typeof judgeRequest>[1], level: AuditLevel): Judgement {
  try {
    return judgeRequest(policy, facts, level)
  } catch (err) {
    const denial = refusal('DG_BAD_REQUEST', `the request could not be judged (${err instanceof Error ? err.message : String(err)})`)
    return { kind: 'final', verdict: { outcome: 'deny', identity: null, team: null, rule: null, refusal: denial, audit: null } }
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
