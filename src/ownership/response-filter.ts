/**
 * Response filters for what the daemon could not filter (filters.ts says
 * when): each is a Transform to pipe a 2xx daemon response through, for
 * one scope. Never pipe an error answer through one (it is not a list).
 *
 * - JSON array lists (`/containers/json`, `/networks`, `/images/json`)
 *   stream: each element is cut out of the array as it arrives, kept or
 *   dropped by its `Labels`, and nothing but the current element is held.
 * - `/volumes` and `/system/df` answer one object: it is read whole (these
 *   answers are small), filtered and written at the end.
 * - `/events` streams one JSON event per line (events-filter.ts).
 * A body that is not the shape expected ends the stream with an error:
 * dockgate never passes through what it could not filter.
 * The filtered body's length differs: drop the daemon's Content-Length.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { EventFilter, type OwnerLookup } from './events-filter.js'
import type { ResponseFilterKind } from './filters.js'
import { isVisible, ownerOfLabels, type ObjectKind, type OwnershipScope } from './scope.js'

/** The filter for `kind` (events need the owner index, for volume and network events). */
export function responseFilter (kind: ResponseFilterKind, scope: OwnershipScope, lookup: OwnerLookup): Transform {
  switch (kind) {
    case 'containers': return new JsonArrayFilter((item) => visibleItem(scope, 'container', item))
    case 'networks': return new JsonArrayFilter((item) => visibleItem(scope, 'network', item))
    case 'images': return new JsonArrayFilter((item) => visibleItem(scope, 'image', item))
    case 'volumes': return new WholeBodyFilter((body) => filterVolumeList(body, scope))
    case 'system-df': return new WholeBodyFilter((body) => filterSystemDf(body, scope))
    case 'events': return new EventFilter(scope, lookup)
  }
}

function visibleItem (scope: OwnershipScope, kind: ObjectKind, item: unknown): boolean {
  return isRecord(item) && isVisible(scope, kind, ownerOfLabels(item.Labels))
}

const SPACE = new Set([0x20, 0x09, 0x0a, 0x0d])
const [QUOTE, BACKSLASH, COMMA, OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT] = [0x22, 0x5c, 0x2c, 0x5b, 0x5d, 0x7b, 0x7d]

/**
 * Streams a top-level JSON array, keeping the elements `keep` accepts. The
 * scanner only tracks strings and nesting to find where each element ends;
 * each element is then parsed on its own.
 */
export class JsonArrayFilter extends Transform {
  private phase: 'before' | 'between' | 'element' | 'after' = 'before'
  private depth = 0
  private inString = false
  private escaped = false
  private parts: Buffer[] = []
  private kept = 0

  constructor (private readonly keep: (item: unknown) => boolean) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.scan(chunk)
      callback()
    } catch (err) {
      callback(err as Error)
    }
  }

  override _flush (callback: TransformCallback): void {
    callback(this.phase === 'after' ? null : new Error('the daemon\'s list answer ended before its array did'))
  }

  private scan (chunk: Buffer): void {
    let start = this.phase === 'element' ? 0 : -1
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i] as number
      if (this.phase === 'element') {
        if (!this.elementEnds(byte)) continue
        this.parts.push(chunk.subarray(start, i))
        this.finishElement()
        this.phase = 'between'
        start = -1
        if (byte === CLOSE_ARRAY) this.closeArray()
        continue
      }
      if (SPACE.has(byte)) continue
      if (this.phase === 'before') {
        if (byte !== OPEN_ARRAY) throw new Error('the daemon\'s list answer is not a JSON array')
        this.push('[')
        this.phase = 'between'
      } else if (this.phase === 'after') {
        throw new Error('the daemon\'s list answer has data after its array')
      } else if (byte === CLOSE_ARRAY) {
        this.closeArray()
      } else if (byte !== COMMA) {
        this.phase = 'element'
        start = i
        this.depth = 0
        this.elementEnds(byte)
      }
    }
    if (this.phase === 'element' && start !== -1) this.parts.push(Buffer.from(chunk.subarray(start)))
  }

  /** Feeds one byte of the current element; true when the byte ends it (a `,` or `]` at its top level). */
  private elementEnds (byte: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false
      else if (byte === BACKSLASH) this.escaped = true
      else if (byte === QUOTE) this.inString = false
      return false
    }
    if (byte === QUOTE) this.inString = true
    else if (byte === OPEN_ARRAY || byte === OPEN_OBJECT) this.depth++
    else if (byte === CLOSE_ARRAY || byte === CLOSE_OBJECT) {
      if (this.depth === 0) return true
      this.depth--
    } else if (byte === COMMA && this.depth === 0) return true
    return false
  }

  private finishElement (): void {
    const bytes = Buffer.concat(this.parts)
    this.parts = []
    const item: unknown = JSON.parse(bytes.toString('utf8'))
    if (!this.keep(item)) return
    this.push(this.kept === 0 ? bytes : Buffer.concat([Buffer.from(','), bytes]))
    this.kept++
  }

  private closeArray (): void {
    this.push(']')
    this.phase = 'after'
  }
}

