/**
 * The endpoints whose requests can reach the host beyond what their path
 * says, and how each is read into facts. Requests to any other endpoint are
 * judged on method and path alone, and their bodies stream unbuffered.
 *
 * Judged by body (read whole, up to `limits.bodyBytes`, parsed as dockerd
 * would): container create, start (old APIs apply a HostConfig body there),
 * update, exec create, volume create, service create/update, plugin pull and
 * upgrade. Judged by query: /build, and the image endpoints (pull and
 * import, tag, commit, load: body/images.ts). Never judged in detail (only a team with
 * `containers: unrestricted` passes): BuildKit's /grpc, plugin create from a
 * local archive, and plugin settings.
 */
import { JSON_MEDIA_TYPE, mediaType } from '../../shared/media-type.js'
import type { CanonicalTarget } from '../types.js'
import { readBuildRequest } from './build.js'
import { FactList, sharesNamespace, type Action, type HostFact } from './facts.js'
import { asStruct, FieldFault } from './fields.js'
import { readHostConfig, readResources } from './host-config.js'
import { readCommit, readCreateImage, readCreateLimits, readImageCreate, readImageTag, readServiceImageAndLimits, readUpdateLimits } from './images.js'
import type { JsonValue } from './json.js'
import { readVolumeDriverOptions } from './mounts.js'
import { readPluginPrivileges, readServiceSpec } from './services-plugins.js'
import { readEndpointSysctls } from './sysctls.js'

/** A judged endpoint: either its request line decides (`fromRequest`), or its JSON body (`fromBody`). */
export type JudgedEndpoint =
  | { readonly name: string; readonly reads: 'request'; readonly fromRequest: (target: CanonicalTarget, contentTypes: readonly string[]) => HostFact[] }
  | { readonly name: string; readonly reads: 'body'; readonly fromBody: (value: JsonValue | undefined) => HostFact[] }

const CREATE: Action = { privileged: 'create a privileged container' }
const NO_FIELDS: JsonValue = { kind: 'object', entries: [] }
const START: Action = { privileged: 'start a container as privileged (a HostConfig in the start body)' }

const collect = (read: (facts: FactList) => void): HostFact[] => {
  const facts = new FactList()
  read(facts)
  return facts.facts
}

const bodyEndpoint = (name: string, read: (value: JsonValue | undefined, facts: FactList) => void): JudgedEndpoint =>
  ({ name, reads: 'body', fromBody: (value) => collect((facts) => { read(value, facts) }) })

const opaqueEndpoint = (name: string, phrase: string): JudgedEndpoint =>
  ({ name, reads: 'request', fromRequest: () => collect((facts) => { facts.opaque(name, phrase) }) })

const ENDPOINTS = {
  create: bodyEndpoint('POST /containers/create', (value, facts) => {
    readContainerConfig(value, CREATE, facts)
    // No body (or null) names no image and sets no limit: judged as {} so image and limit rules refuse it as they refuse {}.
    withStruct(value ?? NO_FIELDS, (body) => {
      readCreateImage(body, facts)
      readCreateLimits(body, facts)
    })
  }),
  // dockerd decodes an old-API start body as a create body (ContainerConfigWrapper), so both places count;
  // a start body with any HostConfig field replaces the container's HostConfig, limits included.
  start: bodyEndpoint('POST /containers/{id}/start', (value, facts) => {
    readContainerConfig(value, START, facts)
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'entries' in value && value.entries.length > 0) {
      withStruct(value, (body) => { readCreateLimits(body, facts) })
    }
  }),
  update: bodyEndpoint('POST /containers/{id}/update', (value, facts) => {
    withStruct(value, (body) => {
      readResources(body, facts)
      readUpdateLimits(body, facts)
    })
  }),
  exec: bodyEndpoint('POST /containers/{id}/exec', (value, facts) => {
    withStruct(value, (body) => { if (body.bool('Privileged')) facts.privileged({ privileged: 'run a privileged exec' }, 'Privileged') })
  }),
  volume: bodyEndpoint('POST /volumes/create', readVolumeBody),
  serviceCreate: bodyEndpoint('POST /services/create', readService),
  serviceUpdate: bodyEndpoint('POST /services/{id}/update', readService),
  pluginPull: bodyEndpoint('POST /plugins/pull', readPluginPrivileges),
  pluginUpgrade: bodyEndpoint('POST /plugins/{name}/upgrade', readPluginPrivileges),
  build: {
    name: 'POST /build',
    reads: 'request',
    fromRequest: (target, contentTypes) => collect((facts) => { readBuildRequest(target.query, contentTypes, facts) })
  },
  imageCreate: {
    name: 'POST /images/create',
    reads: 'request',
    fromRequest: (target, contentTypes) => collect((facts) => { readImageCreate(target.query, contentTypes, facts) })
  },
  imageTag: {
    name: 'POST /images/{name}/tag',
    reads: 'request',
    fromRequest: (target, contentTypes) => collect((facts) => { readImageTag(target.segments.slice(1, -1).join('/'), target.query, contentTypes, facts) })
  },
  commit: {
    name: 'POST /commit',
    reads: 'request',
    fromRequest: (target, contentTypes) => collect((facts) => { readCommit(target.query, contentTypes, facts) })
  },
  imageLoad: {
    name: 'POST /images/load',
    reads: 'request',
    fromRequest: () => collect((facts) => { facts.unjudgedImage('POST /images/load', 'load images (docker load): docker load cannot be judged, its tags come from the tarball') })
  },
  grpc: opaqueEndpoint('POST /grpc', "use BuildKit's /grpc endpoint: its build steps can ask for host networking or privileges, which dockgate cannot read"),
  pluginCreate: opaqueEndpoint('POST /plugins/create', 'create a plugin from a local archive: its config can mount host paths and devices, which dockgate cannot read'),
  pluginSet: opaqueEndpoint('POST /plugins/{name}/set', "change a plugin's settings: they can point its mounts and devices at host paths")
} as const satisfies Record<string, JudgedEndpoint>

