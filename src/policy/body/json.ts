/**
 * Reads a request body as JSON the way dockerd's Go encoding/json would, or
 * says why it will not. Security-critical: a body rule is only as good as
 * the agreement between what dockgate reads and what the daemon reads.
 *
 * Why not JSON.parse: it silently keeps the last of two equal keys (Go merges
 * duplicate objects field by field), gives no way to bound nesting before
 * recursing, and decodes escaped lone surrogates differently from Go.
 *
 * Rules, each tested:
 * - The bytes must be valid UTF-8 with no byte-order mark (Go would silently
 *   replace bad bytes; the docker CLI never sends them).
 * - Strict RFC 8259 grammar, as Go: no comments, trailing commas, NaN, or
 *   leading zeros; control characters must be escaped.
 * - `\u` escapes decode before keys are compared; an escaped lone surrogate
 *   becomes U+FFFD, as in Go.
 * - An object that repeats a key exactly is refused as ambiguous (Go would
 *   merge or overwrite). Keys that differ only by case are checked where a
 *   struct is read (see fields.ts), because map keys are case-sensitive.
 * - Nesting deeper than {@link MAX_DEPTH} is refused.
 * - One value only: anything but whitespace after it is refused (Go's
 *   decoder would ignore it, so the daemon and dockgate could read different
 *   documents).
 * - An empty body (zero bytes) is "no value"; whitespace only is refused.
 */

/** A JSON object with its members in order; keys are unique (exact duplicates are refused). */
export interface JsonObject {
  readonly kind: 'object'
  readonly entries: readonly (readonly [string, JsonValue])[]
  /** Only from {@link parseJsonText}: where the object and its members' values are in the text. */
  readonly spans?: JsonSpans
}

/**
 * Offsets into the decoded text (UTF-16 units): `open` is the object's
 * `{`; `values[i]` is `[start, end)` of `entries[i]`'s value. They let a
 * caller insert into a body without re-serialising it (which would round
 * int64 numbers through a double).
 */
export interface JsonSpans {
  readonly open: number
  readonly values: readonly (readonly [number, number])[]
}

/** A parsed JSON value. Arrays are plain arrays; objects keep member order. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | JsonObject

/**
 * Why a request cannot be judged: `invalid` (not JSON, wrong types),
 * `ambiguous` (Go and dockgate could read it differently) or `media-type`
 * (a content type the judge does not read).
 */
export interface BodyFault {
  readonly kind: 'invalid' | 'ambiguous' | 'media-type'
  readonly message: string
}

/** The parse result: a value (undefined for a zero-byte body), or the fault. */
export type JsonParse =
  | { readonly ok: true; readonly value: JsonValue | undefined }
  | { readonly ok: false; readonly fault: BodyFault }

/** Deepest nesting accepted; dockerd's real bodies stay under 10. */
export const MAX_DEPTH = 64

/** Parses `bytes` as one JSON document, following the rules in the module comment. Never throws. */
export function parseJson (bytes: Uint8Array): JsonParse {
  if (bytes.length === 0) return { ok: true, value: undefined }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return { ok: false, fault: { kind: 'invalid', message: 'request body is not valid UTF-8' } }
  }
  try {
    return { ok: true, value: new Reader(text).document() }
  } catch (err) {
    if (err instanceof FaultError) return { ok: false, fault: err.fault }
    throw err
  }
}

/**
 * Like {@link parseJson}, and also returns the decoded text, with
 * {@link JsonSpans} on every object: for editing a body in place.
 */
export function parseJsonText (bytes: Uint8Array): { readonly ok: true; readonly value: JsonValue | undefined; readonly text: string } | { readonly ok: false; readonly fault: BodyFault } {
  if (bytes.length === 0) return { ok: true, value: undefined, text: '' }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    return { ok: false, fault: { kind: 'invalid', message: 'request body is not valid UTF-8' } }
  }
  try {
    return { ok: true, value: new Reader(text, true).document(), text }
  } catch (err) {
    if (err instanceof FaultError) return { ok: false, fault: err.fault }
    throw err
  }
}

/** Thrown inside the reader only; parseJson turns it into a result. */
class FaultError extends Error {
  constructor (readonly fault: BodyFault) {
    super(fault.message)
  }
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d])
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

class Reader {
  private at = 0

  constructor (private readonly text: string, private readonly spans = false) {}

  document (): JsonValue {
    this.skipSpace()
    if (this.at === this.text.length) this.fail('request body holds only whitespace, no JSON value')
    const value = this.value(1)
    this.skipSpace()
    if (this.at !== this.text.length) this.fail(`unexpected data after the JSON value at character ${this.at}`)
    return value
  }

