/**
 * Team isolation for one request of an ownership team (docs/isolation.md):
 * what it names must be the team's own, what it creates gets the team's
 * label, and what it lists shows only the team's own. The pipeline asks
 * {@link isolate} after the policy allowed the request and forwards only
 * what it returns; a refusal for a hidden object is the daemon's own answer
 * for a missing one.
 *
 * The deciding logic is in src/ownership (routes, scoping, the owner
 * index) and src/policy (labels and references in bodies); this file
 * only puts it in order for one request.
 */
import type { Transform } from 'node:stream'
import { checkOwnerLabelBytes, containerCreateReferences, labelCreateBody, networkConnectReferences, readJsonBody, type BodyReference, type JsonValue, type OwnershipScope } from '../policy/index.js'
import { bodyMissingAnswer, labelQuery, responseFilter, routeObjects, scopeList, type NamedObject, type OwnerIndex } from '../ownership/index.js'
import type { BodyVerdict } from '../proxy/exchange.js'
import { refusal, type Refusal } from '../shared/errors.js'

/** The request as isolation reads it: canonical path segments (no API version) and the raw query. */
export interface IsolatedRequest {
  readonly method: string
  readonly segments: readonly string[]
  readonly query: string
  readonly contentTypes: readonly string[]
}

/** What to forward instead of the request as received; absent parts stay as they are. */
export interface IsolationPlan {
  /** The path segments with names and prefixes replaced by the full ids they resolved to (so nothing can redirect them in between). */
  readonly segments?: readonly string[]
  /** The query with the owner's filter or label added; never empty. */
  readonly query?: string
  /** Checks and labels the body; forces a body phase. */
  readonly body?: (body: Buffer) => BodyVerdict | Promise<BodyVerdict>
  /** Filters a 2xx answer (lists the daemon cannot filter, events). */
  readonly response?: () => Transform
  /** The query and response filter scope a list to the team's own (dropped in a dry run, where nothing is enforced). */
  readonly listing?: true
  /** Told the Id of a created container or exec instance, so the index knows it before the daemon's event arrives. */
  readonly created?: (id: string) => void
}

/** Forward (with the plan), or refuse: the refusal's `answer` is the daemon's own when an object is hidden. */
export type Isolation = { readonly kind: 'forward'; readonly plan: IsolationPlan } | { readonly kind: 'refuse'; readonly refusal: Refusal }

/** Ids may replace names in the path for these; an image name means more than its id (rmi of a tag, push). */
const PINNED = new Set(['container', 'exec', 'network'])

/** Isolates one request of `scope`; never rejects (a daemon that cannot be reached refuses with 502). */
export async function isolate (scope: OwnershipScope, index: OwnerIndex, request: IsolatedRequest): Promise<Isolation> {
  try {
    return await isolateOrThrow(scope, index, request)
  } catch (err) {
    return refuse(refusal('DG_UPSTREAM_UNAVAILABLE', `ownership of the objects this request names could not be checked on the daemon (${err instanceof Error ? err.message : String(err)})`))
  }
}

async function isolateOrThrow (scope: OwnershipScope, index: OwnerIndex, request: IsolatedRequest): Promise<Isolation> {
  const { method, segments, query, contentTypes } = request
  const routed = routeObjects(method, segments, query)
  if (!routed.ok) return refuse(routed.refusal)
  // What the request names must be the team's own: else it is missing.
  const pinned = [...segments]
  let namedOwner: string | null = null
  for (const named of routed.named) {
    const found = named.repository === true ? index.repositoryFor(scope, named.ref) : await index.resolveFor(scope, named.kind, named.ref)
    if (found.kind === 'missing') return refuse(hidden(named, scope))
    if (found.kind !== 'found') continue
    namedOwner ??= found.owner
    if (PINNED.has(named.kind) && 'segments' in named.at) pinned.splice(named.at.segments[0], 1 + named.at.segments[1] - named.at.segments[0], found.id)
  }
  // The names it gives must not be another team's.
  for (const claim of routed.claims) {
    const result = isPull(request) ? null : isTag(request) ? namedOwner : scope.owner
    if (await index.claimFor(scope, claim, result) === 'taken') {
      return refuse(refusal('DG_OWNER_CONFLICT', `the ${claim.kind} name ${claim.name} is held by another team's object; choose another name`))
    }
  }
  const listed = listQuery(scope, index, request)
  if ('refusal' in listed) return refuse(listed.refusal)
  const labelled = labelQuery(method, segments, query, contentTypes, scope.owner)
  if (labelled !== null && !labelled.ok) return refuse(labelled.refusal)
  const newQuery = labelled?.query ?? listed.query
  return {
    kind: 'forward',
    plan: {
      ...(pinned.some((segment, i) => segment !== segments[i]) || pinned.length !== segments.length ? { segments: pinned } : {}),
      ...(newQuery === undefined || newQuery === '' ? {} : { query: newQuery }),
      ...bodyStep(scope, index, request),
      ...(listed.response === undefined ? {} : { response: listed.response }),
      ...(listed.query !== undefined || listed.response !== undefined ? { listing: true } : {}),
      ...createdStep(scope, index, request, namedOwner)
    }
  }
}

