/**
 * Which objects a request names, from its method and canonical path (and,
 * for a few endpoints, its query), for the Docker Engine API 1.41 and the
 * endpoints later versions add that name objects. Pure.
 *
 * `named` are the objects the request acts on: each must resolve to an
 * object the caller may see (OwnerIndex.resolveFor), else the request is
 * answered with `missing`, the daemon's own answer. `claims` are names the
 * request would give to an object (a container's name, an image tag):
 * taking a name another team's object holds is refused
 * (OwnerIndex.claimFor). Bodies name objects too: see src/policy's
 * containerCreateReferences and networkConnectReferences.
 *
 * Container, exec, volume and network references are one path segment
 * (the canonical form refuses longer ones); image names span segments
 * (`/images/docker.io/library/busybox:latest/json`).
 */
import { refusal, type Refusal } from '../shared/errors.js'
import { missingAnswer, type MissingAnswer, type MissingStyle } from './not-found.js'
import { parseQuery, QueryFault, valuesOf, type QueryPair } from './query.js'
import type { ObjectKind } from './scope.js'

/** An object a request names, where it names it, and the daemon's answer when it is missing. */
export interface NamedObject {
  readonly kind: ObjectKind
  readonly ref: string
  /** The path segments holding the reference (`[1, 2]`: segments 1 and 2, joined with '/'), or the query parameter. */
  readonly at: { readonly segments: readonly [number, number] } | { readonly query: string }
  readonly missing: MissingAnswer
  /** Set for an image push without a tag: it pushes every tag of the repository `ref` (OwnerIndex.repositoryFor). */
  readonly repository?: true
}

/** A name the request gives an object; `repository` when it may take every tag of an image repository (`docker pull -a`). */
export interface NameClaim {
  readonly kind: ObjectKind
  readonly name: string
  readonly repository?: true
}

/** The objects and names of one request, or why its query cannot be read. */
export type RouteObjects =
  | { readonly ok: true; readonly named: readonly NamedObject[]; readonly claims: readonly NameClaim[] }
  | { readonly ok: false; readonly refusal: Refusal }

const NONE: RouteObjects = Object.freeze({ ok: true, named: Object.freeze([]), claims: Object.freeze([]) })

const CONTAINER_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  GET: ['json', 'top', 'logs', 'changes', 'export', 'stats', 'archive'],
  HEAD: ['archive'],
  PUT: ['archive'],
  POST: ['resize', 'start', 'stop', 'restart', 'kill', 'update', 'rename', 'pause', 'unpause', 'attach', 'wait', 'exec']
}

/** The objects `method /segments?query` names (`segments` canonical, without the API version). */
export function routeObjects (method: string, segments: readonly string[], query: string): RouteObjects {
  let pairs: QueryPair[] | null = null
  const q = (): QueryPair[] => (pairs ??= parseQuery(query))
  try {
    switch (segments[0]) {
      case 'containers': return containers(method, segments, q)
      case 'exec': return exec(method, segments)
      case 'volumes': return volumes(method, segments)
      case 'networks': return networks(method, segments)
      case 'images': return images(method, segments, q)
      case 'commit': return method === 'POST' && segments.length === 1 ? commit(q()) : NONE
      case 'build': return method === 'POST' && segments.length === 1 ? result([], valuesOf(q(), 't').filter((t) => t !== '').map((t) => ({ kind: 'image', name: t }))) : NONE
      default: return NONE
    }
  } catch (err) {
    if (!(err instanceof QueryFault)) throw err
    return { ok: false, refusal: refusal('DG_BAD_REQUEST', `${method} /${segments.join('/')}: ${err.message}`) }
  }
}

function result (named: readonly NamedObject[], claims: readonly NameClaim[] = []): RouteObjects {
  return { ok: true, named, claims }
}

function inPath (kind: ObjectKind, segments: readonly string[], from: number, to: number, style: MissingStyle = 'plain'): NamedObject {
  const ref = segments.slice(from, to + 1).join('/')
  return { kind, ref, at: { segments: [from, to] }, missing: missingAnswer(kind, ref, style) }
}

function containers (method: string, segments: readonly string[], q: () => QueryPair[]): RouteObjects {
  const n = segments.length
  if (method === 'POST' && n === 2 && segments[1] === 'create') return result([], nameClaim(q()))
  if (method === 'DELETE' && n === 2) return result([inPath('container', segments, 1, 1)])
  if (method === 'DELETE' && n === 3) return linkRemoval(segments)
  if (method === 'GET' && n === 4 && segments[2] === 'attach' && segments[3] === 'ws') return result([inPath('container', segments, 1, 1)])
  if (n !== 3 || !(CONTAINER_ACTIONS[method] ?? []).includes(segments[2] ?? '')) return NONE
  const action = segments[2]
  const style: MissingStyle = action === 'kill' ? 'kill' : action === 'attach' ? 'attach' : 'plain'
  const named = [inPath('container', segments, 1, 1, style)]
  return result(named, action === 'rename' ? nameClaim(q()) : [])
}

/**
 * `DELETE /containers/{name}/{alias}?link=1` (the only three-segment DELETE
 * the canonical form lets through): dockerd finds the parent by NAME only,
 * so its id cannot be pinned in the path, and the alias names a second
 * container. Refused for an ownership team rather than judged on a name
 * another team could take between check and use.
 */
function linkRemoval (segments: readonly string[]): RouteObjects {
  return {
    ok: false,
    refusal: refusal('DG_OWNER_CONFLICT', `removing the legacy link ${segments[1] ?? ''}/${segments[2] ?? ''} is not available to an ownership team: ` +
      'dockerd finds the container by a name dockgate cannot pin to its owner; remove and re-create the container without the link instead')
  }
}