/**
 * The judged endpoint for a request, or null. `segments` are canonical (no
 * API version). Plugin names may span several segments.
 */
export function findJudgedEndpoint (method: string, segments: readonly string[]): JudgedEndpoint | null {
  if (method !== 'POST') return null
  const [first, second] = segments
  const last = segments[segments.length - 1]
  const n = segments.length
  switch (first) {
    case 'containers':
      if (n === 2 && second === 'create') return ENDPOINTS.create
      if (n !== 3) return null
      return last === 'start' ? ENDPOINTS.start : last === 'update' ? ENDPOINTS.update : last === 'exec' ? ENDPOINTS.exec : null
    case 'build': return n === 1 ? ENDPOINTS.build : null
    case 'commit': return n === 1 ? ENDPOINTS.commit : null
    case 'images':
      if (n === 2) return second === 'create' ? ENDPOINTS.imageCreate : second === 'load' ? ENDPOINTS.imageLoad : null
      return n >= 3 && last === 'tag' ? ENDPOINTS.imageTag : null
    case 'grpc': return n === 1 ? ENDPOINTS.grpc : null
    case 'volumes': return n === 2 && second === 'create' ? ENDPOINTS.volume : null
    case 'services':
      if (n === 2 && second === 'create') return ENDPOINTS.serviceCreate
      return n === 3 && last === 'update' ? ENDPOINTS.serviceUpdate : null
    case 'plugins': return pluginEndpoint(segments)
    default: return null
  }
}

function pluginEndpoint (segments: readonly string[]): JudgedEndpoint | null {
  const n = segments.length
  if (n === 2 && segments[1] === 'pull') return ENDPOINTS.pluginPull
  if (n === 2 && segments[1] === 'create') return ENDPOINTS.pluginCreate
  if (n >= 3 && segments[n - 1] === 'upgrade') return ENDPOINTS.pluginUpgrade
  if (n >= 3 && segments[n - 1] === 'set') return ENDPOINTS.pluginSet
  return null
}

/**
 * Checks the Content-Type values of a JSON body: several are ambiguous; one
 * that is present and not application/json is not read (415). No
 * Content-Type at all is read as JSON, as dockerd does.
 */
export function checkJsonContentType (contentTypes: readonly string[]): void {
  if (contentTypes.length > 1) {
    throw new FieldFault({ kind: 'ambiguous', message: 'the request has more than one Content-Type header' })
  }
  const type = contentTypes[0]
  if (type !== undefined && mediaType(type) !== JSON_MEDIA_TYPE) {
    throw new FieldFault({ kind: 'media-type', message: `the request body must be ${JSON_MEDIA_TYPE}, not ${JSON.stringify(type)}` })
  }
}

/**
 * A create body (and an old-API start body, which dockerd decodes the same
 * way): a Config with HostConfig inside, and HostConfig's fields at the top
 * level too (dockerd embeds a second HostConfig there and uses it when
 * `HostConfig` is absent); both are judged. A network endpoint named `host`
 * counts as the host network; endpoint sysctls are judged (sysctls.ts).
 */
function readContainerConfig (value: JsonValue | undefined, action: Action, facts: FactList): void {
  withStruct(value, (body) => {
    readHostConfig(body, action, facts)
    const inner = body.struct('HostConfig')
    if (inner !== null) readHostConfig(inner, action, facts)
    const networking = body.struct('NetworkingConfig')
    for (const name of networking?.mapKeys('EndpointsConfig') ?? []) {
      if (name.toLowerCase() === 'host') facts.namespace('NetworkingConfig.EndpointsConfig', name)
    }
    const shared = [body.string('NetworkMode'), inner?.string('NetworkMode') ?? ''].find(sharesNamespace) ?? ''
    readEndpointSysctls(networking, shared, facts)
  })
}

/** A service spec: its host-reaching fields, its image and its limits. */
function readService (value: JsonValue | undefined, facts: FactList): void {
  readServiceSpec(value, facts)
  withStruct(value, (spec) => {
    const task = spec.struct('TaskTemplate')
    if (task !== null && !task.has('PluginSpec')) readServiceImageAndLimits(task, facts)
  })
}

function readVolumeBody (value: JsonValue | undefined, facts: FactList): void {
  withStruct(value, (body) => {
    readVolumeDriverOptions(body.string('Driver'), body.stringMap('DriverOpts'), 'DriverOpts', facts)
    if (body.has('ClusterVolumeSpec')) facts.opaque('ClusterVolumeSpec', 'create a cluster volume: its CSI driver options are not judged')
  })
}

/** Runs `read` on the body as a struct; an empty body or `null` has no fields (Go's zero value). */
function withStruct (value: JsonValue | undefined, read: (body: ReturnType<typeof asStruct>) => void): void {
  if (value === undefined || value === null) return
  read(asStruct(value, ''))
}
