/**
 * What `dockgate scan` reads from the daemon: every container (inspected),
 * volume and network, with its owner label and, for containers and
 * volumes, the create body that would make it as it is now (inspect data
 * mapped back: `Config` at the top, `HostConfig`, each network's endpoint
 * settings; a volume's name, driver, options and labels), so the policy
 * can judge it as it judges a create. Settings the daemon fills in by
 * itself (the cgroup namespace mode it defaults to) are left out: the
 * scan judges what was asked for. Known limit: a daemon whose
 * `default-cgroupns-mode` was changed from its cgroup version's default
 * makes its containers' mode look asked for.
 *
 * Fails closed: a daemon that cannot be reached, or answers anything but
 * 200 with the expected JSON, is an error, never an empty host.
 */
import { DaemonClient, OWNER_LABEL } from '../ownership/index.js'

/** An object on the daemon, as the scan judges it. */
export interface ScannedObject {
  readonly kind: 'container' | 'volume' | 'network'
  /** Container and network Id; a volume's name. */
  readonly id: string
  readonly name: string
  /** The `dockgate.owner` label, or null. */
  readonly owner: string | null
  /** When the daemon made it (ms since the epoch), or null when it does not say. */
  readonly created: number | null
  /** The create body that would make it (JSON), for containers and volumes. */
  readonly body: Uint8Array
  /** A container's memory limit in bytes (0: none). */
  readonly memory: number
  /** The volume names a container mounts. */
  readonly volumes: readonly string[]
  /** A container's image as its create named it (`Config.Image`). */
  readonly image: string
}

/** Networks the daemon makes itself: nobody creates them, through the gateway or around it. */
export const PREDEFINED_NETWORKS: ReadonlySet<string> = new Set(['bridge', 'host', 'none'])

type Rec = Record<string, unknown>
const obj = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Rec : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const ownerOf = (labels: unknown): string | null => { const o = obj(labels)[OWNER_LABEL]; return typeof o === 'string' && o !== '' ? o : null }
const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value))

/**
 * Reads every container, volume and network (only those with every label
 * in `labels`, `KEY` or `KEY=VALUE`, when given: the daemon filters); rejects
 * with a message when the daemon cannot be read.
 */
export async function readDaemon (socketPath: string, labels: readonly string[] = []): Promise<ScannedObject[]> {
  const filter = labels.length === 0 ? '' : `filters=${encodeURIComponent(JSON.stringify({ label: labels }))}`
  const daemon = new DaemonClient(socketPath)
  const get = async (path: string): Promise<unknown> => {
    const answer = await daemon.get(path).catch((err: Error) => { throw new Error(`cannot read the daemon at unix://${socketPath}: ${err.message}`) })
    if (answer.status !== 200 || answer.body === null) throw new Error(`the daemon at unix://${socketPath} answered GET ${path} with ${answer.status}`)
    return answer.body
  }
  // dockerd fills in CgroupnsMode when a create leaves it out: host on cgroup v1 hosts, private on v2.
  const defaultCgroupns = str(obj(await get('/info')).CgroupVersion) === '2' ? 'private' : 'host'
  const list = await get(`/containers/json?all=1${filter === '' ? '' : `&${filter}`}`)
  if (!Array.isArray(list)) throw new Error('the daemon\'s container list is not a list')
  const objects: ScannedObject[] = []
  for (const entry of list) {
    const id = str(obj(entry).Id)
    // A container removed between the list and its inspect is gone: nothing to judge.
    const answer = await daemon.get(`/containers/${id}/json`).catch((err: Error) => { throw new Error(`cannot read the daemon at unix://${socketPath}: ${err.message}`) })
    if (answer.status === 404) continue
    if (answer.status !== 200) throw new Error(`the daemon at unix://${socketPath} answered GET /containers/${id}/json with ${answer.status}`)
    objects.push(container(obj(answer.body), defaultCgroupns))
  }
  const volumes = obj(await get(`/volumes${filter === '' ? '' : `?${filter}`}`)).Volumes
  for (const v of Array.isArray(volumes) ? volumes : []) objects.push(volume(obj(v)))
  const networks = await get(`/networks${filter === '' ? '' : `?${filter}`}`)
  for (const n of Array.isArray(networks) ? networks : []) {
    const net = obj(n)
    if (PREDEFINED_NETWORKS.has(str(net.Name))) continue
    objects.push({ kind: 'network', id: str(net.Id), name: str(net.Name), owner: ownerOf(net.Labels), created: time(net.Created), body: json({}), memory: 0, volumes: [], image: '' })
  }
  return objects
}

// Inspect shows what the daemon filled in too; a value it fills in by itself is left out, so only what a create asked for is judged.
function container (inspect: Rec, defaultCgroupns: string): ScannedObject {
  const config = obj(inspect.Config)
  const host = { ...obj(inspect.HostConfig) }
  if (host.CgroupnsMode === defaultCgroupns) delete host.CgroupnsMode
  const networks = obj(obj(inspect.NetworkSettings).Networks)
  const endpoints: Rec = {}
  for (const [name, settings] of Object.entries(networks)) endpoints[name] = { DriverOpts: obj(settings).DriverOpts ?? null }
  const mounts = Array.isArray(inspect.Mounts) ? inspect.Mounts.map(obj) : []
  return {
    kind: 'container',
    id: str(inspect.Id),
    name: str(inspect.Name).replace(/^\//, ''),
    owner: ownerOf(config.Labels),
    created: time(inspect.Created),
    body: json({ ...config, HostConfig: host, NetworkingConfig: { EndpointsConfig: endpoints } }),
    memory: typeof host.Memory === 'number' ? host.Memory : 0,
    volumes: mounts.filter((m) => m.Type === 'volume').map((m) => str(m.Name)).filter((n) => n !== ''),
    image: str(config.Image)
  }
}

function volume (v: Rec): ScannedObject {
  const name = str(v.Name)
  return {
    kind: 'volume', id: name, name, owner: ownerOf(v.Labels), created: time(v.CreatedAt),
    body: json({ Name: name, Driver: v.Driver ?? 'local', DriverOpts: v.Options ?? {}, Labels: v.Labels ?? {} }), memory: 0, volumes: [], image: ''
  }
}

function time (value: unknown): number | null {
  const at = typeof value === 'number' ? value * 1000 : Date.parse(str(value))
  return Number.isFinite(at) ? at : null
}

/** Image references the daemon resolves: the RepoTags and RepoDigests of the image `ref` names, or null when it has none. */
export async function imageReferences (socketPath: string, ref: string): Promise<readonly string[] | null> {
  const answer = await new DaemonClient(socketPath).get(`/images/${encodeURIComponent(ref)}/json`)
  if (answer.status === 404) return null
  if (answer.status !== 200) throw new Error(`the daemon answered GET /images/${ref}/json with ${answer.status}`)
  const image = obj(answer.body)
  const refs = [image.RepoTags, image.RepoDigests].flatMap((list) => (Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : []))
  return refs.filter((r) => r !== '<none>:<none>' && r !== '<none>@<none>')
}