/** Lists, events, disk usage and prunes: the daemon filters by the owner label where it can, else the answer is filtered. */
function listQuery (scope: OwnershipScope, index: OwnerIndex, request: IsolatedRequest): { refusal: Refusal } | { query?: string; response?: () => Transform } {
  const scoping = scopeList(request.method, request.segments, request.query, request.contentTypes, scope)
  if (scoping === null) return {}
  switch (scoping.kind) {
    case 'forward': return { query: scoping.query }
    case 'filter': return { response: () => responseFilter(scoping.response, scope, index) }
    case 'refuse': return { refusal: scoping.refusal }
    case 'answer': return { refusal: daemonAnswer('DG_OWNER_FILTERS', scoping.status, scoping.message, `the filters parameter cannot be read: ${scoping.message}`) }
    case 'per-owner': return { refusal: refusal('DG_DENIED', `a prune for a certificate in several ownership teams (${scope.visible.join(', ')}) is not supported; prune from a certificate of one team`) }
  }
}

/** Create bodies get the owner label; bodies that name objects must name the team's own. */
function bodyStep (scope: OwnershipScope, index: OwnerIndex, request: IsolatedRequest): Pick<IsolationPlan, 'body'> {
  const { method, segments, contentTypes } = request
  if (method !== 'POST') return {}
  const [first, second, third] = segments
  const kind = segments.length === 2 && second === 'create' ? ({ containers: 'container', volumes: 'volume', networks: 'network' } as const)[first ?? ''] : undefined
  if (kind !== undefined) {
    return {
      body: async (body) => {
        const labelled = labelCreateBody(kind, body, contentTypes, scope.owner)
        if (!labelled.ok) return { refusal: labelled.refusal }
        if (kind === 'container') {
          const refused = await checkReferences(scope, index, body, containerCreateReferences)
          if (refused !== null) return { refusal: refused }
        }
        // The daemon's volume create returns an existing volume of that name as if it made it.
        const volumeName = kind === 'volume' ? topLevelString(body, 'name') : null
        if (volumeName !== null && volumeName !== '' && await index.claimFor(scope, { kind: 'volume', name: volumeName }, scope.owner) === 'taken') {
          return { refusal: refusal('DG_OWNER_CONFLICT', `the volume name ${volumeName} is held by another team's volume; choose another name`) }
        }
        return { forward: Buffer.from(labelled.body) }
      }
    }
  }
  if (first === 'containers' && segments.length === 3 && third === 'update') return { body: (body) => checked(checkOwnerLabelBytes('update', body), body) }
  if (first === 'commit' && segments.length === 1) return { body: (body) => checked(checkOwnerLabelBytes('commit', body), body) }
  if (first === 'containers' && segments.length === 3 && third === 'start') return { body: async (body) => checked(await checkReferences(scope, index, body, containerCreateReferences), body) }
  if (first === 'networks' && segments.length === 3 && (third === 'connect' || third === 'disconnect')) {
    return { body: async (body) => checked(await checkReferences(scope, index, body, networkConnectReferences), body) }
  }
  return {}
}

