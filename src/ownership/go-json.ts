/**
 * JSON in query parameters (`filters`, build `labels`) read the way Go's
 * encoding/json reads it, with Go's own error messages, so a refusal of a
 * malformed value says what the daemon would have said. Pure.
 *
 * Go checks the whole text's syntax before decoding (scanner.go), so a
 * syntax error wins over a type error. Objects keep every member in order,
 * repeats included: Go decodes each in turn (reporting the first type
 * error, even in a member a later repeat replaces) and, for a map, the
 * last one wins. Strings decode as Go decodes them (an escaped lone
 * surrogate becomes U+FFFD).
 */

/** A decoded value; objects keep all their members, in order. */
export type GoValue = null | boolean | number | string | readonly GoValue[] | GoObject

/** A JSON object as written: every member, repeats included. */
export interface GoObject {
  readonly members: ReadonlyArray<readonly [string, GoValue]>
}

/** True iff `value` is an object. */
export function isGoObject (value: GoValue): value is GoObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

const GO_ESCAPES: Readonly<Record<string, string>> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '\\': '\\\\' }

/** Go's quoteChar (strconv.Quote in single quotes): how a scanner error names the offending character. */
function quoteChar (ch: string): string {
  if (ch === "'") return "'\\''"
  if (ch === '"') return '\'"\''
  const escaped = GO_ESCAPES[ch]
  if (escaped !== undefined) return `'${escaped}'`
  const code = ch.codePointAt(0) ?? 0
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`
  return `'${ch}'`
}

const invalid = (ch: string, context: string): string => `invalid character ${quoteChar(ch)} ${context}`

const END = 'unexpected end of JSON input'
const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }

/** Decodes `text`, or returns Go's json.Unmarshal syntax error message for it. */
export function goParse (text: string): { readonly ok: true; readonly value: GoValue } | { readonly ok: false; readonly message: string } {
  const scanner = new Scanner(text)
  try {
    return { ok: true, value: scanner.document() }
  } catch (err) {
    if (err instanceof SyntaxProblem) return { ok: false, message: err.message }
    throw err
  }
}

class SyntaxProblem extends Error {}

class Scanner {
  private at = 0

  constructor (private readonly text: string) {}

  document (): GoValue {
    this.space()
    const value = this.value()
    this.space()
    if (this.at < this.text.length) this.fail(invalid(this.ch(), 'after top-level value'))
    return value
  }

  private ch (): string {
    const code = this.text.codePointAt(this.at) ?? 0
    return String.fromCodePoint(code)
  }

  private fail (message: string): never {
    throw new SyntaxProblem(message)
  }

  private need (): string {
    if (this.at >= this.text.length) this.fail(END)
    return this.ch()
  }

  private space (): void {
    while (this.at < this.text.length && ' \t\r\n'.includes(this.text[this.at] ?? '')) this.at++
  }

  private value (): GoValue {
    const ch = this.need()
    if (ch === '{') return this.object()
    if (ch === '[') return this.array()
    if (ch === '"') return this.string()
    if (ch === '-' || (ch >= '0' && ch <= '9')) return this.number()
    if (ch === 't') return this.literal('true', true)
    if (ch === 'f') return this.literal('false', false)
    if (ch === 'n') return this.literal('null', null)
    this.fail(invalid(ch, 'looking for beginning of value'))
  }

  private object (): GoObject {
    this.at++
    const members: Array<readonly [string, GoValue]> = []
    this.space()
    if (this.need() === '}') {
      this.at++
      return { members }
    }
    for (;;) {
      this.space()
      if (this.need() !== '"') this.fail(invalid(this.ch(), 'looking for beginning of object key string'))
      const key = this.string()
      this.space()
      if (this.need() !== ':') this.fail(invalid(this.ch(), 'after object key'))
      this.at++
      this.space()
      members.push([key, this.value()])
      this.space()
      const next = this.need()
      this.at++
      if (next === '}') return { members }
      if (next !== ',') this.fail(invalid(next, 'after object key:value pair'))
    }
  }

  private array (): GoValue[] {
    this.at++
    const items: GoValue[] = []
    this.space()
    if (this.need() === ']') {
      this.at++
      return items
    }
    for (;;) {
      this.space()
      items.push(this.value())
      this.space()
      const next = this.need()
      this.at++
      if (next === ']') return items
      if (next !== ',') this.fail(invalid(next, 'after array element'))
    }
  }

  private string (): string {
    this.at++
    let out = ''
    for (;;) {
      const ch = this.need()
      this.at += ch.length
      if (ch === '"') return out
      if (ch < ' ') this.fail(invalid(ch, 'in string literal'))
      if (ch !== '\\') {
        out += ch
        continue
      }
      const escape = this.need()
      this.at++
      if (escape === 'u') out += this.unicodeEscape()
      else if (ESCAPES[escape] !== undefined) out += ESCAPES[escape]
      else this.fail(invalid(escape, 'in string escape code'))
    }
  }

  /** The 4 hex digits after `\\u` (and a low surrogate escape after a high one); a lone surrogate is U+FFFD, as in Go. */
  private unicodeEscape (): string {
    const first = this.hex4()
    if (first < 0xd800 || first > 0xdfff) return String.fromCharCode(first)
    if (first <= 0xdbff && this.text.startsWith('\\u', this.at) && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.at + 2, this.at + 6))) {
      const second = parseInt(this.text.slice(this.at + 2, this.at + 6), 16)
      if (second >= 0xdc00 && second <= 0xdfff) {
        this.at += 6
        return String.fromCharCode(first, second)
      }
    }
    return '\ufffd'
  }

  private hex4 (): number {
    let digits = ''
    for (let i = 0; i < 4; i++) {
      const hex = this.need()
      if (!/^[0-9a-fA-F]$/.test(hex)) this.fail(invalid(hex, 'in \\u hexadecimal character escape'))
      digits += hex
      this.at++
    }
    return parseInt(digits, 16)
  }

  private number (): number {
    const start = this.at
    if (this.ch() === '-') {
      this.at++
      const first = this.need()
      if (!(first >= '0' && first <= '9')) this.fail(invalid(first, 'in numeric literal'))
    }
    if (this.ch() === '0') this.at++
    else this.digits()
    if (this.at < this.text.length && this.ch() === '.') {
      this.at++
      const first = this.need()
      if (!(first >= '0' && first <= '9')) this.fail(invalid(first, 'after decimal point in numeric literal'))
      this.digits()
    }
    if (this.at < this.text.length && (this.ch() === 'e' || this.ch() === 'E')) {
      this.at++
      if (this.need() === '+' || this.ch() === '-') this.at++
      const first = this.need()
      if (!(first >= '0' && first <= '9')) this.fail(invalid(first, 'in exponent of numeric literal'))
      this.digits()
    }
    return Number(this.text.slice(start, this.at))
  }

  private digits (): void {
    while (this.at < this.text.length && this.ch() >= '0' && this.ch() <= '9') this.at++
  }

  private literal<T> (word: string, value: T): T {
    for (let i = 0; i < word.length; i++) {
      const ch = this.need()
      if (ch !== word[i]) this.fail(invalid(ch, `in literal ${word} (expecting ${quoteChar(word[i] ?? '')})`))
      this.at++
    }
    return value
  }
}

/** The name Go gives a JSON value's type in "cannot unmarshal X into Go value of type T". */
export function goJsonKind (value: GoValue): string {
  if (Array.isArray(value)) return 'array'
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string': return 'string'
    case 'number': return 'number'
    case 'boolean': return 'bool'
    default: return 'object'
  }
}

/** Go's UnmarshalTypeError message. */
export function goTypeError (value: GoValue, goType: string): string {
  return `json: cannot unmarshal ${goJsonKind(value)} into Go value of type ${goType}`
}
