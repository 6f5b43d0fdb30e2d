/**
 * The owner index's memory: every container, exec instance, volume,
 * network and image the daemon has, with its id, names and owner, and how
 * the daemon resolves a reference among them. Pure (the daemon side is in
 * owner-index.ts), so resolution is tested without a daemon.
 *
 * Resolution follows dockerd 20.10 step by step:
 * - container: full id, then exact name (`web` and `/web` are the same;
 *   legacy link names like `/web/db` are names too), then a unique id
 *   prefix (several: the daemon's "Multiple IDs found" error);
 * - exec: full id only;
 * - volume: exact name (a volume's name is its id);
 * - network: full id, then exact name (several networks may share one:
 *   ambiguous), then a unique id prefix (several: ambiguous);
 * - image: id (`sha256:HEX` or 64 hex digits); else the normalised name in
 *   the tags and digests (image-ref.ts); else a unique id prefix (several:
 *   "No such image", as the daemon says).
 * Scoped, a step that decides counts only if every object it matches is
 * visible: an exact name or id held by an invisible object is missing, and
 * so is a prefix that matches any invisible object, whoever else it
 * matches. Cheap: Map lookups; a prefix is a binary search.
 */
import { parseImageRef } from '../shared/image-ref.js'
import { isVisible, type ObjectKind, type OwnershipScope } from './scope.js'

/** One object as the index holds it. `names` are lookup keys: container names with '/', a volume or network name, image tag and digest keys. */
export interface IndexedObject {
  readonly id: string
  readonly owner: string | null
  readonly names: readonly string[]
  /** For an exec instance: its container's id. */
  readonly container?: string
}

/**
 * How a reference resolves: one object; none; or a reference the daemon
 * refuses without acting on any object (`ambiguous`: several of the
 * caller's own objects match; `invalid`: not a reference at all, e.g. an
 * image name with capitals): forward those unchanged, the daemon answers.
 */
export type Resolution =
  | { readonly kind: 'found'; readonly id: string; readonly owner: string | null }
  | { readonly kind: 'missing' }
  | { readonly kind: 'ambiguous' }
  | { readonly kind: 'invalid' }

const MISSING: Resolution = Object.freeze({ kind: 'missing' })
const AMBIGUOUS: Resolution = Object.freeze({ kind: 'ambiguous' })

/** How many removed objects keep their owner for the events filter (events can trail the removal). */
const TOMBSTONES = 4096

/** The objects of one kind. */
class Objects {
  readonly byId = new Map<string, IndexedObject>()
  readonly byName = new Map<string, Set<string>>()
  private sorted: string[] | null = null

  put (object: IndexedObject): void {
    this.delete(object.id)
    this.byId.set(object.id, object)
    for (const name of object.names) {
      let ids = this.byName.get(name)
      if (ids === undefined) this.byName.set(name, ids = new Set())
      ids.add(object.id)
    }
    this.sorted = null
  }

  delete (id: string): IndexedObject | undefined {
    const object = this.byId.get(id)
    if (object === undefined) return undefined
    this.byId.delete(id)
    for (const name of object.names) {
      const ids = this.byName.get(name)
      ids?.delete(id)
      if (ids?.size === 0) this.byName.delete(name)
    }
    this.sorted = null
    return object
  }

  named (name: string): IndexedObject[] {
    return [...this.byName.get(name) ?? []].flatMap((id) => this.byId.get(id) ?? [])
  }

  /** Objects whose id starts with `prefix` (a binary search over the sorted ids). */
  withPrefix (prefix: string): IndexedObject[] {
    if (prefix === '') return []
    this.sorted ??= [...this.byId.keys()].sort()
    const ids = this.sorted
    let low = 0
    let high = ids.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if ((ids[mid] as string) < prefix) low = mid + 1
      else high = mid
    }
    const out: IndexedObject[] = []
    for (let i = low; i < ids.length && (ids[i] as string).startsWith(prefix); i++) out.push(this.byId.get(ids[i] as string) as IndexedObject)
    return out
  }
}

/** Every kind's objects, and the owners of recently removed ones. */
export class OwnerStore {
  private readonly kinds: Record<ObjectKind, Objects> = {
    container: new Objects(), exec: new Objects(), volume: new Objects(), network: new Objects(), image: new Objects()
  }

  private readonly removed = new Map<string, string | null>()

  /** Adds or replaces an object (same id). */
  put (kind: ObjectKind, object: IndexedObject): void {
    this.kinds[kind].put(object)
    this.removed.delete(`${kind}:${object.id}`)
  }

