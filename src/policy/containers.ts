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
import {
  allowedHint, compileImagePattern, formatResource, nameAllowed, needsResolution, parseCpus, parseMemory, parsePositiveInteger,
  restrictsImages, type ImagePattern, type ImageRules, type ResourceCaps, type ResourceSetting
} from './images.js'
import type { RuleRef } from './types.js'

/** The settings of `containers:` in the order they are checked and documented. */
export const CONTAINER_SETTINGS = ['privileged', 'hostNamespaces', 'capAdd', 'devices', 'unconfined', 'bindMounts', 'images', 'requireDigest', 'resources'] as const

/** The keys of `containers.resources`. */
export const RESOURCE_SETTINGS = ['memory', 'cpus', 'pids'] as const satisfies readonly ResourceSetting[]

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
  /** `images` (null when absent: any name) and `requireDigest`. */
  readonly images: ImageRules
  /** `resources`: each cap, or null when the team sets none. */
  readonly resources: ResourceCaps
  readonly refs: Readonly<Record<ContainerRuleKey, RuleRef>>
}

/** A fact a team's rules do not allow, with the setting that refused it. */
export interface ContainerViolation {
  readonly fact: HostFact
  readonly ref: RuleRef
  /** Completes the refusal message, e.g. ` (allowed: /srv/ci/**)`; may be ''. */
  readonly hint: string
  /** The whole refusal message when `TEAM may not PHRASE HINT` does not fit (a missing resource limit). */
  readonly message?: string
  /** The refusal code when not DG_BODY_DENIED. */
  readonly code?: 'DG_IMAGE_DENIED'
}

/** The outcome of checking all of a request's facts against one team's rules. */
export interface ContainerCheck {
  readonly violation: ContainerViolation | null
  /** Image references (as written) allowed only if the image the daemon resolves them to is: ids and possible id prefixes. */
  readonly unresolved: readonly string[]
}

const flag = (what: string): ReturnType<typeof Type.Boolean> => Type.Optional(Type.Boolean({ description: `true or false (${what})` }))

/** The mapping form of `containers:`; closed, so a misspelt setting is an error rather than a silent default. */
export const ContainersSchema = Type.Object({
  privileged: flag('may create privileged containers'),
  hostNamespaces: flag('may use host namespaces'),
  capAdd: Type.Optional(Type.Array(Type.String({ description: 'a capability name like NET_ADMIN' }), { description: 'a list of capabilities like [NET_ADMIN]' })),
  devices: flag('may give containers host devices'),
  unconfined: flag('may disable seccomp, AppArmor, SELinux or masked paths'),
  bindMounts: Type.Optional(Type.Array(Type.String({ description: 'a host path glob like /srv/ci/**' }), { description: 'a list of host path globs like ["/srv/ci/**"]' })),
  images: Type.Optional(Type.Array(Type.String({ description: 'an image pattern like registry.example.com/ci/**' }), { description: 'a list of image patterns like ["registry.example.com/ci/**", "alpine:3.*"]' })),
  requireDigest: flag('only name@sha256:... image references'),
  resources: Type.Optional(Type.Object({
    memory: Type.Optional(Type.Unknown()),
    cpus: Type.Optional(Type.Unknown()),
    pids: Type.Optional(Type.Unknown())
  }, { additionalProperties: false, description: 'a mapping with memory, cpus and pids, like { memory: 2g, cpus: 2, pids: 1024 }' }))
}, { additionalProperties: false, description: 'unrestricted, or a mapping with privileged, hostNamespaces, capAdd, devices, unconfined, bindMounts, images, requireDigest and resources' })

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
    const keyPath = key.split('.')
    const written = key !== 'unrestricted' && isWritten(value, keyPath)
    const at: ValuePath = written ? [...path, ...keyPath] : value === undefined ? ['teams', team] : path
    const { line, col } = source.keyAt(at)
    return { file: source.file, line, col, text, team, effect: 'deny' }
  }
  const none: Compiled = { capAdd: [], bindMounts: [], images: null, resources: { memory: null, nanoCpus: null, pids: null } }
  if (value === 'unrestricted') return build(true, {}, team, refOf, none)
  if (typeof value === 'string' || (value !== undefined && !isRecord(value))) {
    report(path, `containers must be unrestricted or a mapping of settings (${CONTAINER_SETTINGS.join(', ')}), got ${JSON.stringify(value)}`)
    return build(false, {}, team, refOf, none)
  }
  const settings = value ?? {}
  problems.push(...checkSchema(ContainersInPlace, { teams: { [team]: { containers: settings } } }, source))
  const capAdd = compileCapabilities(settings.capAdd, [...path, 'capAdd'], report)
  const bindMounts = compileBindMounts(settings.bindMounts, [...path, 'bindMounts'], report)
  const images = compileImages(settings.images, [...path, 'images'], report)
  const resources = compileResources(settings.resources, [...path, 'resources'], report)
  return build(false, settings, team, refOf, { capAdd, bindMounts, images, resources })
}

