/**
 * The owner index: who owns every container, exec instance, volume,
 * network and image on the daemon, kept in memory so that deciding
 * ownership is a Map lookup, not a daemon round trip.
 *
 * - Built at start from the daemon's lists (containers with `all=1`,
 *   volumes, networks, images with `all=1`); exec instances are learnt from
 *   `exec_create` events and from {@link OwnerIndex.recordExec}.
 * - Kept current from the daemon's own `/events` stream (container
 *   create, rename, destroy, exec_create, exec_die; volume and network
 *   create and destroy; any image event re-lists the images, since `untag`
 *   and `delete` do not say which tags went). The stream is opened before
 *   the lists are read and its events are applied after them, so nothing
 *   that happens meanwhile is lost. When the stream ends (the daemon
 *   stopped or restarted), it reconnects with `since` the last event's time
 *   and re-lists everything, retrying with a growing delay.
 * - A reference the memory does not know at all is looked up on the daemon
 *   (inspect), which also answers exactly as the daemon resolves it; what it
 *   finds is remembered.
 * - Restart-safe by construction: the owner is the object's label on the
 *   daemon, and the memory is only ever filled from the daemon. An exec
 *   instance belongs to its container's owner.
 */
import { DaemonClient, type EventStream } from './daemon.js'
import type { OwnerLookup } from './events-filter.js'
import { imageKey, imageRepository } from '../shared/image-ref.js'
import { notFoundMessage } from './not-found.js'
import { isVisible, OWNER_LABEL, ownerOfLabels, type ObjectKind, type OwnershipScope } from './scope.js'
import { OwnerStore, type IndexedObject, type Resolution } from './store.js'

/** Where the daemon is, and what to tell about trouble following it. */
export interface OwnerIndexOptions {
  readonly socketPath: string
  /** First delay before reconnecting the events stream; it doubles up to 30 s. */
  readonly retryMs?: number
  /**
   * How often everything is re-listed even when the stream is fine (default
   * 5 minutes; 0: never): a safety net for changes the daemon announces no
   * event for (dockerd 20.10 sends no `destroy` when a config-only network
   * is removed).
   */
  readonly relistMs?: number
  /** Called with a sentence when the stream ends or a re-list fails (for the log). */
  readonly onProblem?: (message: string) => void
}

/** Whether a request may give an object a name: `free` (nobody holds it), `allowed`, or `taken` (refuse: DG_OWNER_CONFLICT). */
export type ClaimResult = 'free' | 'allowed' | 'taken'

const MISSING: Resolution = Object.freeze({ kind: 'missing' })
const EVENT_TYPES = encodeURIComponent(JSON.stringify({ type: { container: true, volume: true, network: true, image: true } }))

type Rec = Record<string, unknown>

/** The owner index of one daemon. */
export class OwnerIndex implements OwnerLookup {
  private readonly store = new OwnerStore()
  private readonly daemon: DaemonClient
  private stream: EventStream | null = null
  private closed = false
  private lastEventTime: number | null = null
  private buffered: Rec[] | null = null
  private queue: Promise<void> = Promise.resolve()
  private imageTimer: NodeJS.Timeout | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private relistTimer: NodeJS.Timeout | null = null
  private wake = (): void => {}
  private readonly loop: Promise<void>
  private markReady = (): void => {}
  /** Resolves once the index has been built from the daemon the first time. */
  readonly ready: Promise<void>

  /** Starts building and following; see {@link ready}. */
  constructor (private readonly options: OwnerIndexOptions) {
    this.daemon = new DaemonClient(options.socketPath)
    this.ready = new Promise((resolve) => { this.markReady = resolve })
    this.loop = this.follow()
    const every = options.relistMs ?? 300_000
    if (every > 0) {
      this.relistTimer = setInterval(() => { this.scheduleRelist() }, every)
      this.relistTimer.unref()
    }
  }

  /**
   * How the daemon resolves `ref` (unscoped, as for an admin). Memory first;
   * a reference it does not know at all is looked up on the daemon.
   * Rejects only when the daemon cannot be reached.
   */
  async resolve (kind: ObjectKind, ref: string): Promise<Resolution> {
    return await this.resolveFor(null, kind, ref)
  }

