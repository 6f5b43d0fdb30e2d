/**
 * A team's `containers:` rules: compiled once at load, then checked against
 * the host facts of a request (body/facts.ts).
 *
 * Safe by default: a team that says nothing gets every restriction (no
 * privileged containers, no host namespaces, no added capabilities, no
 * devices, no unconfined security profiles, no bind mounts). Only
 * `containers: unrestricted` lifts them all; each setting lifts one.
 */
import { Type } from '@sinclair/typebox'
import type { Diagnostic } from '../shared/diagnostics.js'
import { checkSchema, closeMatch } from '../shared/schema-check.js'
import type { Locator, ValuePath } from '../shared/yaml-source.js'
import { ALL_CAPABILITIES, CAPABILITIES, normalizeCapability } from './body/capabilities.js'
import type { ContainerRuleKey, HostFact } from './body/facts.js'
import { compilePathGlob, pathGlobMatches, type PathGlob } from './body/host-paths.js'
import type { RuleRef } from './types.js'

/** The settings of `containers:` in the order they are checked and documented. */
export const CONTAINER_SETTINGS = ['privileged', 'hostNamespaces', 'capAdd', 'devices', 'unconfined', 'bindMounts'] as const

/** Compiled `containers:` rules of one team. `refs` says where each setting is written (or defaulted). */
export interface ContainerRules {
  readonly unrestricted: boolean
  readonly privileged: boolean
  readonly hostNamespaces: boolean
  readonly devices: boolean
  readonly unconfined: boolean
  /** Normalised capability names (no `CAP_`), possibly `ALL`. */
  readonly capAdd: readonly string[]
  readonly bindMounts: readonly PathGlob[]
  readonly refs: Readonly<Record<ContainerRuleKey, RuleRef>>
}

/** A fact a team's rules do not allow, with the setting that refused it. */
export interface ContainerViolation {
  readonly fact: HostFact
  readonly ref: RuleRef
  /** Completes the refusal message, e.g. ` (allowed: /srv/ci/**)`; may be ''. */
  readonly hint: string
}

const flag = (what: string): ReturnType<typeof Type.Boolean> => Type.Optional(Type.Boolean({ description: `true or false (${what})` }))

/** The mapping form of `containers:`; closed, so a misspelt setting is an error rather than a silent default. */
export const ContainersSchema = Type.Object({
  privileged: flag('may create privileged containers'),
  hostNamespaces: flag('may use host namespaces'),
  capAdd: Type.Optional(Type.Array(Type.String({ description: 'a capability name like NET_ADMIN' }), { description: 'a list of capabilities like [NET_ADMIN]' })),
  devices: flag('may give containers host devices'),
  unconfined: flag('may disable seccomp, AppArmor, SELinux or masked paths'),
  bindMounts: Type.Optional(Type.Array(Type.String({ description: 'a host path glob like /srv/ci/**' }), { description: 'a list of host path globs like ["/srv/ci/**"]' }))
}, { additionalProperties: false, description: 'unrestricted, or a mapping with privileged, hostNamespaces, capAdd, devices, unconfined and bindMounts' })

// checkSchema reports paths from the root it is given; wrapping the value in
// its real place makes messages and positions name teams.T.containers.KEY.
const ContainersInPlace = Type.Object({ teams: Type.Record(Type.String(), Type.Object({ containers: ContainersSchema })) })

/**
 * Compiles `value` (the team's `containers:` value, undefined when absent).
 * Problems are appended to `problems`; the result is usable (safe defaults)
 * even when some were found.
 */
export function compileContainerRules (team: string, value: unknown, source: Locator, problems: Diagnostic[]): ContainerRules {
  const path: ValuePath = ['teams', team, 'containers']
  const report = (at: ValuePath, message: string): void => {
    const { line, col } = source.valueAt(at)
    problems.push({ file: source.file, line, col, code: 'DG_BAD_VALUE', message })
  }
  // A setting is reported where it is written; a default at `containers:`,
  // or at the team's name when the team has no `containers:` at all.
  const refOf = (key: ContainerRuleKey, text: string): RuleRef => {
    const written = key !== 'unrestricted' && isRecord(value) && Object.hasOwn(value, key)
    const at: ValuePath = written ? [...path, key] : value === undefined ? ['teams', team] : path
    const { line, col } = source.keyAt(at)
    return { file: source.file, line, col, text, team, effect: 'deny' }
  }
  if (value === 'unrestricted') return build(true, {}, team, refOf, [], [])
  if (typeof value === 'string' || (value !== undefined && !isRecord(value))) {
    report(path, `containers must be unrestricted or a mapping of settings (${CONTAINER_SETTINGS.join(', ')}), got ${JSON.stringify(value)}`)
    return build(false, {}, team, refOf, [], [])
  }
  const settings = value ?? {}
  problems.push(...checkSchema(ContainersInPlace, { teams: { [team]: { containers: settings } } }, source))
  const capAdd = compileCapabilities(settings.capAdd, [...path, 'capAdd'], report)
  const bindMounts = compileBindMounts(settings.bindMounts, [...path, 'bindMounts'], report)
  return build(false, settings, team, refOf, capAdd, bindMounts)
}

