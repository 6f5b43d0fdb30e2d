/**
 * Reading Go structs out of parsed JSON the way encoding/json fills them.
 *
 * Go matches an object key to a struct field case-insensitively: ASCII
 * letters fold, and so do two non-ASCII letters, U+212A KELVIN SIGN (as K)
 * and U+017F LATIN SMALL LETTER LONG S (as S); nothing else does (Go 1.19's
 * equalFoldRight and Go 1.21+'s foldName agree on this). So `privileged`,
 * `PRIVILEGED` and `Bindſ` all reach the field they fold to.
 *
 * A struct object with two keys that fold to the same name is refused as
 * ambiguous rather than resolved: Go applies them in order, merging objects,
 * so "the last one wins" is not even the whole story. Wrong JSON types for a
 * field the judge reads are refused too (the daemon would fail on them;
 * dockgate does not guess what it meant). `null` is Go's zero value.
 */
import type { BodyFault, JsonObject, JsonValue } from './json.js'

/** Go's case fold for matching a JSON key to an (ASCII) struct field name. */
export function goFold (key: string): string {
  let out = ''
  for (const ch of key) {
    if (ch === '\u212a') out += 'K'
    else if (ch === '\u017f') out += 'S'
    else if (ch >= 'a' && ch <= 'z') out += ch.toUpperCase()
    else out += ch
  }
  return out
}

/** Thrown by readers when the body cannot be judged; the judge turns it into a refusal. */
export class FieldFault extends Error {
  constructor (readonly fault: BodyFault) {
    super(fault.message)
  }
}

/** A field's place in the body for messages, e.g. `HostConfig.Binds[2]`. */
function child (where: string, name: string): string {
  return where === '' ? name : `${where}.${name}`
}

function invalid (where: string, expected: string): never {
  throw new FieldFault({ kind: 'invalid', message: `request body field ${where} must be ${expected}` })
}

/**
 * A JSON object read as a Go struct: lookups fold keys like Go. Building one
 * checks every key, so an ambiguous object is refused whichever field the
 * judge then asks for.
 */
export class StructView {
  private readonly byFold = new Map<string, { key: string; value: JsonValue }>()

  /** `where` names the object in messages (`''` for the body itself). */
  constructor (object: JsonObject, readonly where: string) {
    for (const [key, value] of object.entries) {
      const folded = goFold(key)
      const earlier = this.byFold.get(folded)
      if (earlier !== undefined) {
        throw new FieldFault({
          kind: 'ambiguous',
          message: `request body has both ${JSON.stringify(earlier.key)} and ${JSON.stringify(key)} in ${where === '' ? 'the top-level object' : where}; the daemon reads keys case-insensitively, so it is ambiguous`
        })
      }
      this.byFold.set(folded, { key, value })
    }
  }

  /** The raw value of the field `name` (matched like Go), or undefined when absent. */
  get (name: string): JsonValue | undefined {
    return this.byFold.get(goFold(name))?.value
  }

  /** True iff the field is present and not null. */
  has (name: string): boolean {
    const value = this.get(name)
    return value !== undefined && value !== null
  }

  /** A bool field; absent or null is false. */
  bool (name: string): boolean {
    const value = this.get(name)
    if (value === undefined || value === null) return false
    if (typeof value !== 'boolean') invalid(child(this.where, name), 'true or false')
    return value
  }

  /**
   * An integer field (Go int64 and *int64): absent or null is null, so a
   * caller can tell "not sent" from 0 where Go can (pointers). A fraction
   * is refused as Go refuses it.
   */
  int (name: string): number | null {
    const value = this.get(name)
    if (value === undefined || value === null) return null
    if (typeof value !== 'number' || !Number.isInteger(value)) invalid(child(this.where, name), 'a whole number')
    return value
  }

  /** A string field; absent or null is ''. */
  string (name: string): string {
    const value = this.get(name)
    if (value === undefined || value === null) return ''
    if (typeof value !== 'string') invalid(child(this.where, name), 'a string')
    return value
  }

  /** A []string field; absent or null is []; a null item is '' as in Go. */
  strings (name: string): string[] {
    const value = this.get(name)
    if (value === undefined || value === null) return []
    return stringItems(value, child(this.where, name))
  }

  /** A strslice.StrSlice field (CapAdd): one string or a list of strings. */
  stringOrStrings (name: string): string[] {
    const value = this.get(name)
    if (typeof value === 'string') return [value]
    return this.strings(name)
  }

  /** A nested struct; null when absent or null. */
  struct (name: string): StructView | null {
    const value = this.get(name)
    if (value === undefined || value === null) return null
    return asStruct(value, child(this.where, name))
  }

  /** A list of structs ([]T); null items are zero structs and skipped. */
  structs (name: string): StructView[] {
    const value = this.get(name)
    if (value === undefined || value === null) return []
    return structItems(value, child(this.where, name))
  }

  /** A list of anything (the items' shapes are not read); absent or null is []. */
  list (name: string): readonly JsonValue[] {
    const value = this.get(name)
    if (value === undefined || value === null) return []
    if (!Array.isArray(value)) invalid(child(this.where, name), 'a list')
    return value as readonly JsonValue[]
  }

  /** A map[string]string; keys are exact (Go does not fold map keys). */
  stringMap (name: string): ReadonlyMap<string, string> {
    const value = this.get(name)
    const where = child(this.where, name)
    if (value === undefined || value === null) return new Map()
    if (!isObject(value)) invalid(where, 'a mapping of strings')
    const out = new Map<string, string>()
    for (const [key, item] of value.entries) {
      if (item !== null && typeof item !== 'string') invalid(`${where}.${key}`, 'a string')
      out.set(key, item ?? '')
    }
    return out
  }

  /** The keys of an object-valued field (map[string]T); absent or null is []. */
  mapKeys (name: string): string[] {
    const value = this.get(name)
    if (value === undefined || value === null) return []
    if (!isObject(value)) invalid(child(this.where, name), 'a mapping')
    return value.entries.map(([key]) => key)
  }
}

/** Reads `value` as a struct at `where`; anything but an object is refused. */
export function asStruct (value: JsonValue, where: string): StructView {
  if (!isObject(value)) invalid(where === '' ? 'the request body' : where, 'an object')
  return new StructView(value, where)
}

/** Reads `value` as a list of structs at `where`. */
export function structItems (value: JsonValue, where: string): StructView[] {
  if (!Array.isArray(value)) invalid(where === '' ? 'the request body' : where, 'a list')
  const out: StructView[] = []
  ;(value as readonly JsonValue[]).forEach((item, i) => {
    if (item !== null) out.push(asStruct(item, `${where}[${i}]`))
  })
  return out
}

function stringItems (value: JsonValue, where: string): string[] {
  if (!Array.isArray(value)) invalid(where, 'a list of strings')
  return (value as readonly JsonValue[]).map((item, i) => {
    if (item === null) return ''
    if (typeof item !== 'string') invalid(`${where}[${i}]`, 'a string')
    return item
  })
}

function isObject (value: JsonValue): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