  /**
   * How `ref` resolves for `scope` (null: an admin): `found` only if the
   * object the daemon would pick is visible to the scope; an id, name or
   * prefix that matches any object the scope may not see is `missing`, so
   * name reuse and prefixes never reach another team's object. Forward a
   * `found` request with the ref replaced by the full id where the API
   * allows it (containers, exec, networks), so the daemon cannot pick
   * another object in between. `ambiguous` and `invalid`: forward as is.
   */
  async resolveFor (scope: OwnershipScope | null, kind: ObjectKind, ref: string): Promise<Resolution> {
    const known = this.store.resolve(kind, ref, null)
    if (known.kind !== 'missing') return scope === null ? known : this.store.resolve(kind, ref, scope)
    if (ref === '') return MISSING
    const fetched = await this.fetch(kind, ref)
    if (fetched.kind === 'found') return isVisible(scope, kind, fetched.owner) ? fetched : MISSING
    // The daemon sees several matches the memory does not: they may be anyone's.
    if (fetched.kind === 'ambiguous' && scope !== null) return MISSING
    return fetched
  }

  /** Memory only, never the daemon: for tests and benchmarks of the per-request cost. */
  peek (scope: OwnershipScope | null, kind: ObjectKind, ref: string): Resolution {
    return this.store.resolve(kind, ref, scope)
  }

  /**
   * For an image push without a tag: `found` (the first image) when the
   * repository has tagged images and the scope sees every one, else
   * `missing` (pushing would push another team's image too).
   */
  repositoryFor (scope: OwnershipScope | null, name: string): Resolution {
    const images = this.repositoryImages(name)
    const [first] = images
    if (first === undefined || images.some((image) => !isVisible(scope, 'image', image.owner))) return MISSING
    return { kind: 'found', id: first.id, owner: first.owner }
  }

  /**
   * Whether a request of `scope` may give `name` to an object that will be
   * owned by `result` (the scope's owner; null for a pulled image, which
   * nobody owns; for a tag, the source image's owner). Taken when another
   * team's object holds the name, or when an owned object would take a
   * name from a shared (unowned) image. `repository` claims every tag of an
   * image repository (`docker pull -a`). Admins (scope null) may always.
   */
  async claimFor (scope: OwnershipScope | null, claim: { readonly kind: ObjectKind; readonly name: string; readonly repository?: true }, result: string | null): Promise<ClaimResult> {
    if (scope === null) return 'allowed'
    let holders = claim.repository === true ? this.repositoryImages(claim.name) : this.store.holders(claim.kind, claim.name)
    if (holders.length === 0 && claim.repository !== true && claim.kind !== 'network') {
      await this.fetch(claim.kind, claim.name)
      holders = this.store.holders(claim.kind, claim.name)
    }
    if (holders.length === 0) return 'free'
    const ok = holders.every((h) => isVisible(scope, claim.kind, h.owner) && (h.owner !== null || result === null))
    return ok ? 'allowed' : 'taken'
  }

  /** Remembers an exec instance the caller created (from the `Id` of a 201 to `POST /containers/{id}/exec`). */
  recordExec (id: string, owner: string | null, container?: string): void {
    this.store.put('exec', { id, names: [], owner, ...(container === undefined ? {} : { container }) })
  }

  /** Remembers an object the caller created (a 201 create answer), so a request right after it need not wait for its event. */
  recordCreated (kind: Exclude<ObjectKind, 'exec'>, id: string, names: readonly string[], owner: string | null): void {
    this.store.put(kind, { id, names: kind === 'container' ? names.map((n) => n.startsWith('/') ? n : `/${n}`) : names, owner })
  }

  /**
   * Creates the named volume `name` owned by `owner`, as the daemon would
   * create it unlabelled for a container that mounts a volume that does
   * not exist yet (`docker run -v NAME:/data`). An existing volume of that
   * name is left as it is (the daemon's create is idempotent); rejects when
   * the daemon refuses.
   */
  async createVolume (name: string, owner: string): Promise<void> {
    const answer = await this.daemon.post('/volumes/create', { Name: name, Labels: { [OWNER_LABEL]: owner } })
    if (answer.status !== 201) throw new Error(`the daemon refused to create volume ${name} (${answer.status})`)
    await this.fetch('volume', name)
  }

  /** The daemon's 404 message for a missing object (not-found.ts has every endpoint's whole answer). */
  notFoundMessage (kind: ObjectKind, ref: string): string {
    return notFoundMessage(kind, ref)
  }

  /** Every object of `kind` the index holds (for `dockgate owners list|orphans` and tests). */
  objects (kind: ObjectKind): IndexedObject[] {
    return this.store.all(kind)
  }

