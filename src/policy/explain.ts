/**
 * `dockgate policy explain`: the same judgement a request would get, with
 * the working shown: the identity entry matched, each team's method-and-path
 * result, the groups behind the rules involved, whether a body or query is
 * judged, and the final verdict with the rule that decided it. Pure; the CLI
 * only formats it.
 */
import type { CompiledTeam, Policy } from './compiled.js'
import { checkJsonContentType, findJudgedEndpoint, type JudgedEndpoint } from './body/endpoints.js'
import type { HostFact } from './body/facts.js'
import { parseJson } from './body/json.js'
import { checkFacts } from './containers.js'
import { formatResource } from './images.js'
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
  /**
   * The image and resource decisions of the deciding team (the allowing
   * team, or the team whose rule refused): one line per image the request
   * names and per limit it sets (or leaves unset), and the team's quota
   * for a container create. Empty when there are none.
   */
  readonly containerDecisions: readonly string[]
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
    containerDecisions: decisionsOf(policy, endpoint, request, body, verdict),
    verdict
  }
}

/** The image, resource and quota lines of {@link Explanation.containerDecisions}. */
function decisionsOf (policy: Policy, endpoint: JudgedEndpoint | null, request: RequestFacts, body: Uint8Array | null, verdict: Verdict): string[] {
  // The allowing team, or the team whose image or body rule refused; a refusal by method and path has no such decisions.
  const code = verdict.refusal?.code
  if (verdict.outcome !== 'allow' && code !== 'DG_IMAGE_DENIED' && code !== 'DG_BODY_DENIED') return []
  const name = verdict.team ?? verdict.rule?.team ?? null
  const team = policy.compiledTeams.find((t) => t.name === name)
  if (endpoint === null || team === undefined || team.containers.unrestricted) return []
  let facts: HostFact[]
  try {
    if (endpoint.reads === 'body') {
      checkJsonContentType(request.contentTypes)
      const parsed = parseJson(body ?? new Uint8Array())
      if (!parsed.ok) return []
      facts = endpoint.fromBody(parsed.value)
    } else {
      facts = endpoint.fromRequest(request.target, request.contentTypes)
    }
  } catch {
    return []
  }
  const lines = facts.flatMap((fact) => decisionLine(team, fact))
  if (team.quota !== null && endpoint.name === 'POST /containers/create') {
    const parts = [team.quota.containers === null ? null : `containers ${team.quota.containers}`, team.quota.memory === null ? null : `memory ${formatResource('memory', team.quota.memory)}`]
    lines.push(`quota ${parts.filter((p) => p !== null).join(', ')} of team ${team.name}: counted and enforced by the gateway at create, not by explain`)
  }
  return lines
}

function decisionLine (team: CompiledTeam, fact: HostFact): string[] {
  if (fact.rule !== 'images' && fact.rule !== 'resources') return []
  const check = checkFacts(team.containers, [fact], team.name)
  const decide = (rule: string): string => check.violation !== null
    ? `refused by ${rule}: ${check.violation.message ?? fact.phrase}`
    : check.unresolved.length > 0 ? `allowed only if the image the daemon resolves it to is (an image id or possible id prefix: the gateway inspects it), by ${rule}` : `allowed by ${rule}`
  if (fact.rule === 'images') {
    const image = fact.image
    const shown = image.ref === null ? image.why : image.ref.kind === 'named' ? `${image.ref.reference}${image.allTags ? ' (every tag)' : ''}` : image.ref.kind === 'id' ? image.ref.id : JSON.stringify(image.text)
    const rules = team.containers.images
    const rule = rules.patterns !== null ? team.containers.refs.images.text : rules.requireDigest ? team.containers.refs.requireDigest.text : 'no containers.images or requireDigest (any image)'
    return [`image ${shown} (${fact.field}, ${image.use}): ${decide(rule)}`]
  }
  const { setting, value } = fact.resource
  const asked = value === null ? (fact.resource.asked === '' ? 'no limit' : fact.resource.asked) : formatResource(setting, value)
  return [`${setting} ${asked} (${fact.field}): ${decide(team.containers.refs[`resources.${setting}`].text)}`]
}

function groupsOf (rules: ReadonlyArray<RuleRef | null>): GroupExplanation[] {
  const out: GroupExplanation[] = []
  for (const rule of rules) {
    if (rule?.group === undefined || out.some((g) => g.group === rule.group && g.line === rule.line)) continue
    out.push({ group: rule.group, line: rule.line, rules: findGroup(rule.group)?.rules ?? [] })
  }
  return out
}
