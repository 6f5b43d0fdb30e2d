/**
 * `dockgate policy explain`: the same judgement a request would get, with
 * the working shown: the identity entry matched, each team's method-and-path
 * result, the groups behind the rules involved, whether a body or query is
 * judged, and the final verdict with the rule that decided it. Pure; the CLI
 * only formats it.
 */
import type { Policy } from './compiled.js'
import { findJudgedEndpoint } from './body/endpoints.js'
import { findGroup } from './groups.js'
import { judgeBody, judgeRequest, type RequestFacts, type Verdict } from './judge.js'
import { methodBit, ruleMatches } from './rules.js'
import type { IdentityMatch, PolicyMode, RuleRef } from './types.js'

/** How one team of the identity judged method and path. */
export interface TeamExplanation {
  readonly name: string
  readonly mode: PolicyMode
  readonly unrestricted: boolean
  /** `allow` with its rule, `deny` with the deny rule, or `none` (no rule matched). */
  readonly path: 'allow' | 'deny' | 'none'
  readonly rule: RuleRef | null
}

/** A group behind a rule that matched, with its full expansion. */
export interface GroupExplanation {
  readonly group: string
  readonly line: number
  readonly rules: readonly string[]
}

/** Everything `policy explain` prints. */
export interface Explanation {
  readonly identity: IdentityMatch | null
  /** The matched entry's `match:` fields, e.g. `cn: ci-runner-*`. */
  readonly matchedOn: readonly string[]
  readonly policyMode: PolicyMode
  readonly teams: readonly TeamExplanation[]
  readonly groups: readonly GroupExplanation[]
  /** The judged endpoint (`POST /containers/create`), or null when method and path decide alone. */
  readonly judgedEndpoint: string | null
  /** What the endpoint's judge reads. */
  readonly reads: 'body' | 'request' | null
  /** True when the endpoint reads a body and none was given: judged as an empty body. */
  readonly bodyAssumedEmpty: boolean
  readonly verdict: Verdict
}

/** Explains how `policy` judges `request` (with `body` when given). */
export function explain (policy: Policy, request: RequestFacts, body: Uint8Array | null): Explanation {
  const judgement = judgeRequest(policy, request)
  const verdict = judgement.kind === 'final' ? judgement.verdict : judgeBody(judgement.pending, body ?? new Uint8Array())
  const identity = policy.identities.find((entry) => entry.match === verdict.identity) ?? null
  const bit = methodBit(request.method)
  const segments = request.target.segments
  const teams = (identity?.teams ?? []).map((team): TeamExplanation => {
    const deny = team.deny.find((rule) => ruleMatches(rule, bit, segments))
    const allow = deny === undefined ? team.allow.find((rule) => ruleMatches(rule, bit, segments)) : undefined
    const rule = deny?.ref ?? allow?.ref ?? null
    return { name: team.name, mode: team.mode, unrestricted: team.containers.unrestricted, path: deny !== undefined ? 'deny' : allow !== undefined ? 'allow' : 'none', rule }
  })
  const endpoint = findJudgedEndpoint(request.method, segments)
  return {
    identity: verdict.identity,
    matchedOn: (identity?.matchers ?? []).map((m) => `${m.key}: ${m.glob.text}`),
    policyMode: policy.mode,
    teams,
    groups: groupsOf(teams.map((t) => t.rule)),
    judgedEndpoint: endpoint?.name ?? null,
    reads: endpoint?.reads ?? null,
    bodyAssumedEmpty: judgement.kind === 'body' && body === null,
    verdict
  }
}

function groupsOf (rules: ReadonlyArray<RuleRef | null>): GroupExplanation[] {
  const out: GroupExplanation[] = []
  for (const rule of rules) {
    if (rule?.group === undefined || out.some((g) => g.group === rule.group && g.line === rule.line)) continue
    out.push({ group: rule.group, line: rule.line, rules: findGroup(rule.group)?.rules ?? [] })
  }
  return out
}
