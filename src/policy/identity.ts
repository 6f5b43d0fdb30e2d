/**
 * Identity matching: which policy entry a verified certificate, or a socket
 * listener's identity, belongs to. `socket` reads a field only socket
 * principals have; the certificate keys read fields socket principals
 * leave empty.
 *
 * Match values are exact strings or globs where `*` matches any run of
 * characters (including none); nothing else is special (`?` and `[` are
 * literal). Matching is case-sensitive.
 */
import type { Principal } from './types.js'

/** Policy match keys and the {@link Principal} field each one reads. */
export const MATCH_FIELDS = Object.freeze({
  cn: 'cn',
  ou: 'ou',
  o: 'o',
  san_dns: 'sanDns',
  san_uri: 'sanUri',
  san_email: 'sanEmail',
  socket: 'socket'
} as const)

/** A key allowed under `match:` in a policy. */
export type MatchKey = keyof typeof MATCH_FIELDS

/** A multi-valued {@link Principal} field that identities can match on. */
export type PrincipalField = (typeof MATCH_FIELDS)[MatchKey]

/**
 * A compiled glob: the pattern split on `*`. One part means an exact match.
 * Compiled to literal parts rather than a RegExp so matching is a handful of
 * `indexOf` calls, linear in the value, with no backtracking blow-up for
 * patterns like `*a*a*a*b` and no regex escaping to get wrong.
 */
export interface Glob {
  readonly text: string
  readonly parts: readonly string[]
}

/** One `key: pattern` of an identity's match, compiled. */
export interface FieldMatcher {
  readonly key: MatchKey
  readonly field: PrincipalField
  readonly glob: Glob
}

/** Compiles a glob once; consecutive `*` collapse since they mean the same. */
export function compileGlob (text: string): Glob {
  return Object.freeze({ text, parts: Object.freeze(text.replace(/\*{2,}/g, '*').split('*')) })
}

/** True iff the whole of `value` matches `glob`. */
export function globMatches (glob: Glob, value: string): boolean {
  const parts = glob.parts
  const first = parts[0] ?? ''
  if (parts.length === 1) return value === first
  const last = parts[parts.length - 1] ?? ''
  if (value.length < first.length + last.length) return false
  if (!value.startsWith(first) || !value.endsWith(last)) return false
  // Leftmost placement of each middle part is optimal: it leaves the most
  // room for the parts after it.
  let cursor = first.length
  const end = value.length - last.length
  for (let i = 1; i < parts.length - 1; i++) {
    const part = parts[i] ?? ''
    const found = value.indexOf(part, cursor)
    if (found === -1 || found + part.length > end) return false
    cursor = found + part.length
  }
  return true
}

/** Compiles one `key: pattern` pair. */
export function compileFieldMatcher (key: MatchKey, pattern: string): FieldMatcher {
  return Object.freeze({ key, field: MATCH_FIELDS[key], glob: compileGlob(pattern) })
}

/**
 * True iff every matcher matches; a matcher matches when ANY of the
 * principal's values for its field matches (a field the principal lacks
 * matches nothing, not even `*`: a certificate never matches `socket`, a
 * socket never matches `cn`).
 */
export function principalMatches (matchers: readonly FieldMatcher[], principal: Principal): boolean {
  for (const matcher of matchers) {
    if (!anyValueMatches(matcher.glob, principal[matcher.field] ?? [])) return false
  }
  return matchers.length > 0
}

/** True iff `key` is a valid match key. */
export function isMatchKey (key: string): key is MatchKey {
  return Object.hasOwn(MATCH_FIELDS, key)
}

function anyValueMatches (glob: Glob, values: readonly string[]): boolean {
  for (const value of values) {
    if (globMatches(glob, value)) return true
  }
  return false
}
