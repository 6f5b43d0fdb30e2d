/**
 * Image references read the way dockerd 20.10 reads them
 * (distribution/reference ParseAnyReference and ParseNormalizedNamed), so
 * the owner index resolves an image name exactly as the daemon would and
 * says "No such image" in the daemon's words, and the policy's image
 * allowlists judge the reference the daemon will use. Pure: shared by
 * src/ownership and src/policy.
 *
 * - 64 hex digits, or a digest (`sha256:` + 64 hex digits): an image id,
 *   looked up by id only.
 * - Otherwise a name `[domain/]path[:tag][@digest]`, normalised: no domain
 *   (or `index.docker.io`) is `docker.io`, a one-part path on docker.io gets
 *   `library/`; a repository with capitals is invalid (the daemon answers
 *   400 before looking anything up).
 * - The daemon looks a name up in its tags and digests (a bare name means
 *   `:latest`; with both a tag and a digest, the digest), and only then
 *   treats the text as an id prefix (`fbaa`, `sha256:fbaa`); an ambiguous
 *   prefix is "No such image".
 */

/** A parsed reference: an id, a name, or text the daemon refuses as a reference. */
export type ImageRef =
  | { readonly kind: 'id'; readonly id: string }
  | {
    readonly kind: 'named'
    /** The normalised key the daemon's reference store is searched with, e.g. `docker.io/library/busybox:latest`. */
    readonly key: string
    /** The normalised repository, e.g. `docker.io/library/busybox`. */
    readonly repository: string
    /** The familiar form with its tag, as error messages show it: `busybox:latest`. */
    readonly familiar: string
    /** The id prefix the daemon tries when the name is not found: `{ alg, hex }`, or null when none can match. */
    readonly prefix: { readonly alg: string; readonly hex: string } | null
  }
  /** Not a reference to the parser here: the owner index asks the daemon (which normally answers 400 without looking anything up). */
  | { readonly kind: 'invalid' }

const HEX64 = /^[a-f0-9]{64}$/
/** The digests go-digest accepts (an available algorithm and its exact length). */
const ANY_DIGEST = /^(?:sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/
const ALNUM = '[a-z0-9]+'
const SEPARATOR = '(?:[._]|__|[-]*)'
const NAME_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`
const TAG = '[\\w][\\w.-]{0,127}'
const DIGEST_TEXT = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${NAME_COMPONENT}(?:/${NAME_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST_TEXT}))?$`)

const DEFAULT_DOMAIN = 'docker.io'

/** Parses `text` as dockerd's image lookup does. */
export function parseImageRef (text: string): ImageRef {
  if (HEX64.test(text)) return { kind: 'id', id: `sha256:${text}` }
  if (ANY_DIGEST.test(text)) return { kind: 'id', id: text }
  const [domain, remainder] = splitDomain(text)
  const tagAt = remainder.indexOf(':')
  const remote = tagAt === -1 ? remainder : remainder.slice(0, tagAt)
  if (remote.toLowerCase() !== remote) return { kind: 'invalid' }
  const match = REFERENCE.exec(`${domain}/${remainder}`)
  if (match === null) return { kind: 'invalid' }
  const [, repository = '', tag, digest] = match
  if (repository.length > 255) return { kind: 'invalid' }
  if (digest !== undefined && !ANY_DIGEST.test(digest)) return { kind: 'invalid' }
  const suffix = digest !== undefined ? `@${digest}` : `:${tag ?? 'latest'}`
  const shown = `${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`
  return {
    kind: 'named',
    key: `${repository}${suffix}`,
    repository,
    familiar: `${familiarName(repository)}${shown === '' ? ':latest' : shown}`,
    prefix: idPrefix(text)
  }
}

/**
 * A reference in the docker CLI's fully normalised form, for allowlists:
 * an image id, or a name with its domain and path normalised, `:latest`
 * added when there is neither tag nor digest (reference.TagNameOnly), and
 * a tag and a digest both kept when both are written (the daemon then uses
 * the digest and ignores the tag).
 */