  ownerOf (kind: ObjectKind, id: string): string | null | undefined {
    return this.store.ownerOf(kind, id)
  }

  async lookupOwner (kind: ObjectKind, id: string): Promise<string | null | undefined> {
    const known = this.store.ownerOf(kind, id)
    if (known !== undefined) return known
    try {
      const fetched = await this.fetch(kind, id)
      return fetched.kind === 'found' ? fetched.owner : undefined
    } catch {
      return undefined
    }
  }

  /** Stops following the daemon. */
  async close (): Promise<void> {
    this.closed = true
    this.stream?.close()
    if (this.imageTimer !== null) clearTimeout(this.imageTimer)
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    if (this.relistTimer !== null) clearInterval(this.relistTimer)
    this.wake()
    this.markReady()
    await this.loop
    await this.queue
  }

  private repositoryImages (name: string): IndexedObject[] {
    const repository = imageRepository(name)
    if (repository === null) return []
    return this.store.all('image').filter((image) => image.names.some((key) => key.startsWith(`${repository}:`) || key.startsWith(`${repository}@`)))
  }

  private async follow (): Promise<void> {
    let delay = this.options.retryMs ?? 500
    while (!this.closed) {
      try {
        await this.connect()
        delay = this.options.retryMs ?? 500
        if (!this.closed) this.options.onProblem?.('the Docker daemon\'s event stream ended; reconnecting')
      } catch (err) {
        if (!this.closed) this.options.onProblem?.(`cannot follow the Docker daemon (${(err as Error).message}); retrying in ${delay} ms`)
      }
      if (this.closed) break
      await new Promise<void>((resolve) => {
        this.wake = resolve
        this.retryTimer = setTimeout(resolve, delay)
      })
      delay = Math.min(delay * 2, 30_000)
    }
  }

  private async connect (): Promise<void> {
    this.buffered = []
    const since = this.lastEventTime === null ? '' : `&since=${this.lastEventTime}`
    const stream = this.daemon.stream(`/events?filters=${EVENT_TYPES}${since}`, (line) => { this.onLine(line) })
    this.stream = stream
    try {
      await stream.opened
      await this.relist()
      const buffered = this.buffered
      this.buffered = null
      for (const event of buffered) this.enqueue(event)
      await this.queue
      this.markReady()
    } catch (err) {
      stream.close()
      throw err
    } finally {
      this.buffered = null
    }
    await stream.ended
  }

  private onLine (line: string): void {
    let event: unknown
    try {
      event = JSON.parse(line)
    } catch {
      return
    }
    if (!isRecord(event)) return
    if (this.buffered !== null) this.buffered.push(event)
    else this.enqueue(event)
  }

  private enqueue (event: Rec): void {
    this.queue = this.queue.then(async () => { await this.apply(event) }).catch((err: Error) => {
      this.options.onProblem?.(`could not apply a Docker event to the owner index: ${err.message}`)
    })
  }

  private async relist (): Promise<void> {
    const list = async (path: string): Promise<unknown> => {
      const answer = await this.daemon.get(path)
      if (answer.status !== 200) throw new Error(`the Docker daemon answered GET ${path} with ${answer.status}`)
      return answer.body
    }
    const containers = asList(await list('/containers/json?all=1'))
    const volumes = asList(asRecord(await list('/volumes')).Volumes)
    const networks = asList(await list('/networks'))
    this.store.replaceAll('container', containers.map((c) => ({ id: str(c.Id), names: asList(c.Names).map(String), owner: ownerOfLabels(c.Labels) })))
    this.store.replaceAll('volume', volumes.map((v) => volumeObject(v)))
    this.store.replaceAll('network', networks.map((n) => networkObject(n)))
    await this.relistImages()
  }

  private async relistImages (): Promise<void> {
    const answer = await this.daemon.get('/images/json?all=1')
    if (answer.status !== 200) throw new Error(`the Docker daemon answered GET /images/json with ${answer.status}`)
    this.store.replaceAll('image', asList(answer.body).map((i) => imageObject(i, ownerOfLabels(i.Labels))))
  }