  private value (depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`request body nests deeper than ${MAX_DEPTH} levels`)
    const ch = this.text[this.at]
    if (ch === '{') return this.object(depth)
    if (ch === '[') return this.array(depth)
    if (ch === '"') return this.string()
    if (ch === 't') return this.literal('true', true)
    if (ch === 'f') return this.literal('false', false)
    if (ch === 'n') return this.literal('null', null)
    return this.number()
  }

  private object (depth: number): JsonObject {
    const open = this.at
    this.at++
    const entries: (readonly [string, JsonValue])[] = []
    const values: (readonly [number, number])[] = []
    const done = (): JsonObject => this.spans ? { kind: 'object', entries, spans: { open, values } } : { kind: 'object', entries }
    const seen = new Set<string>()
    this.skipSpace()
    if (this.text[this.at] === '}') {
      this.at++
      return done()
    }
    for (;;) {
      this.skipSpace()
      if (this.text[this.at] !== '"') this.fail(`expected a quoted key at character ${this.at}`)
      const key = this.string()
      if (seen.has(key)) this.ambiguous(`request body repeats the key ${JSON.stringify(key)} in one object`)
      seen.add(key)
      this.skipSpace()
      this.expect(':')
      this.skipSpace()
      const start = this.at
      entries.push([key, this.value(depth + 1)])
      values.push([start, this.at])
      this.skipSpace()
      if (this.take('}')) return done()
      this.expect(',')
    }
  }

  private array (depth: number): JsonValue[] {
    this.at++
    const items: JsonValue[] = []
    this.skipSpace()
    if (this.take(']')) return items
    for (;;) {
      this.skipSpace()
      items.push(this.value(depth + 1))
      this.skipSpace()
      if (this.take(']')) return items
      this.expect(',')
    }
  }

  private string (): string {
    this.at++
    let out = ''
    for (;;) {
      const code = this.text.charCodeAt(this.at)
      if (Number.isNaN(code)) this.fail('request body ends inside a string')
      if (code === 0x22) {
        this.at++
        return out
      }
      if (code < 0x20) this.fail(`unescaped control character in a string at character ${this.at}`)
      if (code === 0x5c) {
        out += this.escape()
        continue
      }
      out += this.text[this.at]
      this.at++
    }
  }

  private escape (): string {
    const kind = this.text[this.at + 1] ?? ''
    if (kind !== 'u') {
      const plain = ESCAPES[kind]
      if (plain === undefined) this.fail(`invalid escape \\${kind} at character ${this.at}`)
      this.at += 2
      return plain
    }
    const first = this.hex4()
    if (first < 0xd800 || first > 0xdfff) return String.fromCharCode(first)
    // A high surrogate pairs only with an escaped low one right after it;
    // anything else is a lone surrogate, which Go decodes as U+FFFD.
    if (first <= 0xdbff && this.text.startsWith('\\u', this.at)) {
      const save = this.at
      const second = this.hex4()
      if (second >= 0xdc00 && second <= 0xdfff) return String.fromCharCode(first, second)
      this.at = save
    }
    return '\ufffd'
  }

  private hex4 (): number {
    const digits = this.text.slice(this.at + 2, this.at + 6)
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail(`invalid \\u escape at character ${this.at}`)
    this.at += 6
    return parseInt(digits, 16)
  }

  private number (): number {
    NUMBER.lastIndex = this.at
    const match = NUMBER.exec(this.text)
    if (match === null || match[0] === '' || match[0] === '-') this.fail(`unexpected character at character ${this.at}`)
    this.at += match[0].length
    return Number(match[0])
  }

  private literal<T> (word: string, value: T): T {
    if (!this.text.startsWith(word, this.at)) {
      if (word.startsWith(this.text.slice(this.at))) this.fail('request body ends before the JSON value does (truncated)')
      this.fail(`unexpected character at character ${this.at}`)
    }
    this.at += word.length
    return value
  }

  private skipSpace (): void {
    while (WHITESPACE.has(this.text.charCodeAt(this.at))) this.at++
  }

  private take (ch: string): boolean {
    if (this.text[this.at] !== ch) return false
    this.at++
    return true
  }

  private expect (ch: string): void {
    if (this.at >= this.text.length) this.fail('request body ends before the JSON value does (truncated)')
    if (!this.take(ch)) this.fail(`expected '${ch}' at character ${this.at}`)
  }

  private fail (message: string): never {
    if (this.at >= this.text.length && !message.includes('truncated') && !message.includes('whitespace')) {
      throw new FaultError({ kind: 'invalid', message: 'request body ends before the JSON value does (truncated)' })
    }
    throw new FaultError({ kind: 'invalid', message })
  }

  private ambiguous (message: string): never {
    throw new FaultError({ kind: 'ambiguous', message })
  }
}