interface Compiled {
  readonly capAdd: string[]
  readonly bindMounts: PathGlob[]
  readonly images: ImagePattern[] | null
  readonly resources: ResourceCaps
}

function build (
  unrestricted: boolean, settings: Record<string, unknown>, team: string,
  refOf: (key: ContainerRuleKey, text: string) => RuleRef, compiled: Compiled
): ContainerRules {
  const { capAdd, bindMounts, images, resources } = compiled
  const requireDigest = !unrestricted && settings.requireDigest === true
  const cap = (setting: ResourceSetting, value: number | null): string =>
    `containers.resources.${setting}: ${value === null ? 'no cap' : formatResource(setting, value)}`
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
    images: refOf('images', images === null ? 'containers.images: any image (not set)' : `containers.images: ${list(images.map((p) => p.text))}`),
    requireDigest: refOf('requireDigest', describe('requireDigest', String(requireDigest))),
    'resources.memory': refOf('resources.memory', cap('memory', resources.memory)),
    'resources.cpus': refOf('resources.cpus', cap('cpus', resources.nanoCpus)),
    'resources.pids': refOf('resources.pids', cap('pids', resources.pids)),
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
    images: { patterns: images, requireDigest },
    resources,
    refs
  }
}

function compileImages (raw: unknown, path: ValuePath, report: (at: ValuePath, message: string) => void): ImagePattern[] | null {
  if (!Array.isArray(raw)) return null
  const out: ImagePattern[] = []
  raw.forEach((item: unknown, i) => {
    if (typeof item !== 'string') return
    const pattern = compileImagePattern(item)
    if (typeof pattern === 'string') report([...path, i], `${pattern}; patterns are like registry.example.com/ci/**, docker.io/library/alpine:3.* or alpine`)
    else out.push(pattern)
  })
  return out
}

const RESOURCE_FORMS: Record<ResourceSetting, string> = {
  memory: 'a size like 512m or 2g (b, k, m, g, t, p: binary multiples, as docker run -m) or a number of bytes',
  cpus: 'a positive number of CPUs like 2 or 1.5 (as docker run --cpus, at most 9 decimal places)',
  pids: 'a positive whole number like 1024'
}

function compileResources (raw: unknown, path: ValuePath, report: (at: ValuePath, message: string) => void): ResourceCaps {
  const read = (setting: ResourceSetting, parse: (value: unknown) => number | null): number | null => {
    if (!isRecord(raw) || !Object.hasOwn(raw, setting)) return null
    const parsed = parse(raw[setting])
    if (parsed === null) report([...path, setting], `resources.${setting} must be ${RESOURCE_FORMS[setting]}, got ${JSON.stringify(raw[setting])}`)
    return parsed
  }
  return { memory: read('memory', parseMemory), nanoCpus: read('cpus', parseCpus), pids: read('pids', parsePositiveInteger) }
}

function isWritten (value: unknown, keyPath: readonly string[]): boolean {
  let at = value
  for (const key of keyPath) {
    if (!isRecord(at) || !Object.hasOwn(at, key)) return false
    at = at[key]
  }
  return true
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
  return checkFacts(rules, facts).violation
}

/**
 * Checks every fact: the first violation, else the image references that
 * are allowed only once the daemon says which image they name.
 */
