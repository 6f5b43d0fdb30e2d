/**
 * Image allowlists and resource caps of a team (issue 10): the compiled
 * form of `containers: { images, requireDigest, resources }` and of the
 * team's `quota:`, and the pure checks the judge (and the gateway, for
 * images it resolves on the daemon) makes with them.
 *
 * Patterns are image references with globs, normalised like the names they
 * match (`alpine:3.*` is `docker.io/library/alpine:3.*`): `*` matches within
 * one path segment, `**` (a whole segment) any number of segments, at
 * least one. A pattern without tag or digest matches every tag and digest
 * of the repositories it covers; one with a tag matches only references
 * with such a tag and no digest (with a digest the daemon ignores the tag,
 * so the digest could be any image); one with a digest matches that digest.
 */
import { normalizeImageRef, type NormalizedRef } from '../shared/image-ref.js'
import { compileGlob, globMatches, type Glob } from './identity.js'

/** One compiled `images:` pattern. */
export interface ImagePattern {
  /** As written. */
  readonly text: string
  /** Normalised, e.g. `docker.io/library/alpine:3.*`; shown in refusals. */
  readonly normalized: string
  readonly repository: readonly (Glob | '**')[]
  readonly tag: Glob | null
  readonly digest: string | null
}

/** A team's image rules: `images` (null: any name) and `requireDigest`. */
export interface ImageRules {
  readonly patterns: readonly ImagePattern[] | null
  readonly requireDigest: boolean
}

/** A team's resource caps; null where the team sets none. Memory in bytes, cpus in nano-CPUs. */
export interface ResourceCaps {
  readonly memory: number | null
  readonly nanoCpus: number | null
  readonly pids: number | null
}

/** A team's `quota:` (the gateway enforces it); null members are unlimited. */
export interface Quota {
  readonly containers: number | null
  /** The sum of the memory limits of the team's containers, in bytes. */
  readonly memory: number | null
}

/** The resource settings, as named in policies and messages. */
export type ResourceSetting = 'memory' | 'cpus' | 'pids'

/** Compiles one pattern, or says why it is not one. */
export function compileImagePattern (text: string): ImagePattern | string {
  const bad = (why: string): string => `image pattern "${text}" ${why}`
  if (text === '') return bad('is empty')
  const at = text.indexOf('@')
  const digest = at === -1 ? null : text.slice(at + 1)
  const beforeDigest = at === -1 ? text : text.slice(0, at)
  const lastSlash = beforeDigest.lastIndexOf('/')
  const colon = beforeDigest.indexOf(':', lastSlash + 1)
  const tagText = colon === -1 ? null : beforeDigest.slice(colon + 1)
  const name = colon === -1 ? beforeDigest : beforeDigest.slice(0, colon)
  if (digest !== null && (digest.includes('*') || tagText !== null)) {
    return bad('must name one exact digest, without a tag or globs (write repository@sha256:HEX, or the repository alone for any digest)')
  }
  const parts = name.split('/')
  const first = parts[0] ?? ''
  if (parts.length > 1 && first.includes('*') && !/[.:]/.test(first)) {
    return bad('starts with a glob that is not clearly a registry host: write the registry out (docker.io/..., registry.example.com/..., *.example.com/...) so it is clear which registry it means')
  }
  for (const part of parts) {
    if (part.includes('**') && part !== '**') return bad("has '**' inside a path segment; '**' must be a whole segment")
  }
  if (tagText?.includes('**') === true) return bad("has '**' in its tag; a tag has no segments, use '*'")
  // Validate the shape by normalising the pattern with each glob replaced by a plain name character.
  const probe = `${name.replace(/\*+/g, 'x')}${tagText === null ? '' : `:${tagText.replace(/\*+/g, 'x')}`}${digest === null ? '' : `@${digest}`}`
  const ref = normalizeImageRef(probe)
  if (ref.kind === 'id') return bad('is an image id, not a name: allow the image by its name or digest')
  if (ref.kind === 'invalid') return bad('is not an image reference (lowercase path segments like registry.example.com/team/app, an optional :tag or @sha256:digest)')
  const full = normalizeRepository(name)
  const normalized = `${full}${tagText === null ? '' : `:${tagText}`}${digest === null ? '' : `@${digest}`}`
  return Object.freeze({
    text,
    normalized,
    repository: Object.freeze(full.split('/').map((part) => part === '**' ? '**' : compileGlob(part))),
    tag: tagText === null ? null : compileGlob(tagText),
    digest
  })
}

/** A normalised name to match: `allTags` is a pull without tag or digest, which fetches every tag. */
export interface ImageName {
  readonly repository: string
  readonly tag: string | null
  readonly digest: string | null
  readonly allTags?: boolean
}

/** True iff `pattern` covers `name`. */
export function patternMatches (pattern: ImagePattern, name: ImageName): boolean {
  if (!segmentsMatch(pattern.repository, name.repository.split('/'))) return false
  if (pattern.digest !== null) return name.digest === pattern.digest
  if (pattern.tag === null) return true
  if (name.allTags === true) return pattern.tag.text.replace(/\*+/g, '*') === '*'
  return name.digest === null && name.tag !== null && globMatches(pattern.tag, name.tag)
}

