/**
 * Which Docker object a request is about, read from its canonical path (and,
 * for create and pull, from the query), like Kubernetes' objectRef. Pure.
 *
 * Image, plugin and distribution names may contain slashes
 * (`registry:5000/team/app`), so they span several path segments: the name
 * is everything between the collection and a trailing action segment.
 */
import type { AuditObjectRef } from './record.js'

/** Collection endpoints (no object): `/containers/json`, `/images/search`, ... */
const COLLECTION_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  containers: ['json', 'create', 'prune'],
  exec: [],
  images: ['json', 'create', 'search', 'prune', 'load', 'get', 'build'],
  volumes: ['create', 'prune'],
  networks: ['create', 'prune'],
  services: ['create'],
  tasks: [],
  nodes: [],
  secrets: ['create'],
  configs: ['create'],
  plugins: ['pull', 'create', 'privileges'],
  distribution: []
}

/** Trailing actions of slash-named objects: `/images/NAME/json`, `/plugins/NAME/enable`. */
const NAMED_ACTIONS: Readonly<Record<string, readonly string[]>> = {
  images: ['json', 'history', 'push', 'tag', 'get'],
  plugins: ['json', 'enable', 'disable', 'push', 'set', 'upgrade'],
  distribution: ['json']
}

/** Where create and pull requests name their object in the query. */
const QUERY_NAMES: Readonly<Record<string, readonly string[]>> = {
  'containers/create': ['name'],
  'images/create': ['fromImage', 'fromSrc'],
  'plugins/pull': ['name', 'remote']
}

/**
 * The object `path` (canonical, without the API version) refers to, or null
 * for collection endpoints and everything that names no object. `query` is
 * the raw query string without `?`.
 */
export function objectRefOf (path: string, query: string): AuditObjectRef | null {
  const segments = path.split('/').slice(1)
  const [resource = '', ...rest] = segments
  const collection = COLLECTION_ACTIONS[resource]
  if (collection === undefined || rest.length === 0) return null
  const first = rest[0] ?? ''
  if (rest.length === 1 && collection.includes(first)) return fromQuery(resource, first, query)
  const actions = NAMED_ACTIONS[resource]
  if (actions !== undefined) {
    const last = rest[rest.length - 1] ?? ''
    const hasAction = rest.length > 1 && actions.includes(last)
    const name = (hasAction ? rest.slice(0, -1) : rest).join('/')
    return hasAction ? { resource, name, subresource: last } : { resource, name }
  }
  const subresource = rest.slice(1).join('/')
  return subresource === '' ? { resource, name: first } : { resource, name: first, subresource }
}

function fromQuery (resource: string, action: string, query: string): AuditObjectRef | null {
  const keys = QUERY_NAMES[`${resource}/${action}`]
  if (keys === undefined) return null
  const params = new URLSearchParams(query)
  for (const key of keys) {
    const value = params.get(key)
    if (value === null || value === '') continue
    const tag = resource === 'images' && key === 'fromImage' ? params.get('tag') ?? '' : ''
    // fromImage may already carry a tag or digest; `tag` is appended only when it does not.
    const name = tag !== '' && !/[:@][^/]*$/.test(value) ? `${value}:${tag}` : value
    return { resource, name, subresource: action }
  }
  return null
}

/**
 * Whether dockerd's answer to `method path` names a new object (container
 * create and exec create by `Id`, network create by `Id`, volume create by
 * `Name`): such answers are small JSON, worth a bounded tap so the record
 * can link the name used later to the request that made it, and
 * `dockgate scan` can tell objects made through the gateway from those
 * made around it.
 */
export function createsObject (method: string, path: string | null): boolean {
  return method === 'POST' && path !== null &&
    (path === '/containers/create' || path === '/networks/create' || path === '/volumes/create' || /^\/containers\/[^/]+\/exec$/.test(path))
}

/**
 * `ref` with the Id (for a volume, the name) dockerd returned recorded as
 * `createdId`. A create that names no object in its path or query (a
 * container without a name, every network and volume create, whose names
 * are in the body) gets the new Id as its name too, so every later request
 * by Id finds it.
 */
export function withCreatedId (ref: AuditObjectRef | null, id: string, path: string | null = '/containers/create'): AuditObjectRef {
  if (ref !== null) return { ...ref, createdId: id }
  const resource = path === '/networks/create' ? 'networks' : path === '/volumes/create' ? 'volumes' : 'containers'
  return { resource, name: id, subresource: 'create', createdId: id }
}
