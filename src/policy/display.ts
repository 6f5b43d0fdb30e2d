/**
 * Makes untrusted text (certificate subjects, request methods) safe to put in
 * a refusal message, a log line or a terminal.
 */
import type { RuleRef } from './types.js'

// C0 and C1 controls, DEL, line/paragraph separators and bidi overrides: all
// can forge extra log lines or reorder what a reader sees.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

/** A rule for people: `FILE:LINE "TEXT"`, plus `(from @group)` when it came from one. */
export function formatRuleRef (rule: RuleRef): string {
  return `${rule.file}:${rule.line} "${rule.text}"${rule.group === undefined ? '' : ` (from ${rule.group})`}`
}

const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * Returns `text` with every control or text-direction character replaced by
 * a visible escape (`\n`, `\x00`, `\u202e`). Other text, including non-ASCII
 * letters, is kept. Pure and total: never throws.
 */
export function escapeForDisplay (text: string): string {
  return text.replace(UNSAFE, escapeOne)
}

function escapeOne (ch: string): string {
  const named = NAMED[ch]
  if (named !== undefined) return named
  const code = ch.charCodeAt(0)
  return code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`
}

function hex (code: number, width: number): string {
  return code.toString(16).padStart(width, '0')
}