/**
 * Whether `rules` allow a name by name alone: some pattern covers it (or
 * there are none), and, with requireDigest, it has a digest.
 * `digestNeeded` is false for names that are written, not used (a tag's new
 * name, a commit), which cannot be digests.
 */
export function nameAllowed (rules: ImageRules, name: ImageName, digestNeeded = true): boolean {
  if (digestNeeded && rules.requireDigest && name.digest === null) return false
  return rules.patterns === null || rules.patterns.some((pattern) => patternMatches(pattern, name))
}

/**
 * For an image the gateway resolved on the daemon: allowed iff one of its
 * own references (RepoTags and RepoDigests, as the daemon lists them, e.g.
 * `busybox:latest`, `busybox@sha256:...`) is allowed. An image with none
 * (dangling, loaded or built untagged) is allowed only to a team without
 * image rules.
 */
export function imageAllowed (rules: ImageRules, references: readonly string[]): boolean {
  if (rules.patterns === null && !rules.requireDigest) return true
  return references.some((text) => {
    const ref = normalizeImageRef(text)
    return ref.kind === 'named' && nameAllowed(rules, ref)
  })
}

/** True iff `rules` restrict images at all. */
export function restrictsImages (rules: ImageRules): boolean {
  return rules.patterns !== null || rules.requireDigest
}

/** What a refusal lists as allowed, e.g. ` (allowed: registry.example.com/ci/**, digests only)`. */
export function allowedHint (rules: ImageRules): string {
  const parts: string[] = []
  if (rules.patterns !== null) parts.push(rules.patterns.length === 0 ? 'no image' : rules.patterns.map((p) => p.normalized).join(', '))
  if (rules.requireDigest) parts.push('name@sha256:... references only (requireDigest)')
  return ` (allowed: ${parts.join('; ')})`
}

/** A parsed reference that needs the daemon to say which image it is: an id, or a name the daemon may take as an id prefix. */
export function needsResolution (ref: NormalizedRef): boolean {
  return ref.kind === 'id' || (ref.kind === 'named' && ref.maybeId)
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }

/**
 * go-units RAMInBytes, as `docker run -m` parses it: a decimal number, an
 * optional space, an optional unit (b, k, m, g, t, p in any case, binary
 * multiples) optionally followed by `i` and/or `b`. A YAML number is bytes.
 */
export function parseMemory (value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value > 0 ? value : null
  if (typeof value !== 'string') return null
  const match = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(value)
  if (match === null) return null
  const number = Number.parseFloat(match[1] ?? '')
  const bytes = Math.trunc(number * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1))
  return Number.isFinite(bytes) && bytes > 0 && Number.isSafeInteger(bytes) ? bytes : null
}

/** `--cpus` (opts.NanoCPUs): a positive decimal with at most 9 decimal places, in nano-CPUs. */
export function parseCpus (value: unknown): number | null {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : null
  if (text === null) return null
  const match = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text)
  if (match === null) return null
  const nano = Number(match[1]) * 1e9 + Number((match[2] ?? '').padEnd(9, '0'))
  return Number.isSafeInteger(nano) && nano > 0 ? nano : null
}

/** A positive integer (pids, quota counts). */
export function parsePositiveInteger (value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : null
}

/** Bytes as the policy would write them: `2g`, `512m`, `1536k`, else bytes. */
export function formatMemory (bytes: number): string {
  for (const [unit, size] of [['p', 1024 ** 5], ['t', 1024 ** 4], ['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return `${bytes}b`
}

/** Nano-CPUs as `--cpus` would write them: `2`, `1.5`. */
export function formatCpus (nano: number): string {
  return String(nano / 1e9)
}

/** A cap or an asked value of `setting`, in the policy's own units. */
export function formatResource (setting: ResourceSetting, value: number): string {
  return setting === 'memory' ? formatMemory(value) : setting === 'cpus' ? formatCpus(value) : String(value)
}

/** distribution/reference's splitDockerDomain on a (glob) name: the default domain and `library/` added, `index.docker.io` read as `docker.io`. */
function normalizeRepository (name: string): string {
  const slash = name.indexOf('/')
  const first = slash === -1 ? '' : name.slice(0, slash)
  const hasDomain = slash !== -1 && (/[.:]/.test(first) || first === 'localhost')
  const domain = !hasDomain || first === 'index.docker.io' ? 'docker.io' : first
  const rest = hasDomain ? name.slice(slash + 1) : name
  return domain === 'docker.io' && !rest.includes('/') ? `${domain}/library/${rest}` : `${domain}/${rest}`
}

function segmentsMatch (glob: readonly (Glob | '**')[], parts: readonly string[]): boolean {
  const memo = new Map<number, boolean>()
  const go = (g: number, p: number): boolean => {
    const key = g * (parts.length + 1) + p
    const known = memo.get(key)
    if (known !== undefined) return known
    const segment = glob[g]
    let result: boolean
    if (segment === undefined) result = p === parts.length
    else if (segment === '**') result = p < parts.length && (go(g + 1, p + 1) || go(g, p + 1))
    else result = p < parts.length && globMatches(segment, parts[p] ?? '') && go(g + 1, p + 1)
    memo.set(key, result)
    return result
  }
  return go(0, 0)
}
