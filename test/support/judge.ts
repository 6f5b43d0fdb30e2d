/**
 * Judging requests with the pure policy core, as the gateway would: the
 * request phase, then the body phase when one is needed.
 */
import { canonicalize, judgeBody, judgeRequest, loadPolicy, type Policy, type Principal, type Verdict } from '../../src/policy/index.js'
import { formatDiagnostic } from '../../src/shared/diagnostics.js'

/** Loads a policy or throws with its diagnostics. */
export function policyFrom (text: string): Policy {
  const result = loadPolicy({ file: 'p.yaml', text })
  if (!result.ok) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'))
  return result.value
}

/** A principal with the given OU (and a CN derived from it). */
export function member (ou: string): Principal {
  return { subject: `CN=${ou}-1,OU=${ou}`, cn: [`${ou}-1`], ou: [ou], o: [], sanDns: [], sanUri: [], sanEmail: [] }
}

/** Options for {@link judgeAll}. */
export interface JudgeOptions {
  /** Content-Type values as sent; JSON unless given. */
  readonly contentTypes?: readonly string[]
}

/**
 * Judges `method target` with `body` (a string is sent as is, anything else
 * as JSON; undefined sends no body) for `who` under `policy`.
 */
export function judgeAll (policy: Policy, who: Principal, method: string, target: string, body?: unknown, options: JudgeOptions = {}): Verdict {
  const canonical = canonicalize(target)
  if (!canonical.ok) throw new Error(canonical.reason)
  const contentTypes = options.contentTypes ?? (body === undefined ? [] : ['application/json'])
  const judgement = judgeRequest(policy, { principal: who, method, target: canonical.target, contentTypes })
  if (judgement.kind === 'final') return judgement.verdict
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body)
  return judgeBody(judgement.pending, new TextEncoder().encode(text))
}

/** A verdict as one line: `allow`, or `OUTCOME CODE message` for refusals. */
export function show (verdict: Verdict): string {
  if (verdict.outcome === 'allow') return 'allow'
  return `${verdict.outcome} ${verdict.refusal?.code ?? ''} ${verdict.refusal?.message ?? ''}`
}