export type NormalizedRef =
  | { readonly kind: 'id'; readonly id: string }
  | {
    readonly kind: 'named'
    /** e.g. `docker.io/library/busybox:latest`, `host:5000/x@sha256:...`, `docker.io/library/a:1@sha256:...`. */
    readonly reference: string
    /** e.g. `docker.io/library/busybox`. */
    readonly repository: string
    /** The tag as written, or `latest` when neither tag nor digest is; null when only a digest is. */
    readonly tag: string | null
    readonly digest: string | null
    /**
     * True when the daemon, not finding the name, would use the text as an
     * image id prefix (`cafe`, `0123456789ab`, `sha256:fbaa`): which image
     * it names can only be known by asking the daemon.
     */
    readonly maybeId: boolean
  }
  | { readonly kind: 'invalid' }

/** Normalises `text` as the docker CLI and daemon do (see {@link NormalizedRef}). */
export function normalizeImageRef (text: string): NormalizedRef {
  const ref = parseImageRef(text)
  if (ref.kind !== 'named') return ref
  const at = text.lastIndexOf('@')
  const digest = at === -1 ? null : text.slice(at + 1)
  const beforeDigest = at === -1 ? text : text.slice(0, at)
  const lastSlash = beforeDigest.lastIndexOf('/')
  const colon = beforeDigest.indexOf(':', lastSlash + 1)
  const written = colon === -1 ? null : beforeDigest.slice(colon + 1)
  const tag = written ?? (digest === null ? 'latest' : null)
  const reference = `${ref.repository}${tag === null ? '' : `:${tag}`}${digest === null ? '' : `@${digest}`}`
  const prefix = ref.prefix
  const maybeId = prefix !== null && (prefix.alg === '' || prefix.alg === 'sha256') && /^[a-f0-9]+$/.test(prefix.hex)
  return { kind: 'named', reference, repository: ref.repository, tag, digest, maybeId }
}

/** True for text the daemon takes as an image id outright: 64 hex digits, or `sha256:` (or another digest algorithm) and its hex. */
export function isImageId (text: string): boolean {
  return parseImageRef(text).kind === 'id'
}

/** The key a RepoTags or RepoDigests entry (`busybox:latest`, `x@sha256:...`) is stored under, or null when it does not parse. */
export function imageKey (entry: string): string | null {
  const ref = parseImageRef(entry)
  return ref.kind === 'named' ? ref.key : null
}

/** The repository of a RepoTags entry, normalised (`busybox:latest` -> `docker.io/library/busybox`). */
export function imageRepository (entry: string): string | null {
  const ref = parseImageRef(entry)
  return ref.kind === 'named' ? ref.repository : null
}

/** A normalised repository in its familiar form: `docker.io/library/busybox` -> `busybox`. */
export function familiarName (repository: string): string {
  if (!repository.startsWith(`${DEFAULT_DOMAIN}/`)) return repository
  const path = repository.slice(DEFAULT_DOMAIN.length + 1)
  return path.startsWith('library/') && !path.slice('library/'.length).includes('/') ? path.slice('library/'.length) : path
}

/** distribution/reference splitDockerDomain. */
function splitDomain (name: string): [string, string] {
  const slash = name.indexOf('/')
  let domain: string
  let remainder: string
  const first = slash === -1 ? '' : name.slice(0, slash)
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost')) {
    domain = DEFAULT_DOMAIN
    remainder = name
  } else {
    domain = first
    remainder = name.slice(slash + 1)
  }
  if (domain === 'index.docker.io') domain = DEFAULT_DOMAIN
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = `library/${remainder}`
  return [domain, remainder]
}

/** What digestset.Lookup searches for: `ALG:HEX` with a short hex, or the whole text as a hex prefix. */
function idPrefix (text: string): { alg: string; hex: string } | null {
  const colon = text.indexOf(':')
  if (colon === -1) return text === '' ? null : { alg: '', hex: text }
  const alg = text.slice(0, colon)
  const hex = text.slice(colon + 1)
  return alg === 'sha256' && hex !== '' ? { alg, hex } : null
}
