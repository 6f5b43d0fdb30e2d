import type { ErrorCode } from './errors.js'

/**
 * One problem found in a config or policy file. Positions are 1-based, as
 * editors show them; `line` and `col` are 0 only when the problem has no
 * place in the file (the file itself is unreadable).
 */
export interface Diagnostic {
  readonly file: string
  readonly line: number
  readonly col: number
  readonly code: ErrorCode
  readonly message: string
  /** Set for problems that do not stop loading; absent means an error. */
  readonly severity?: 'warning'
}

/**
 * Renders `FILE:LINE:COL CODE message`, the one format every tool prints;
 * a warning's message starts with `warning: `.
 */
export function formatDiagnostic (d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.code} ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`
}

/** Orders diagnostics by file, then position, so output is stable and reads top-down. */
export function sortDiagnostics (list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1)
}

/** The result of loading something that can fail with several problems at once. */
export type Loaded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[] }