/** A top-level string member of a JSON object body, its key matched as Go matches struct fields (any case; the last wins). */
function topLevelString (body: Buffer, key: string): string | null {
  const parsed = readJsonBody(body)
  if (!parsed.ok || parsed.value === null || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) return null
  const entries = (parsed.value as { readonly entries: ReadonlyArray<readonly [string, JsonValue]> }).entries
  const value = entries.filter(([name]) => name.toLowerCase() === key).at(-1)?.[1]
  return typeof value === 'string' ? value : null
}

function checked (refused: Refusal | null, body: Buffer): BodyVerdict {
  return refused === null ? { forward: body } : { refusal: refused }
}

/**
 * Every object the body names must be the team's own (answered as the
 * daemon answers a missing one otherwise). A named volume the body would
 * create is created now, labelled, unless another team holds the name.
 */
async function checkReferences (scope: OwnershipScope, index: OwnerIndex, body: Buffer, referencesOf: (value: JsonValue | undefined) => BodyReference[]): Promise<Refusal | null> {
  const parsed = readJsonBody(body)
  if (!parsed.ok) return refusal('DG_BODY_INVALID', `the request body cannot be read: ${parsed.fault.message}`)
  let references: BodyReference[]
  try {
    references = referencesOf(parsed.value)
  } catch (err) {
    return refusal('DG_BODY_INVALID', `the request body cannot be read: ${err instanceof Error ? err.message : String(err)}`)
  }
  for (const reference of references) {
    const found = await index.resolveFor(scope, reference.kind, reference.ref)
    if (found.kind !== 'missing') continue
    if (reference.missing === 'creates') {
      if (await index.claimFor(scope, { kind: 'volume', name: reference.ref }, scope.owner) === 'taken') return hiddenReference(reference, scope)
      await index.createVolume(reference.ref, scope.owner)
      continue
    }
    return hiddenReference(reference, scope)
  }
  return null
}

function hiddenReference (reference: BodyReference, scope: OwnershipScope): Refusal {
  const why = `${reference.field} names ${reference.kind} ${reference.ref}, which is not visible to ${scope.visible.join(', ')}`
  if (reference.missing === 'creates') return refusal('DG_OWNER_CONFLICT', `${why}: the volume name is held by another team's volume; choose another name`)
  const answer = bodyMissingAnswer(reference.kind, reference.ref, reference.missing)
  return { code: 'DG_OWNER_HIDDEN', status: answer.status, message: why, answer: { contentType: answer.contentType, body: answer.body } }
}

/** A created container or exec instance is known to the index from its 201, before the daemon's event. */
function createdStep (scope: OwnershipScope, index: OwnerIndex, request: IsolatedRequest, namedOwner: string | null): Pick<IsolationPlan, 'created'> {
  const { method, segments } = request
  if (method !== 'POST') return {}
  if (segments.length === 3 && segments[0] === 'containers' && segments[2] === 'exec') {
    return { created: (id) => { index.recordExec(id, namedOwner, segments[1]) } }
  }
  if (segments.length === 2 && segments[0] === 'containers' && segments[1] === 'create') {
    const name = new URLSearchParams(request.query).get('name')
    return { created: (id) => { index.recordCreated('container', id, name === null || name === '' ? [] : [name], scope.owner) } }
  }
  return {}
}

function hidden (named: NamedObject, scope: OwnershipScope): Refusal {
  const { missing } = named
  return { code: 'DG_OWNER_HIDDEN', status: missing.status, message: `${named.kind} ${named.ref} is not visible to ${scope.visible.join(', ')}`, answer: { contentType: missing.contentType, body: missing.body } }
}

function daemonAnswer (code: 'DG_OWNER_FILTERS', status: number, message: string, reason: string): Refusal {
  return { code, status, message: reason, answer: { contentType: 'application/json', body: `${JSON.stringify({ message })}\n` } }
}

function refuse (refused: Refusal): Isolation {
  return { kind: 'refuse', refusal: refused }
}

function isPull (request: IsolatedRequest): boolean {
  return request.segments.join('/') === 'images/create' && new URLSearchParams(request.query).get('fromImage') !== null
}

function isTag (request: IsolatedRequest): boolean {
  return request.segments[0] === 'images' && request.segments[request.segments.length - 1] === 'tag'
}