  /** Removes an object; its owner stays known to {@link ownerOf} for a while. A container takes its exec instances along. */
  remove (kind: ObjectKind, id: string): void {
    const object = this.kinds[kind].delete(id)
    if (object === undefined) return
    this.removed.set(`${kind}:${id}`, object.owner)
    if (this.removed.size > TOMBSTONES) this.removed.delete(this.removed.keys().next().value as string)
    if (kind === 'container') {
      for (const exec of [...this.kinds.exec.byId.values()]) if (exec.container === id) this.kinds.exec.delete(exec.id)
    }
  }

  /** Renames a container: its names become `names`. */
  rename (kind: ObjectKind, id: string, names: readonly string[]): void {
    const object = this.kinds[kind].byId.get(id)
    if (object !== undefined) this.kinds[kind].put({ ...object, names })
  }

  /** Replaces every object of `kind` (a re-list); removed ones become tombstones. */
  replaceAll (kind: ObjectKind, objects: readonly IndexedObject[]): void {
    const keep = new Set(objects.map((o) => o.id))
    for (const id of [...this.kinds[kind].byId.keys()]) if (!keep.has(id)) this.remove(kind, id)
    for (const object of objects) this.put(kind, object)
  }

  /** The object with this exact id, if indexed. */
  get (kind: ObjectKind, id: string): IndexedObject | undefined {
    return this.kinds[kind].byId.get(id)
  }

  /** Every indexed object of `kind` (for tests and `owners list`). */
  all (kind: ObjectKind): IndexedObject[] {
    return [...this.kinds[kind].byId.values()]
  }

  /** Objects holding exactly `name` (no id or prefix matching): for names a request would take. */
  holders (kind: ObjectKind, name: string): IndexedObject[] {
    const key = kind === 'container' ? withSlash(name) : kind === 'image' ? imageKeyOf(name) : name
    return key === null ? [] : this.kinds[kind].named(key)
  }

  /**
   * The owner of an object by exact id, including one removed lately:
   * a string, null (no owner), or undefined (not known).
   */
  ownerOf (kind: ObjectKind, id: string): string | null | undefined {
    const object = this.kinds[kind].byId.get(id)
    if (object !== undefined) return object.owner
    const key = `${kind}:${id}`
    return this.removed.has(key) ? this.removed.get(key) ?? null : undefined
  }

  /** How the daemon would resolve `ref` among the indexed objects, for `scope` (null: unscoped, as the daemon itself). */
  resolve (kind: ObjectKind, ref: string, scope: OwnershipScope | null): Resolution {
    if (ref === '') return MISSING
    const objects = this.kinds[kind]
    const byId = objects.byId.get(ref)
    const step = (matched: readonly IndexedObject[], several: Resolution): Resolution | null => {
      if (matched.length === 0) return null
      if (matched.some((o) => !isVisible(scope, kind, o.owner))) return MISSING
      const [only] = matched
      return matched.length === 1 && only !== undefined ? { kind: 'found', id: only.id, owner: only.owner } : several
    }
    switch (kind) {
      case 'exec':
      case 'volume':
        return step(byId === undefined ? [] : [byId], AMBIGUOUS) ?? MISSING
      case 'container':
        return step(byId === undefined ? [] : [byId], AMBIGUOUS) ??
          step(objects.named(withSlash(ref)), AMBIGUOUS) ??
          step(objects.withPrefix(ref), AMBIGUOUS) ?? MISSING
      case 'network':
        return step(byId === undefined ? [] : [byId], AMBIGUOUS) ??
          step(objects.named(ref), AMBIGUOUS) ??
          step(objects.withPrefix(ref), AMBIGUOUS) ?? MISSING
      case 'image':
        return this.resolveImage(ref, step)
    }
  }

  private resolveImage (ref: string, step: (matched: readonly IndexedObject[], several: Resolution) => Resolution | null): Resolution {
    const images = this.kinds.image
    const parsed = parseImageRef(ref)
    if (parsed.kind === 'invalid') return MISSING
    if (parsed.kind === 'id') {
      const image = images.byId.get(parsed.id)
      return step(image === undefined ? [] : [image], MISSING) ?? MISSING
    }
    const named = step(images.named(parsed.key), MISSING)
    if (named !== null || parsed.prefix === null) return named ?? MISSING
    // Image ids are `sha256:HEX`: `fbaa` and `sha256:fbaa` are both prefixes of HEX.
    return step(images.withPrefix(`sha256:${parsed.prefix.hex}`), MISSING) ?? MISSING
  }
}

function withSlash (name: string): string {
  return name.startsWith('/') ? name : `/${name}`
}

function imageKeyOf (name: string): string | null {
  const parsed = parseImageRef(name)
  return parsed.kind === 'named' ? parsed.key : null
}