function build (
  unrestricted: boolean, settings: Record<string, unknown>, team: string,
  refOf: (key: ContainerRuleKey, text: string) => RuleRef, capAdd: string[], bindMounts: PathGlob[]
): ContainerRules {
  const bool = (key: string): boolean => unrestricted || settings[key] === true
  const describe = (key: string, shown: string): string => `containers.${key}: ${shown}${key in settings ? '' : ' (default)'}`
  const list = (items: readonly string[]): string => `[${items.join(', ')}]`
  const refs: Record<ContainerRuleKey, RuleRef> = {
    privileged: refOf('privileged', describe('privileged', String(bool('privileged')))),
    hostNamespaces: refOf('hostNamespaces', describe('hostNamespaces', String(bool('hostNamespaces')))),
    capAdd: refOf('capAdd', describe('capAdd', list(capAdd))),
    devices: refOf('devices', describe('devices', String(bool('devices')))),
    unconfined: refOf('unconfined', describe('unconfined', String(bool('unconfined')))),
    bindMounts: refOf('bindMounts', describe('bindMounts', list(bindMounts.map((g) => g.text)))),
    unrestricted: refOf('unrestricted', `${team}: containers is not unrestricted`)
  }
  return {
    unrestricted,
    privileged: bool('privileged'),
    hostNamespaces: bool('hostNamespaces'),
    devices: bool('devices'),
    unconfined: bool('unconfined'),
    capAdd,
    bindMounts,
    refs
  }
}

function compileCapabilities (raw: unknown, path: ValuePath, report: (at: ValuePath, message: string) => void): string[] {
  if (!Array.isArray(raw)) return []
  const out: string[] = []
  raw.forEach((item: unknown, i) => {
    if (typeof item !== 'string') return
    const name = normalizeCapability(item)
    if (name === ALL_CAPABILITIES || CAPABILITIES.has(name)) {
      out.push(name)
      return
    }
    const suggestion = closeMatch(name, [...CAPABILITIES])
    report([...path, i], `unknown capability '${item}'${suggestion === null ? '' : ` (did you mean '${suggestion}'?)`}; names are like NET_ADMIN or CAP_NET_ADMIN, or ALL`)
  })
  return out
}

function compileBindMounts (raw: unknown, path: ValuePath, report: (at: ValuePath, message: string) => void): PathGlob[] {
  if (!Array.isArray(raw)) return []
  const out: PathGlob[] = []
  raw.forEach((item: unknown, i) => {
    if (typeof item !== 'string') return
    const glob = compilePathGlob(item)
    if (typeof glob === 'string') report([...path, i], glob)
    else out.push(glob)
  })
  return out
}

/** The first fact `rules` do not allow, or null when all are allowed. Pure and cheap. */
export function firstViolation (rules: ContainerRules, facts: readonly HostFact[]): ContainerViolation | null {
  if (rules.unrestricted) return null
  for (const fact of facts) {
    if (!allows(rules, fact)) return { fact, ref: rules.refs[fact.rule], hint: hintFor(rules, fact) }
  }
  return null
}

function allows (rules: ContainerRules, fact: HostFact): boolean {
  switch (fact.rule) {
    case 'privileged': return rules.privileged
    case 'hostNamespaces': return rules.hostNamespaces
    case 'devices': return rules.devices
    case 'unconfined': return rules.unconfined
    case 'unrestricted': return false
    case 'capAdd': return rules.capAdd.includes(ALL_CAPABILITIES) || rules.capAdd.includes(fact.capability)
    case 'bindMounts': return rules.bindMounts.some((glob) => pathGlobMatches(glob, fact.path))
  }
}

function hintFor (rules: ContainerRules, fact: HostFact): string {
  switch (fact.rule) {
    case 'capAdd':
      return rules.capAdd.length === 0 ? ' (containers.capAdd allows none)' : ` (allowed: ${rules.capAdd.join(', ')})`
    case 'bindMounts':
      return rules.bindMounts.length === 0 ? ' (containers.bindMounts allows no host path)' : ` (allowed: ${rules.bindMounts.map((g) => g.text).join(', ')})`
    case 'unrestricted':
      return ' (only containers: unrestricted allows it)'
    default:
      return ''
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
