/**
 * Parses config and policy YAML once, keeping the node positions so that
 * every later check (schema, semantics) can point at `file:line:col`.
 * Pure: takes text, never touches the file system.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair, type YAMLError } from 'yaml'
import type { Diagnostic, Loaded } from './diagnostics.js'

/** A 1-based line and column; `{ line: 0, col: 0 }` means "no place in a file". */
export interface Position {
  readonly line: number
  readonly col: number
}

/** A path into a parsed value: map keys as strings, list indexes as numbers. */
export type ValuePath = readonly (string | number)[]

/**
 * Answers "where is this?" for paths into a value. Never throws: a path that
 * does not exist resolves to its nearest existing ancestor, so a missing key
 * is reported at the mapping that should hold it.
 */
export interface Locator {
  readonly file: string
  /** Position of the key naming the last segment (an unknown key is reported here). */
  keyAt: (path: ValuePath) => Position
  /** Position of the value at `path` (a bad value is reported here). */
  valueAt: (path: ValuePath) => Position
}

/** A successfully parsed YAML file: its plain JS value plus a {@link Locator}. */
export interface YamlSource extends Locator {
  readonly value: unknown
}

/** The position used for things that have no place in a file. */
export const NO_POSITION: Position = Object.freeze({ line: 0, col: 0 })

/** A locator for values that did not come from a file (dev setup, CLI flags): every path is at 0:0. */
export function fixedLocator (file: string): Locator {
  return Object.freeze({ file, keyAt: () => NO_POSITION, valueAt: () => NO_POSITION })
}

/**
 * What {@link parseYaml} gives: a value, or diagnostics. A document whose
 * only problems are duplicate keys is whole, so it also comes back as
 * `partial` (later duplicates win): callers check it too and report every
 * problem at once, but it has failed and must never be used.
 */
export type ParsedYaml = Loaded<YamlSource> | { readonly ok: false; readonly diagnostics: readonly Diagnostic[]; readonly partial: YamlSource }

/**
 * Parses one YAML document. Syntax errors, duplicate keys, unknown tags and
 * bad aliases all come back as diagnostics together; if there are any, no
 * value is returned (but see `partial`), because checking a half-parsed
 * document only produces noise. An empty file parses to `null`.
 */
export function parseYaml (file: string, text: string): ParsedYaml {
  const lines = new LineCounter()
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines, merge: false })
  const problems = [...doc.errors, ...doc.warnings].map((e) => yamlDiagnostic(file, doc, lines, e))
  if (problems.length === 0) return sourceOf(file, doc, lines)
  if (problems.every((p) => p.code === 'DG_YAML_DUPLICATE_KEY')) {
    const whole = sourceOf(file, doc, lines)
    if (whole.ok) return { ok: false, diagnostics: problems, partial: whole.value }
  }
  return { ok: false, diagnostics: problems }
}

function sourceOf (file: string, doc: Document, lines: LineCounter): Loaded<YamlSource> {
  const at = (offset: number): Position => lines.linePos(offset)
  let value: unknown
  try {
    // toJS resolves aliases; it throws on dangling ones and on alias bombs.
    value = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return { ok: false, diagnostics: [{ file, ...at(0), code: 'DG_YAML_SYNTAX', message }] }
  }
  const locator = documentLocator(doc, at)
  return { ok: true, value: Object.freeze({ file, value, keyAt: locator.keyAt, valueAt: locator.valueAt }) }
}

function yamlDiagnostic (file: string, doc: Document, lines: LineCounter, error: YAMLError): Diagnostic {
  const offset = error.pos[0]
  const pos = lines.linePos(offset)
  if (error.code !== 'DUPLICATE_KEY') return { file, ...pos, code: 'DG_YAML_SYNTAX', message: error.message }
  const duplicate = findDuplicate(doc, offset)
  const detail = duplicate === null
    ? 'a key'
    : `key '${duplicate.key}' (first at line ${lines.linePos(duplicate.firstOffset).line})`
  return {
    file,
    ...pos,
    code: 'DG_YAML_DUPLICATE_KEY',
    message: `${detail} appears twice in the same mapping; YAML would silently keep only one of them`
  }
}

// The parser reports only the offset of the repeated key; find its name and
// its first occurrence so the message says which two lines conflict.
function findDuplicate (doc: Document, offset: number): { key: string; firstOffset: number } | null {
  let found: { key: string; firstOffset: number } | null = null
  visit(doc, {
    Map (_key, map) {
      const repeated = map.items.find((p) => asNode(p.key)?.range?.[0] === offset)
      const name = repeated === undefined ? null : keyText(repeated.key)
      if (name === null) return undefined
      const first = map.items.find((p) => keyText(p.key) === name)
      found = { key: name, firstOffset: asNode(first?.key)?.range?.[0] ?? offset }
      return visit.BREAK
    }
  })
  return found
}

interface NodeStep {
  readonly node: Node | null
  readonly keyNode: Node | null
}

function documentLocator (doc: Document, at: (offset: number) => Position): Pick<Locator, 'keyAt' | 'valueAt'> {
  const positionOf = (node: Node | null): Position => at(node?.range?.[0] ?? 0)
  const walk = (path: ValuePath): NodeStep => {
    let step: NodeStep = { node: doc.contents, keyNode: null }
    for (const segment of path) {
      const next = childOf(doc, step.node, segment)
      if (next === null) return { node: step.node, keyNode: null }
      step = next
    }
    return step
  }
  return {
    keyAt: (path) => {
      const step = walk(path)
      return positionOf(step.keyNode ?? step.node)
    },
    valueAt: (path) => {
      const step = walk(path)
      // `key:` with no value has an empty node after the colon; the key is
      // the more useful place to point at.
      return positionOf(isEmptyNode(step.node) ? step.keyNode ?? step.node : step.node)
    }
  }
}

function childOf (doc: Document, parent: Node | null, segment: string | number): NodeStep | null {
  const container = isAlias(parent) ? parent.resolve(doc) ?? null : parent
  if (isSeq(container) && typeof segment === 'number') {
    const item = container.items[segment]
    return item === undefined ? null : { node: asNode(item), keyNode: null }
  }
  if (isMap(container)) {
    const pair = container.items.find((p: Pair) => keyText(p.key) === String(segment))
    return pair === undefined ? null : { node: asNode(pair.value), keyNode: asNode(pair.key) }
  }
  return null
}

function isEmptyNode (node: Node | null): boolean {
  return node === null || (node.range !== undefined && node.range !== null && node.range[0] === node.range[1])
}

function keyText (key: unknown): string | null {
  return isScalar(key) ? String(key.value) : null
}

function asNode (value: unknown): Node | null {
  return value !== null && typeof value === 'object' && 'range' in value ? value as Node : null
}
