/**
 * Checks a parsed value against a TypeBox schema and turns every problem into
 * a {@link Diagnostic} a person can act on: it names the key, says what was
 * expected and what was found, and points at the offending line:col.
 *
 * Schemas feed the messages: `additionalProperties: false` objects list their
 * valid keys, and a schema's `description` is the phrase that follows "must
 * be" (e.g. `a string like 0.0.0.0:2376`).
 */
import type { TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import type { Diagnostic } from './diagnostics.js'
import type { ErrorCode } from './errors.js'
import type { Locator, ValuePath } from './yaml-source.js'

/**
 * Every schema problem in `value`, one diagnostic per offending path (the
 * first TypeBox reports for it), never a cascade of follow-on errors under a
 * value that already has the wrong type. Empty when the value conforms.
 */
export function checkSchema (schema: TSchema, value: unknown, locator: Locator): Diagnostic[] {
  const diagnostics: Diagnostic[] = []
  const reportedPaths = new Set<string>()
  for (const error of Value.Errors(schema, value)) {
    if (isUnderReported(error.path, reportedPaths)) continue
    reportedPaths.add(error.path)
    diagnostics.push(toDiagnostic(error, valuePath(value, error.path), locator))
  }
  return diagnostics
}

/** Renders a path for messages: `tls.ca`, `teams.ci.allow[2]`. */
export function displayPath (path: ValuePath): string {
  return path.reduce<string>((text, segment) =>
    typeof segment === 'number' ? `${text}[${segment}]` : text === '' ? segment : `${text}.${segment}`, '')
}

/** Where a key lives, for messages: `in tls`, or `at the top level`. */
export function displaySection (parent: ValuePath): string {
  return parent.length === 0 ? 'at the top level' : `in ${displayPath(parent)}`
}

/**
 * The closest of `candidates` to `word` by edit distance, if it is close
 * enough (at most 2 edits, and fewer than the word's length) to be a typo.
 */
export function closeMatch (word: string, candidates: readonly string[]): string | null {
  let best: string | null = null
  let bestDistance = 3
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate)
    if (distance < bestDistance && distance < word.length) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Describes a value's type the way a YAML author thinks of it: `a number`, `a list`, `an empty value`. */
export function describeValue (value: unknown): string {
  if (value === null || value === undefined) return 'an empty value'
  if (Array.isArray(value)) return 'a list'
  if (value instanceof Uint8Array) return 'binary data'
  if (typeof value === 'object') return 'a mapping'
  if (typeof value === 'boolean') return `${String(value)} (a boolean)`
  return `a ${typeof value}`
}

// A bad value of the right type is shown itself, shortened, as YAML would read it.
function showValue (value: unknown): string {
  const text = typeof value === 'string'
    ? JSON.stringify(value)
    : typeof value === 'number' ? String(value) : describeValue(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

// A wrong type stops TypeBox from descending, but required-property checks
// can still add a second error at the same path; keep only the first.
function isUnderReported (pointer: string, reported: ReadonlySet<string>): boolean {
  for (const done of reported) {
    if (pointer === done || pointer.startsWith(`${done}/`)) return true
  }
  return false
}

function toDiagnostic (error: ValueError, path: ValuePath, locator: Locator): Diagnostic {
  const name = displayPath(path)
  const parent = path.slice(0, -1)
  const last = String(path[path.length - 1] ?? '')
  const make = (code: ErrorCode, line: number, col: number, message: string): Diagnostic =>
    ({ file: locator.file, line, col, code, message })
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const { line, col } = locator.keyAt(path)
      return make('DG_UNKNOWN_KEY', line, col, unknownKeyMessage(last, parent, propertyNames(error.schema)))
    }
    case ValueErrorType.ObjectRequiredProperty: {
      const { line, col } = locator.valueAt(parent)
      return make('DG_MISSING_KEY', line, col, `missing required key '${last}' ${displaySection(parent)}`)
    }
    default: {
      const { line, col } = locator.valueAt(path)
      const code = isWrongType(error) ? 'DG_WRONG_TYPE' : 'DG_BAD_VALUE'
      const subject = path.length === 0 ? 'the document' : `'${name}'`
      const found = code === 'DG_WRONG_TYPE' ? describeValue(error.value) : showValue(error.value)
      return make(code, line, col, `${subject} must be ${expectation(error.schema, error.message)}, got ${found}`)
    }
  }
}

function unknownKeyMessage (key: string, parent: ValuePath, valid: readonly string[]): string {
  const suggestion = closeMatch(key, valid)
  const hint = suggestion === null ? '' : ` (did you mean '${suggestion}'?)`
  const list = valid.length === 0 ? 'none' : valid.join(', ')
  return `unknown key '${key}' ${displaySection(parent)}; valid keys: ${list}${hint}`
}

function propertyNames (schema: TSchema): string[] {
  const properties: unknown = schema.properties
  return properties !== null && typeof properties === 'object' ? Object.keys(properties) : []
}

// Constraint failures on a value of the right JSON type (a pattern, a range,
// a literal of the same type) are bad values; everything else is a type error.
function isWrongType (error: ValueError): boolean {
  if (error.type === ValueErrorType.Literal) return typeof error.value !== typeof error.schema.const
  return TYPE_ERRORS.has(error.type)
}

const TYPE_ERRORS: ReadonlySet<ValueErrorType> = new Set([
  ValueErrorType.String, ValueErrorType.Number, ValueErrorType.Integer, ValueErrorType.Boolean,
  ValueErrorType.Object, ValueErrorType.Array, ValueErrorType.Null, ValueErrorType.Union
])

function expectation (schema: TSchema, fallback: string): string {
  if (typeof schema.description === 'string') return schema.description
  if ('const' in schema) return JSON.stringify(schema.const)
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as TSchema[]).map((s) => expectation(s, fallback)).join(' or ')
  return TYPE_PHRASES[String(schema.type)] ?? fallback.toLowerCase()
}

const TYPE_PHRASES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  integer: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list'
}

// TypeBox paths are JSON pointers; list indexes become numbers so the
// locator can walk sequences, which it tells apart by the value's shape.
function valuePath (root: unknown, pointer: string): ValuePath {
  const path: (string | number)[] = []
  let current: unknown = root
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~')
    const isIndex = Array.isArray(current)
    path.push(isIndex ? Number(segment) : segment)
    current = isIndex || (current !== null && typeof current === 'object')
      ? (current as Record<string, unknown>)[segment]
      : undefined
  }
  return path
}

function editDistance (a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution))
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