export function checkFacts (rules: ContainerRules, facts: readonly HostFact[], team = ''): ContainerCheck {
  if (rules.unrestricted) return { violation: null, unresolved: [] }
  const unresolved: string[] = []
  for (const fact of facts) {
    if (fact.rule === 'images') {
      const decision = judgeImage(rules, fact.image)
      if (decision === 'resolve') {
        if (!unresolved.includes(fact.image.text)) unresolved.push(fact.image.text)
        continue
      }
      if (decision !== null) return { violation: { fact, ref: rules.refs[decision], hint: '', message: imageMessage(rules, fact.image, team), code: 'DG_IMAGE_DENIED' }, unresolved: [] }
      continue
    }
    if (fact.rule === 'resources') {
      const message = judgeResource(rules.resources, fact.resource, team)
      if (message !== null) return { violation: { fact, ref: rules.refs[`resources.${fact.resource.setting}`], hint: '', message }, unresolved: [] }
      continue
    }
    if (!allows(rules, fact)) return { violation: { fact, ref: rules.refs[fact.rule], hint: hintFor(rules, fact) }, unresolved: [] }
  }
  return { violation: null, unresolved }
}

/** null: allowed; `resolve`: allowed iff the image the daemon resolves it to is; else the setting that refuses it. */
function judgeImage (rules: ContainerRules, image: HostFactImage): 'images' | 'requireDigest' | 'resolve' | null {
  const images = rules.images
  if (!restrictsImages(images)) return null
  const ref = image.ref
  if (ref === null) return images.patterns !== null ? 'images' : null
  const resolvable = image.use === 'run' || image.use === 'source' || (image.use === 'service' && ref.kind === 'id')
  if (resolvable && needsResolution(ref)) return 'resolve'
  if (ref.kind !== 'named') return images.patterns !== null ? 'images' : 'requireDigest'
  if (image.use === 'service' && ref.maybeId) return images.patterns !== null ? 'images' : 'requireDigest'
  const name = { repository: ref.repository, tag: ref.tag, digest: ref.digest, allTags: image.allTags }
  if (nameAllowed(images, name, image.use !== 'name')) return null
  return images.requireDigest && image.use !== 'name' && ref.digest === null && nameAllowed(images, name, false) ? 'requireDigest' : 'images'
}

type HostFactImage = Extract<HostFact, { rule: 'images' }>['image']

/** The refusal for an image `rules` do not allow. */
export function imageMessage (rules: ContainerRules, image: HostFactImage, team: string): string {
  const hint = allowedHint(rules.images)
  if (image.ref === null) return `${team} may not ${image.why}${hint}`
  if (image.ref.kind === 'invalid') return `${team} may not use image ${JSON.stringify(image.text)}: it is not a valid image reference${hint}`
  if (image.use === 'service' && image.ref.kind === 'named' && image.ref.maybeId) {
    return `${team} may not use image ${image.text} for a service: it may be a short image id, which each node resolves on its own; use a full id or a name${hint}`
  }
  const shown = image.ref.kind === 'id' ? image.ref.id : image.allTags ? `${image.ref.repository} (every tag)` : image.ref.reference
  const verb = image.use === 'pull' ? 'pull image' : image.use === 'name' ? 'name an image' : image.use === 'source' ? 'tag image' : 'use image'
  return `${team} may not ${verb} ${shown}${hint}`
}

/** null when `resource` is within the team's cap (or it has none), else the refusal. */
function judgeResource (caps: ResourceCaps, resource: HostFactResource, team: string): string | null {
  const setting = resource.setting
  const cap = setting === 'memory' ? caps.memory : setting === 'cpus' ? caps.nanoCpus : caps.pids
  if (cap === null) return null
  const shownCap = formatResource(setting, cap)
  if (resource.unknown !== undefined) return `${team} may not ${resource.unknown} (resources.${setting}: at most ${shownCap})`
  if (resource.value === null) {
    return resource.asked === '' ? `${team} must set a ${setting} limit (resources.${setting}: ${shownCap})` : `${team} may not remove the ${setting} limit (${resource.asked}) (resources.${setting}: at most ${shownCap})`
  }
  if (resource.value > cap) return `${team} may not set ${setting} ${formatResource(setting, resource.value)} (resources.${setting}: at most ${shownCap})`
  return null
}

type HostFactResource = Extract<HostFact, { rule: 'resources' }>['resource']

function allows (rules: ContainerRules, fact: Exclude<HostFact, { rule: 'images' | 'resources' }>): boolean {
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

function hintFor (rules: ContainerRules, fact: Exclude<HostFact, { rule: 'images' | 'resources' }>): string {
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
