/**
 * The objects a request body names, read as dockerd reads the body, so
 * that team isolation can judge each reference like a path reference: a
 * container create's VolumesFrom, Links, `container:X` namespace modes,
 * named volumes, networks, image and image mounts; a network connect or disconnect's
 * container. Pure; src/ownership resolves the names.
 *
 * dockerd embeds a second HostConfig at the top level of a create body (and
 * uses it when `HostConfig` is absent): both are read, as the body judge
 * does. Predefined networks (`bridge`, `host`, `none`, `default`) are host
 * infrastructure, not objects a team owns, and are not listed.
 */
import { asStruct, type StructView } from './fields.js'
import type { JsonObject, JsonValue } from './json.js'

/** The kind of object a body names. */
export type ReferenceKind = 'container' | 'volume' | 'network' | 'image'

/**
 * What dockerd answers when the named object does not exist: `creates` for
 * a named volume (the daemon creates it on first use); otherwise the status
 * and the message it gives: `no-such-container` is `No such container: X`,
 * `link` is `could not get container for X: No such container: X`,
 * `network-not-found` is `network X not found`, `no-such-image` is
 * `No such image: X` (X familiar, with its tag). Where dockerd accepts a
 * missing network or `container:X` network mode at create and fails only at
 * start, dockgate answers at create, the same for a missing object and for
 * another team's, so the two cannot be told apart.
 */
export type MissingReference =
  | { readonly status: number; readonly says: 'no-such-container' | 'link' | 'network-not-found' | 'no-such-image' }
  | 'creates'

/** One object a body names: its kind, the reference as written, the field (`HostConfig.VolumesFrom[0]`), and what a miss answers. */
export interface BodyReference {
  readonly kind: ReferenceKind
  readonly ref: string
  readonly field: string
  readonly missing: MissingReference
}

const PREDEFINED_NETWORKS = new Set(['', 'default', 'bridge', 'host', 'none'])
const CONTAINER_400: MissingReference = { status: 400, says: 'no-such-container' }
const LINK_400: MissingReference = { status: 400, says: 'link' }
const NETWORK_404: MissingReference = { status: 404, says: 'network-not-found' }

/**
 * Every object a container create body names (`POST /containers/create`;
 * an old-API start body carries a HostConfig too: pass it here as well).
 * Throws FieldFault for a body the judge would refuse (wrong types,
 * ambiguous keys); an empty or null body names nothing.
 */
export function containerCreateReferences (value: JsonValue | undefined): BodyReference[] {
  if (value === undefined || value === null) return []
  const body = asStruct(value, '')
  const out: BodyReference[] = []
  const image = body.string('Image')
  if (image !== '') out.push({ kind: 'image', ref: image, field: 'Image', missing: { status: 404, says: 'no-such-image' } })
  hostConfigReferences(body, out)
  const inner = body.struct('HostConfig')
  if (inner !== null) hostConfigReferences(inner, out)
  const networking = body.struct('NetworkingConfig')
  // EndpointsConfig is a map (exact keys: `net` and `Net` are two networks); mapKeys checks it is one.
  if (networking !== null && networking.mapKeys('EndpointsConfig').length > 0) {
    for (const [name, endpoint] of (networking.get('EndpointsConfig') as JsonObject).entries) {
      const where = `NetworkingConfig.EndpointsConfig.${name}`
      if (!PREDEFINED_NETWORKS.has(name)) out.push({ kind: 'network', ref: name, field: where, missing: NETWORK_404 })
      if (endpoint !== null) linkReferences(asStruct(endpoint, where).strings('Links'), `${where}.Links`, out)
    }
  }
  return out
}

/** The container a network connect or disconnect body names (`Container`), and its endpoint's links. */
export function networkConnectReferences (value: JsonValue | undefined): BodyReference[] {
  if (value === undefined || value === null) return []
  const body = asStruct(value, '')
  const out: BodyReference[] = []
  const container = body.string('Container')
  if (container !== '') out.push({ kind: 'container', ref: container, field: 'Container', missing: { status: 404, says: 'no-such-container' } })
  const endpoint = body.struct('EndpointConfig')
  if (endpoint !== null) linkReferences(endpoint.strings('Links'), 'EndpointConfig.Links', out)
  return out
}

function hostConfigReferences (host: StructView, out: BodyReference[]): void {
  const at = (field: string): string => host.where === '' ? field : `${host.where}.${field}`
  host.strings('VolumesFrom').forEach((spec, i) => {
    // volumemounts.ParseVolumesFrom: the container is everything before the first ':'.
    const name = spec.split(':')[0] ?? ''
    if (name !== '') out.push({ kind: 'container', ref: name, field: `${at('VolumesFrom')}[${i}]`, missing: CONTAINER_400 })
  })
  for (const field of ['NetworkMode', 'PidMode', 'IpcMode']) {
    const mode = host.string(field)
    const joined = joinedContainer(mode)
    if (joined === '') continue
    if (joined !== null) out.push({ kind: 'container', ref: joined, field: at(field), missing: CONTAINER_400 })
    else if (field === 'NetworkMode' && !PREDEFINED_NETWORKS.has(mode)) out.push({ kind: 'network', ref: mode, field: at(field), missing: NETWORK_404 })
  }
  linkReferences(host.strings('Links'), at('Links'), out)
  host.strings('Binds').forEach((bind, i) => {
    // The Linux mount parser: SRC:DST[:MODE]; a SRC that is not an absolute path is a volume name.
    const parts = bind.split(':')
    const source = parts[0] ?? ''
    if (parts.length >= 2 && source !== '' && !source.startsWith('/')) {
      out.push({ kind: 'volume', ref: source, field: `${at('Binds')}[${i}]`, missing: 'creates' })
    }
  })
  host.structs('Mounts').forEach((mount, i) => {
    const source = mount.string('Source')
    const type = mount.string('Type').toLowerCase()
    if (source === '') return
    if (type === 'volume') out.push({ kind: 'volume', ref: source, field: `${at('Mounts')}[${i}].Source`, missing: 'creates' })
    // API 1.48: a mount of another image's file system.
    if (type === 'image') out.push({ kind: 'image', ref: source, field: `${at('Mounts')}[${i}].Source`, missing: { status: 404, says: 'no-such-image' } })
  })
}

/** `container:X` (exact prefix, as dockerd's IsContainer) names container X. */
function joinedContainer (mode: string): string | null {
  const colon = mode.indexOf(':')
  return colon !== -1 && mode.slice(0, colon) === 'container' ? mode.slice(colon + 1) : null
}

/** opts.ParseLink: `name`, `name:alias`, or `/name:/parent/alias`; the container is the first part without its '/'. */
function linkReferences (links: readonly string[], field: string, out: BodyReference[]): void {
  links.forEach((link, i) => {
    const first = link.split(':')[0] ?? ''
    const name = first.startsWith('/') ? first.slice(1) : first
    if (name !== '') out.push({ kind: 'container', ref: name, field: `${field}[${i}]`, missing: LINK_400 })
  })
}