/** Reads the whole body, then writes `filter(body)`. */
class WholeBodyFilter extends Transform {
  private readonly chunks: Buffer[] = []

  constructor (private readonly rewrite: (body: string) => string) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.chunks.push(chunk)
    callback()
  }

  override _flush (callback: TransformCallback): void {
    try {
      callback(null, this.rewrite(Buffer.concat(this.chunks).toString('utf8')))
    } catch (err) {
      callback(err as Error)
    }
  }
}

/** `GET /volumes` (`{"Volumes": [...], "Warnings": [...]}`) with only the visible volumes. */
export function filterVolumeList (body: string, scope: OwnershipScope): string {
  const value: unknown = JSON.parse(body)
  if (!isRecord(value)) throw new Error('the daemon\'s volume list is not an object')
  const volumes = value.Volumes
  const kept = Array.isArray(volumes) ? volumes.filter((v) => visibleItem(scope, 'volume', v)) : volumes
  return `${JSON.stringify({ ...value, Volumes: kept })}\n`
}

/**
 * `GET /system/df` with only what the scope sees: its containers and
 * volumes, the images it may use (each image's `Containers` recounted over
 * the visible containers), and no build cache (it has no owners; its size
 * becomes 0). `LayersSize`, the disk all image layers take, stays: it is
 * the host's, like /info.
 */
export function filterSystemDf (body: string, scope: OwnershipScope): string {
  const value: unknown = JSON.parse(body)
  if (!isRecord(value)) throw new Error('the daemon\'s disk usage answer is not an object')
  const containers = Array.isArray(value.Containers) ? value.Containers.filter((c) => visibleItem(scope, 'container', c)) : value.Containers
  const using = new Map<string, number>()
  for (const container of Array.isArray(containers) ? containers as unknown[] : []) {
    const image = isRecord(container) && typeof container.ImageID === 'string' ? container.ImageID : null
    if (image !== null) using.set(image, (using.get(image) ?? 0) + 1)
  }
  const images = Array.isArray(value.Images)
    ? value.Images.filter((i) => visibleItem(scope, 'image', i)).map((i: Record<string, unknown>) =>
      typeof i.Containers === 'number' && i.Containers >= 0 ? { ...i, Containers: typeof i.Id === 'string' ? using.get(i.Id) ?? 0 : 0 } : i)
    : value.Images
  const volumes = Array.isArray(value.Volumes) ? value.Volumes.filter((v) => visibleItem(scope, 'volume', v)) : value.Volumes
  const out: Record<string, unknown> = { ...value, Images: images, Containers: containers, Volumes: volumes }
  if (Array.isArray(value.BuildCache)) out.BuildCache = []
  if (typeof value.BuilderSize === 'number') out.BuilderSize = 0
  return `${JSON.stringify(out)}\n`
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
