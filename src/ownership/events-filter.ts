/**
 * `GET /events` for an ownership team: the daemon's event stream (one JSON
 * object per line) with only the events of objects the team may see.
 *
 * - container events (including exec_create/exec_start/exec_die, which
 *   are container events) carry the container's labels in their
 *   attributes, including on `die` and `destroy`: the owner label decides;
 * - image events carry the image's labels while it exists; for a deleted
 *   image the owner index still knows the owner for a while; an image
 *   without an owner is shared, so its events are visible (a pull's events
 *   name the reference, not an id, and are shared too);
 * - volume and network events carry no labels: the owner index answers by
 *   the volume name or network id, from memory (objects removed lately
 *   included), else by asking the daemon; an owner it cannot find hides
 *   the event;
 * - daemon, plugin and Swarm events belong to no team and are hidden.
 * Events stay in order (a lookup holds back the ones after it). A line
 * that is not an event object ends the stream with an error.
 */
import { Transform, type TransformCallback } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'
import { isVisible, OWNER_LABEL, type ObjectKind, type OwnershipScope } from './scope.js'

/** What the events filter asks the owner index: the owner by exact id (undefined: not known). */
export interface OwnerLookup {
  /** From memory, including objects removed lately. */
  ownerOf (kind: ObjectKind, id: string): string | null | undefined
  /** From memory, else by inspecting the object on the daemon. */
  lookupOwner (kind: ObjectKind, id: string): Promise<string | null | undefined>
}

/** Decides one event; a promise only when the owner index must ask the daemon. */
export function eventVisible (event: unknown, scope: OwnershipScope, lookup: OwnerLookup): boolean | Promise<boolean> {
  if (!isRecord(event)) throw new Error('an event is not a JSON object')
  const actor = isRecord(event.Actor) ? event.Actor : {}
  const id = typeof actor.ID === 'string' ? actor.ID : ''
  const attributes = isRecord(actor.Attributes) ? actor.Attributes : {}
  const labelled = typeof attributes[OWNER_LABEL] === 'string' ? attributes[OWNER_LABEL] : null
  switch (event.Type) {
    case 'container':
      return isVisible(scope, 'container', labelled)
    case 'image':
      return isVisible(scope, 'image', labelled ?? lookup.ownerOf('image', id) ?? null)
    case 'volume':
    case 'network': {
      const kind = event.Type
      const known = lookup.ownerOf(kind, id)
      if (known !== undefined) return isVisible(scope, kind, known)
      return lookup.lookupOwner(kind, id).then((owner) => owner !== undefined && isVisible(scope, kind, owner))
    }
    default:
      return false
  }
}

/** The Transform for one events response. */
export class EventFilter extends Transform {
  private pending = ''
  private readonly decoder = new StringDecoder('utf8')

  constructor (private readonly scope: OwnershipScope, private readonly lookup: OwnerLookup) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const text = this.pending + this.decoder.write(chunk)
    const cut = text.lastIndexOf('\n')
    if (cut === -1) {
      this.pending = text
      callback()
      return
    }
    this.pending = text.slice(cut + 1)
    this.lines(text.slice(0, cut).split('\n')).then(() => { callback() }, (err: Error) => { callback(err) })
  }

  override _flush (callback: TransformCallback): void {
    const rest = this.pending + this.decoder.end()
    this.pending = ''
    if (rest.trim() === '') {
      callback()
      return
    }
    this.lines([rest]).then(() => { callback() }, (err: Error) => { callback(err) })
  }

  private async lines (lines: readonly string[]): Promise<void> {
    for (const line of lines) {
      if (line.trim() === '') continue
      const decision = eventVisible(JSON.parse(line), this.scope, this.lookup)
      if (decision === true || (decision !== false && await decision)) this.push(`${line}\n`)
    }
  }
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