function nameClaim (pairs: readonly QueryPair[]): NameClaim[] {
  const name = valuesOf(pairs, 'name')[0] ?? ''
  return name === '' ? [] : [{ kind: 'container', name }]
}

function exec (method: string, segments: readonly string[]): RouteObjects {
  if (segments.length !== 3) return NONE
  const action = segments[2]
  if ((method === 'GET' && action === 'json') || (method === 'POST' && (action === 'start' || action === 'resize'))) return result([inPath('exec', segments, 1, 1)])
  return NONE
}

function volumes (method: string, segments: readonly string[]): RouteObjects {
  if (segments.length !== 2) return NONE
  // PUT /volumes/{name} (API 1.42) updates a cluster volume.
  if (method === 'GET' || method === 'DELETE' || method === 'PUT') return result([inPath('volume', segments, 1, 1)])
  return NONE
}

function networks (method: string, segments: readonly string[]): RouteObjects {
  const n = segments.length
  if (n === 2 && (method === 'GET' || method === 'DELETE')) return result([inPath('network', segments, 1, 1)])
  if (n === 3 && method === 'POST' && (segments[2] === 'connect' || segments[2] === 'disconnect')) return result([inPath('network', segments, 1, 1)])
  return NONE
}

const IMAGE_LITERALS: Readonly<Record<string, readonly string[]>> = { GET: ['json', 'search', 'get'], POST: ['create', 'load', 'prune'] }

function images (method: string, segments: readonly string[], q: () => QueryPair[]): RouteObjects {
  const n = segments.length
  if (n < 2) return NONE
  if (n === 2 && (IMAGE_LITERALS[method] ?? []).includes(segments[1] ?? '')) {
    if (method === 'GET' && segments[1] === 'get') return imagesSave(q())
    if (method === 'POST' && segments[1] === 'create') return imageCreate(q())
    return NONE
  }
  if (method === 'DELETE') return result([inPath('image', segments, 1, n - 1)])
  if (n < 3) return NONE
  const action = segments[n - 1]
  if (method === 'GET' && action === 'json') return result([inPath('image', segments, 1, n - 2, 'image-inspect')])
  if (method === 'GET' && action === 'history') return result([inPath('image', segments, 1, n - 2)])
  if (method === 'GET' && action === 'get') return result([inPath('image', segments, 1, n - 2, 'image-raw')])
  if (method === 'POST' && action === 'tag') return imageTag(segments, q())
  if (method === 'POST' && action === 'push') return imagePush(segments, q())
  return NONE
}

function imagesSave (pairs: readonly QueryPair[]): RouteObjects {
  return result(valuesOf(pairs, 'names').map((ref) => ({ kind: 'image', ref, at: { query: 'names' }, missing: missingAnswer('image', ref, 'image-raw') })))
}

function imageTag (segments: readonly string[], pairs: readonly QueryPair[]): RouteObjects {
  const repo = valuesOf(pairs, 'repo')[0] ?? ''
  const tag = valuesOf(pairs, 'tag')[0] ?? ''
  const source = inPath('image', segments, 1, segments.length - 2)
  return result([source], repo === '' ? [] : [{ kind: 'image', name: tag === '' ? repo : `${repo}:${tag}` }])
}

function imagePush (segments: readonly string[], pairs: readonly QueryPair[]): RouteObjects {
  const name = segments.slice(1, -1).join('/')
  const tag = valuesOf(pairs, 'tag')[0] ?? ''
  // The daemon's reference.WithTag: a `tag` parameter replaces any tag in the name.
  const ref = tag === '' ? name : `${withoutTag(name)}:${tag}`
  const missing = missingAnswer('image', ref, 'image-push')
  const at = { segments: [1, segments.length - 2] as const }
  // Without a tag (in the name or the query) the daemon pushes every tag of the repository.
  const tagged = tag !== '' || /:[\w][\w.-]*$/.test(name.slice(name.lastIndexOf('/') + 1)) || name.includes('@')
  return result([tagged ? { kind: 'image', ref, at, missing } : { kind: 'image', ref, at, missing, repository: true }])
}

function imageCreate (pairs: readonly QueryPair[]): RouteObjects {
  const from = valuesOf(pairs, 'fromImage')[0] ?? ''
  const tag = valuesOf(pairs, 'tag')[0] ?? ''
  if (from !== '') {
    // A pull; without a tag (or digest) anywhere it pulls every tag of the repository.
    if (tag !== '') return result([], [{ kind: 'image', name: tag.includes(':') ? `${from}@${tag}` : `${from}:${tag}` }])
    const tagged = /:[\w][\w.-]*$/.test(from.slice(from.lastIndexOf('/') + 1)) || from.includes('@')
    return result([], [tagged ? { kind: 'image', name: from } : { kind: 'image', name: from, repository: true }])
  }
  const repo = valuesOf(pairs, 'repo')[0] ?? ''
  return result([], repo === '' ? [] : [{ kind: 'image', name: tag === '' ? repo : `${repo}:${tag}` }])
}

function commit (pairs: readonly QueryPair[]): RouteObjects {
  const container = valuesOf(pairs, 'container')[0] ?? ''
  const repo = valuesOf(pairs, 'repo')[0] ?? ''
  const tag = valuesOf(pairs, 'tag')[0] ?? ''
  const named: NamedObject[] = container === '' ? [] : [{ kind: 'container', ref: container, at: { query: 'container' }, missing: missingAnswer('container', container) }]
  return result(named, repo === '' ? [] : [{ kind: 'image', name: tag === '' ? repo : `${repo}:${tag}` }])
}

function withoutTag (name: string): string {
  const slash = name.lastIndexOf('/')
  const colon = name.indexOf(':', slash + 1)
  return colon === -1 ? name : name.slice(0, colon)
}