  private async apply (event: Rec): Promise<void> {
    if (typeof event.time === 'number') this.lastEventTime = event.time
    const action = typeof event.Action === 'string' ? event.Action : ''
    const actor = asRecord(event.Actor)
    const id = str(actor.ID)
    const attributes = asRecord(actor.Attributes)
    const owner = typeof attributes[OWNER_LABEL] === 'string' ? attributes[OWNER_LABEL] : null
    switch (event.Type) {
      case 'container':
        if (action === 'create') this.store.put('container', { id, names: [`/${str(attributes.name)}`], owner })
        else if (action === 'rename') this.rename(id, str(attributes.oldName), str(attributes.name), owner)
        else if (action === 'destroy') this.store.remove('container', id)
        else if (action.startsWith('exec_create')) this.recordExec(str(attributes.execID), owner, id)
        else if (action.startsWith('exec_die')) this.store.remove('exec', str(attributes.execID))
        return
      case 'volume':
      case 'network':
        if (action === 'destroy') this.store.remove(event.Type, id)
        else if (action === 'create') await this.fetch(event.Type, id)
        return
      case 'image':
        this.scheduleImages()
    }
  }

  private rename (id: string, oldName: string, name: string, owner: string | null): void {
    const old = oldName.startsWith('/') ? oldName : `/${oldName}`
    const names = (this.store.get('container', id)?.names ?? []).filter((n) => n !== old)
    this.store.put('container', { id, names: [...names, `/${name}`], owner })
  }

  /** A full re-list in the event queue (so it is ordered with the events), only while the stream is live. */
  private scheduleRelist (): void {
    if (this.buffered !== null || this.closed) return
    this.queue = this.queue.then(async () => { await this.relist() }).catch((err: Error) => {
      this.options.onProblem?.(`could not re-list the daemon's objects: ${err.message}`)
    })
  }

  private scheduleImages (): void {
    if (this.imageTimer !== null) return
    this.imageTimer = setTimeout(() => {
      this.imageTimer = null
      this.queue = this.queue.then(async () => { await this.relistImages() }).catch((err: Error) => {
        this.options.onProblem?.(`could not re-list images: ${err.message}`)
      })
    }, 50)
  }

  /** The daemon's own resolution of `ref` (inspect), remembered when found. */
  private async fetch (kind: ObjectKind, ref: string): Promise<Resolution> {
    const encoded = encodeURIComponent(ref)
    const path = { container: `/containers/${encoded}/json`, exec: `/exec/${encoded}/json`, volume: `/volumes/${encoded}`, network: `/networks/${encoded}`, image: `/images/${encoded}/json` }[kind]
    const answer = await this.daemon.get(path)
    if (answer.status === 404) return MISSING
    if (answer.status === 400 && kind === 'image') return { kind: 'invalid' }
    if (answer.status !== 200) return { kind: 'ambiguous' }
    const body = asRecord(answer.body)
    let object: IndexedObject
    switch (kind) {
      case 'container':
        object = { id: str(body.Id), names: [str(body.Name)], owner: ownerOfLabels(asRecord(body.Config).Labels) }
        break
      case 'exec': {
        const container = await this.resolve('container', str(body.ContainerID))
        object = { id: str(body.ID), names: [], owner: container.kind === 'found' ? container.owner : null, container: str(body.ContainerID) }
        break
      }
      case 'volume': object = volumeObject(body); break
      case 'network': object = networkObject(body); break
      case 'image': object = imageObject(body, ownerOfLabels(asRecord(body.Config).Labels)); break
    }
    this.store.put(kind, object)
    return { kind: 'found', id: object.id, owner: object.owner }
  }
}

function volumeObject (v: Rec): IndexedObject {
  return { id: str(v.Name), names: [str(v.Name)], owner: ownerOfLabels(v.Labels) }
}

function networkObject (n: Rec): IndexedObject {
  return { id: str(n.Id), names: [str(n.Name)], owner: ownerOfLabels(n.Labels) }
}

function imageObject (i: Rec, owner: string | null): IndexedObject {
  const entries = [...asList(i.RepoTags), ...asList(i.RepoDigests)].map(String).filter((t) => t !== '<none>:<none>' && t !== '<none>@<none>')
  return { id: str(i.Id), names: entries.flatMap((t) => imageKey(t) ?? []), owner }
}

function isRecord (value: unknown): value is Rec {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function asRecord (value: unknown): Rec {
  return isRecord(value) ? value : {}
}

function asList (value: unknown): Rec[] {
  return Array.isArray(value) ? value as Rec[] : []
}

function str (value: unknown): string {
  return typeof value === 'string' ? value : ''
}
