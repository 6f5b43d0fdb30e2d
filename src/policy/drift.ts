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
import { checkFacts, compileContainerRules, type ContainerRules } from './containers.js'
import { imageAllowed } from './images.js'
import { quotaRefusal } from './quota.js'
import { fixedLocator } from '../shared/yaml-source.js'
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
 * create body no `containers:` rule reads). An object no team owns
 * (`teamName` null) is judged against the defaults every team starts from
 * (no privileged containers, host namespaces, added capabilities, devices,
 * unconfined profiles or bind mounts): what no team may do without saying so.
 */
export function judgeExisting (policy: Policy, teamName: string | null, kind: DriftKind, body: Uint8Array): DriftJudgement {
  const team = teamName === null ? null : policy.compiledTeams.find((t) => t.name === teamName)
  if (team === undefined) {
    return { drifts: [{ code: 'DG_DENIED', rule: null, message: `its owner team ${teamName ?? ''} is not in the policy (teams: ${policy.teams.join(', ') || 'none'})` }], unresolved: [] }
  }
  const drifts: Drift[] = []
  const pathDrift = team === null ? null : createDenied(team, CREATES[kind].path)
  if (pathDrift !== null) drifts.push(pathDrift)
  if (kind === 'network') return { drifts, unresolved: [] }
  const rules = team?.containers ?? defaultRules(policy)
  const who = team?.name ?? 'a team without containers: settings'
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
    const check = checkFacts(rules, [fact], who)
    for (const ref of check.unresolved) if (!unresolved.includes(ref)) unresolved.push(ref)
    const v = check.violation
    if (v === null) continue
    const message = v.message ?? `${who} may not ${v.fact.phrase}${v.hint}`
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

/** A container as the quota counts it: when it was made, and its memory limit in bytes (0: none). */
export interface QuotaEntry { readonly id: string; readonly created: number; readonly memory: number }

/**
 * The containers of `teamName` (all of them, any state) that its quota
 * would refuse today: counted oldest first, as the gateway counted them
 * when each was created, so the containers past the quota are the newest
 * ones. Keyed by container id.
 */
export function quotaDrifts (policy: Policy, teamName: string, containers: readonly QuotaEntry[]): Map<string, Drift> {
  const found = new Map<string, Drift>()
  const team = policy.compiledTeams.find((t) => t.name === teamName)
  if (team?.quota === undefined || team.quota === null) return found
  const used = { containers: 0, memory: 0 }
  for (const c of [...containers].sort((a, b) => a.created - b.created)) {
    const refused = quotaRefusal(team.name, team.quota, used, { containers: 1, memory: c.memory > 0 ? c.memory : null })
    if (refused !== null) found.set(c.id, { code: refused.code, rule: null, message: refused.message.replace(/^dockgate: /, '') })
    used.containers += 1
    used.memory += c.memory
  }
  return found
}

// What a team that says nothing about containers gets; compiled per call (cheap), so nothing here holds state.
function defaultRules (policy: Policy): ContainerRules {
  return compileContainerRules('(defaults)', undefined, fixedLocator(policy.file), [])
}

// The team's method and path rules, as the gateway applies them: a deny beats an allow; nothing allows by default.
function createDenied (team: CompiledTeam, segments: readonly string[]): Drift | null {
  const bit = methodBit('POST')
  const deny = team.deny.find((rule) => ruleMatches(rule, bit, segments))
  const allow = team.allow.find((rule) => ruleMatches(rule, bit, segments))
  if (deny === undefined && allow !== undefined) return null
  return { code: 'DG_DENIED', rule: deny?.ref ?? null, message: `${team.name} may not POST /${segments.join('/')} any more${deny === undefined ? ' (no rule allows it)' : ''}` }
}
