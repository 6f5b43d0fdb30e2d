/**
 * Drift: would today's policy refuse an object that already exists, for
 * the team that owns it? (`dockgate scan`.) Pure: the caller reads the
 * object from the daemon and maps its inspect data back to the create body
 * that would make it; this module judges that body exactly as the gateway
 * judges a create (the same endpoint readers and `containers:` checks), and
 * whether the team may create such an object at all (its method and path
 * rules).
 *
 * Invariants: every violated setting is reported, not only the first (an
 * auditor wants the whole list); image references only the daemon can
 * resolve (ids, id prefixes) are handed back, never guessed; an owner team
 * the policy no longer has is a finding, never a pass.
 */
import { findJudgedEndpoint } from './body/endpoints.js'
import type { HostFact } from './body/facts.js'
import { FieldFault } from './body/fields.js'
import { parseJson } from './body/json.js'
import type { CompiledTeam, Policy } from './compiled.js'
import { checkFacts } from './containers.js'
import { imageAllowed } from './images.js'
import { methodBit, ruleMatches } from './rules.js'
import type { RuleRef } from './types.js'

/** One way an object breaks the policy for its owner team. */
export interface Drift {
  /** The error code the gateway would refuse its create with. */
  readonly code: string
  readonly message: string
  /** The deciding rule or setting, or null (default deny, unknown team, unreadable body). */
  readonly rule: RuleRef | null
}

/** What judging one object found; `unresolved` are image references to inspect on the daemon and pass to {@link imageDrift}. */
export interface DriftJudgement {
  readonly drifts: readonly Drift[]
  readonly unresolved: readonly string[]
}

/** The kinds of object a scan judges, and the create request that makes each. */
const CREATES = {
  container: { path: ['containers', 'create'] },
  volume: { path: ['volumes', 'create'] },
  network: { path: ['networks', 'create'] }
} as const

/** The object kinds a scan judges. */
export type DriftKind = keyof typeof CREATES

/**
 * Judges an existing object of `kind` owned by `teamName`: `body` is the
 * create body that would make it (JSON bytes; ignored for networks, whose
 * create body no `containers:` rule reads).
 */
export function judgeExisting (policy: Policy, teamName: string, kind: DriftKind, body: Uint8Array): DriftJudgement {
  const team = policy.compiledTeams.find((t) => t.name === teamName)
  if (team === undefined) {
    return { drifts: [{ code: 'DG_DENIED', rule: null, message: `its owner team ${teamName} is not in the policy (teams: ${policy.teams.join(', ') || 'none'})` }], unresolved: [] }
  }
  const drifts: Drift[] = []
  const pathDrift = createDenied(team, CREATES[kind].path)
  if (pathDrift !== null) drifts.push(pathDrift)
  if (kind === 'network') return { drifts, unresolved: [] }
  const endpoint = findJudgedEndpoint('POST', CREATES[kind].path)
  let facts: HostFact[] = []
  try {
    const parsed = parseJson(body)
    if (!parsed.ok) throw new FieldFault(parsed.fault)
    if (endpoint?.reads === 'body') facts = endpoint.fromBody(parsed.value)
  } catch (err) {
    if (!(err instanceof FieldFault)) throw err
    return { drifts: [...drifts, { code: 'DG_BODY_INVALID', rule: null, message: `its settings cannot be judged: ${err.fault.message}` }], unresolved: [] }
  }
  const unresolved: string[] = []
  for (const fact of facts) {
    const check = checkFacts(team.containers, [fact], team.name)
    for (const ref of check.unresolved) if (!unresolved.includes(ref)) unresolved.push(ref)
    const v = check.violation
    if (v === null) continue
    const message = v.message ?? `${team.name} may not ${v.fact.phrase}${v.hint}`
    if (!drifts.some((d) => d.message === message)) drifts.push({ code: v.code ?? 'DG_BODY_DENIED', rule: v.ref, message })
  }
  return { drifts, unresolved }
}

/**
 * The drift for an image reference `text` the daemon resolved to the image
 * whose RepoTags and RepoDigests are `references` (null: it has no such
 * image any more), or null when the team's image rules allow it.
 */
export function imageDrift (policy: Policy, teamName: string, text: string, references: readonly string[] | null): Drift | null {
  const team = policy.compiledTeams.find((t) => t.name === teamName)
  if (team === undefined || team.containers.unrestricted) return null
  const rules = team.containers.images
  if (rules.patterns === null && !rules.requireDigest) return null
  if (references !== null && imageAllowed(rules, references)) return null
  const what = references === null ? 'the daemon no longer has that image, so it cannot be judged' : references.length === 0 ? 'the image has no name or digest' : `the image is ${references.join(', ')}`
  const ref = rules.patterns !== null ? team.containers.refs.images : team.containers.refs.requireDigest
  return { code: 'DG_IMAGE_DENIED', rule: ref, message: `${team.name} may not use image ${text}: ${what}` }
}

// The team's method and path rules, as the gateway applies them: a deny beats an allow; nothing allows by default.
function createDenied (team: CompiledTeam, segments: readonly string[]): Drift | null {
  const bit = methodBit('POST')
  const deny = team.deny.find((rule) => ruleMatches(rule, bit, segments))
  const allow = team.allow.find((rule) => ruleMatches(rule, bit, segments))
  if (deny === undefined && allow !== undefined) return null
  return { code: 'DG_DENIED', rule: deny?.ref ?? null, message: `${team.name} may not POST /${segments.join('/')} any more${deny === undefined ? ' (no rule allows it)' : ''}` }
}
