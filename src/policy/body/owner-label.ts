/**
 * The owner label in request bodies: added to what an ownership team
 * creates (container, volume and network create bodies), refused where the
 * team sets it itself. Pure.
 *
 * - `Labels` is read as dockerd reads it: the field name matches in any case
 *   Go folds (`labels`, `LABELS`, `Labelſ`), and a body with two such keys
 *   is refused as ambiguous (Go would merge them, fields.ts). The label key
 *   itself is a map key and is exact: only `dockgate.owner` is the owner
 *   label.
 * - The labelled body is the original bytes with one member inserted, never
 *   a re-serialisation: numbers stay as written (int64 values such as
 *   `Memory` would round through a double), and the daemon reads exactly
 *   what was judged plus the label.
 * - An empty body (zero bytes) is returned unchanged: the daemon refuses it
 *   (EOF) and creates nothing. `null` is Go's zero value and creates (an
 *   anonymous volume, for one), so it becomes `{"Labels":{...}}`.
 */
import { refusal, type Refusal } from '../../shared/errors.js'
import { checkJsonContentType } from './endpoints.js'
import { asStruct, FieldFault, goFold } from './fields.js'
import { OWNER_LABEL } from '../ownership.js'
import { parseJson, parseJsonText, type BodyFault, type JsonObject, type JsonValue } from './json.js'

const LABELS = goFold('Labels')

/** Create endpoints whose body gets the owner label. */
export type LabelledCreate = 'container' | 'volume' | 'network'

/** Endpoints whose body may carry `Labels` that dockgate does not add to: refused when they set the owner label. */
export type LabelChecked = 'commit' | 'update'

const ENDPOINT_NAMES: Readonly<Record<LabelledCreate | LabelChecked, string>> = {
  container: 'POST /containers/create',
  volume: 'POST /volumes/create',
  network: 'POST /networks/create',
  commit: 'POST /commit',
  update: 'POST /containers/{id}/update'
}

/** A body to forward instead of the one received, or the refusal to answer. */
export type LabelledBody =
  | { readonly ok: true; readonly body: Uint8Array }
  | { readonly ok: false; readonly refusal: Refusal }

/**
 * The create body `body` (exactly the bytes received, with the request's
 * Content-Type values) with `Labels["dockgate.owner"] = owner` added.
 * Refuses (DG_OWNER_LABEL) a body that sets the owner label itself, and,
 * like the body judge, one that is not JSON, is ambiguous, has `Labels` of
 * the wrong type, or has a content type other than JSON. Never throws.
 */
export function labelCreateBody (kind: LabelledCreate, body: Uint8Array, contentTypes: readonly string[], owner: string): LabelledBody {
  const endpoint = ENDPOINT_NAMES[kind]
  try {
    checkJsonContentType(contentTypes)
    const parsed = parseJsonText(body)
    if (!parsed.ok) throw new FieldFault(parsed.fault)
    if (parsed.value === undefined) return { ok: true, body }
    const member = `${JSON.stringify(OWNER_LABEL)}:${JSON.stringify(owner)}`
    if (parsed.value === null) return { ok: true, body: encode(`{"Labels":{${member}}}`) }
    const root = parsed.value
    const labels = labelsEntry(root, endpoint)
    const spans = (root as JsonObject).spans
    if (spans === undefined) throw new Error('parseJsonText gives every object its spans')
    if (labels === null) {
      const comma = (root as JsonObject).entries.length > 0 ? ',' : ''
      return { ok: true, body: encode(insert(parsed.text, spans.open + 1, `"Labels":{${member}}${comma}`)) }
    }
    const [start, end] = spans.values[labels.index] ?? [0, 0]
    if (labels.value === null) return { ok: true, body: encode(parsed.text.slice(0, start) + `{${member}}` + parsed.text.slice(end)) }
    const inner = labels.value.spans
    if (inner === undefined) throw new Error('parseJsonText gives every object its spans')
    const comma = labels.value.entries.length > 0 ? ',' : ''
    return { ok: true, body: encode(insert(parsed.text, inner.open + 1, `${member}${comma}`)) }
  } catch (err) {
    return { ok: false, refusal: refusalOf(endpoint, err) }
  }
}

/**
 * Null when a commit or update body does not set the owner label, else the
 * refusal (DG_OWNER_LABEL; or the body judge's refusal for a body that
 * cannot be read). An update body cannot change labels (the daemon ignores
 * `Labels` there) but is refused all the same, so nobody believes it did.
 */
export function checkOwnerLabel (kind: LabelChecked, value: JsonValue | undefined): Refusal | null {
  const endpoint = ENDPOINT_NAMES[kind]
  try {
    if (value === undefined || value === null) return null
    labelsEntry(value, endpoint)
    return null
  } catch (err) {
    return refusalOf(endpoint, err)
  }
}

/** {@link checkOwnerLabel} on raw bytes, for callers that have not parsed the body. */
export function checkOwnerLabelBytes (kind: LabelChecked, body: Uint8Array): Refusal | null {
  const parsed = parseJson(body)
  if (!parsed.ok) return refusalOf(ENDPOINT_NAMES[kind], new FieldFault(parsed.fault))
  return checkOwnerLabel(kind, parsed.value)
}

/** Thrown when a body sets the owner label; becomes DG_OWNER_LABEL. */
class ForgedLabel extends Error {}

/**
 * The body's `Labels` member (its index among the top-level entries and
 * its value), or null when absent. Throws FieldFault for an unreadable
 * body, ForgedLabel when it sets the owner label.
 */
function labelsEntry (root: JsonValue, endpoint: string): { index: number; value: JsonObject | null } | null {
  const view = asStruct(root, '')
  const labels = view.get('Labels')
  if (labels === undefined) return null
  // StructView refused two keys that fold alike, so exactly one entry is Labels.
  const index = (root as JsonObject).entries.findIndex(([key]) => goFold(key) === LABELS)
  if (view.stringMap('Labels').has(OWNER_LABEL)) throw new ForgedLabel(endpoint)
  return { index, value: labels === null ? null : labels as JsonObject }
}

const FAULT_CODES = { invalid: 'DG_BODY_INVALID', ambiguous: 'DG_BODY_AMBIGUOUS', 'media-type': 'DG_BODY_MEDIA_TYPE' } as const

function refusalOf (endpoint: string, err: unknown): Refusal {
  if (err instanceof ForgedLabel) {
    return refusal('DG_OWNER_LABEL', `${endpoint}: the ${OWNER_LABEL} label is set by dockgate to the team that owns the object; remove it from Labels`)
  }
  if (err instanceof FieldFault) {
    const fault: BodyFault = err.fault
    return refusal(FAULT_CODES[fault.kind], `${endpoint}: ${fault.message}`)
  }
  throw err
}

function insert (text: string, at: number, part: string): string {
  return text.slice(0, at) + part + text.slice(at)
}

function encode (text: string): Uint8Array {
  return new TextEncoder().encode(text)
}
