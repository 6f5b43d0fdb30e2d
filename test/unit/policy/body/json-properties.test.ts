/**
 * Property tests of the body judge's JSON reading against a model of how
 * dockerd 20.10 (Go 1.19 encoding/json) decodes a container create body into
 * its ContainerConfigWrapper: the `HostConfig` object, and a second
 * HostConfig embedded at the top level that is used only when `HostConfig`
 * is absent or null.
 *
 * The model, written from Go's rules rather than from dockgate's code:
 * - a key is matched to a struct field after `\u` escapes are decoded,
 *   ASCII letters case-insensitively, U+017F (ſ) as S and U+212A (K) as K;
 *   no other letter folds to ASCII (dotless ı, İ, Cyrillic е and а do not);
 * - keys are applied in order: a later one overwrites (a bool, a list) or
 *   merges into (an object) what an earlier one set; `null` resets a
 *   pointer or a list, and leaves a bool as it was;
 * - map keys (Labels) are exact.
 *
 * For generated bodies (random spellings, escapes in keys and values,
 * duplicates, nesting, white space) the properties are: dockgate allows only
 * what the daemon would not run privileged or with a bind outside
 * /srv/ok/**; it refuses as ambiguous exactly the bodies with a repeated
 * key (exactly, or folded in a struct it reads); and on every other body it
 * reads each HostConfig exactly as Go does.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { judgeAll, member, policyFrom } from '../../../support/judge.js'

const policy = policyFrom(`version: 1
identities:
  - match: { ou: ci }
    teams: [ci]
teams:
  ci:
    allow: ["* /**"]
    containers:
      bindMounts: ["/srv/ok/**"]
`)

/** One character of a key or string as sent: `\u`-escaped or not. */
interface Char { readonly ch: string, readonly escaped: boolean }
/** A string as sent; `text` is what it decodes to. */
interface Spelled { readonly text: string, readonly chars: readonly Char[] }
type Value = boolean | null | Spelled | readonly Spelled[] | Obj
interface Obj { readonly entries: ReadonlyArray<readonly [Spelled, Value]> }

// Go folds these to ASCII letters; the others are look-alikes it does not fold.
const FOLDS: Readonly<Record<string, string>> = { s: 'ſ', S: 'ſ', k: 'K', K: 'K' }
const LOOKALIKES: Readonly<Record<string, string>> = { i: 'ı', I: 'İ', e: 'е', a: 'а' }
const GO_FOLD: Readonly<Record<string, string>> = { ſ: 'S', K: 'K' }

/** Go's case fold of a decoded key, for the characters the generator uses. */
function goFoldModel (key: string): string {
  return [...key].map((c) => GO_FOLD[c] ?? (c.charCodeAt(0) < 0x80 ? c.toUpperCase() : c)).join('')
}

const spelled = (name: string): fc.Arbitrary<Spelled> =>
  fc.array(fc.nat({ max: 19 }), { minLength: name.length, maxLength: name.length }).map((choices) => {
    // Per character: 40% as written, 15% other case, 15% a letter Go folds to it, 5% a look-alike Go does not fold, 25% \u-escaped.
    const chars = [...name].map((c, i): Char => {
      const choice = choices[i] ?? 0
      const flipped = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()
      const ch = choice < 8 || choice >= 15 ? c : choice < 11 ? flipped : choice < 14 ? (FOLDS[c] ?? flipped) : (LOOKALIKES[c] ?? c)
      return { ch, escaped: choice >= 15 }
    })
    return { text: chars.map((c) => c.ch).join(''), chars }
  })

const BINDS = ['/etc:/x', '/srv/ok/a:/y:ro', 'vol:/z', '/srv/ok/../../etc:/w', '/srv/ok:/q', '/srv/okay:/r', '/anon', '/srv/ok/b/../c:/s']
const bindList = fc.array(fc.constantFrom(...BINDS).chain(spelled), { maxLength: 3 })
const privileged = fc.constantFrom(true, true, false, null)
const labels = fc.array(fc.tuple(fc.constantFrom('a', 'A', 'role').chain(spelled), fc.constantFrom('x', 'y').chain(spelled)), { maxLength: 3 })
  .map((entries): Obj => ({ entries }))
const noise = fc.constantFrom('Image', 'Cmd', 'Privilegedx', 'Bind', 'Host Config').chain(spelled)

// The members of a HostConfig-shaped object, each present or not, sometimes one of them twice, in any order.
const hostMembers: ReadonlyArray<fc.Arbitrary<readonly [Spelled, Value]>> = [
  fc.tuple(spelled('Privileged'), privileged),
  fc.tuple(spelled('Binds'), fc.oneof(bindList, fc.constant(null))),
  fc.tuple(spelled('NetworkMode'), fc.constantFrom('none', 'bridge').chain(spelled)),
  fc.tuple(spelled('Labels'), labels),
  // HostConfig has no HostConfig field: Go ignores a nested one, whatever it holds.
  fc.tuple(spelled('HostConfig'), fc.array(fc.tuple(spelled('Privileged'), fc.constant(true)), { maxLength: 2 }).map((entries): Obj => ({ entries }))),
  fc.tuple(noise, fc.constantFrom('x', 'sh').chain(spelled))
]
const members = (kinds: ReadonlyArray<fc.Arbitrary<readonly [Spelled, Value]>>): fc.Arbitrary<Obj> =>
  fc.tuple(...kinds.map((kind) => fc.option(kind, { nil: undefined, freq: 2 })), fc.option(fc.oneof(...kinds), { nil: undefined, freq: 3 }))
    .map((picked) => picked.filter((entry) => entry !== undefined))
    .chain((entries) => fc.shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length }))
    .map((entries): Obj => ({ entries }))
const hostConfig = members(hostMembers)
const body = members([...hostMembers.slice(0, 4), hostMembers[5] as fc.Arbitrary<readonly [Spelled, Value]>, fc.tuple(spelled('HostConfig'), fc.oneof(hostConfig, hostConfig, fc.constant(null)))])
const document = fc.record({ body, seed: fc.integer() })

/** Serialises with `\u` escapes where chosen and white space from `seed`. */
function serialize (value: Value, seed: number): string {
  let state = seed >>> 0
  const ws = (): string => {
    state = (state * 1103515245 + 12345) >>> 0
    return ['', '', ' ', '\n', '\t', ' \r\n '][state % 6] ?? ''
  }
  const str = (s: Spelled): string => `"${s.chars.map(({ ch, escaped }) => escaped || ch === '"' || ch === '\\'
    ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`
    : ch).join('')}"`
  const go = (v: Value): string => {
    if (v === null || typeof v === 'boolean') return String(v)
    if (Array.isArray(v)) return `[${ws()}${(v as readonly Spelled[]).map((item) => `${str(item)}${ws()}`).join(`,${ws()}`)}]`
    if ('chars' in v) return str(v)
    return `{${ws()}${(v as Obj).entries.map(([k, item]) => `${str(k)}${ws()}:${ws()}${go(item)}${ws()}`).join(`,${ws()}`)}}`
  }
  return `${ws()}${go(value)}${ws()}`
}

/** What Go decodes into one HostConfig: Privileged and Binds. */
interface Host { privileged: boolean, binds: readonly string[] }

function decodeHost (host: Host, object: Obj): void {
  for (const [key, value] of object.entries) {
    const field = goFoldModel(key.text)
    if (field === 'PRIVILEGED' && typeof value === 'boolean') host.privileged = value
    if (field === 'BINDS') host.binds = value === null ? [] : (value as readonly Spelled[]).map((b) => b.text)
  }
}

/** The wrapper as Go decodes it: the top-level HostConfig, and the `HostConfig` pointer (null when absent or reset). */
function decodeWrapper (object: Obj): { top: Host, inner: Host | null } {
  const top: Host = { privileged: false, binds: [] }
  let inner: Host | null = null
  decodeHost(top, object)
  for (const [key, value] of object.entries) {
    if (goFoldModel(key.text) !== 'HOSTCONFIG') continue
    if (value === null) inner = null
    else decodeHost(inner ??= { privileged: false, binds: [] }, value as Obj)
  }
  return { top, inner }
}

/** Go's path.Clean for the absolute paths in BINDS. */
function clean (path: string): string {
  const out: string[] = []
  for (const part of path.split('/')) {
    if (part === '..') out.pop()
    else if (part !== '' && part !== '.') out.push(part)
  }
  return `/${out.join('/')}`
}

/** True when a decoded HostConfig runs privileged or binds a host path outside /srv/ok/**. */
function reaches (host: Host): boolean {
  return host.privileged || host.binds.some((bind) => {
    const parts = bind.split(':')
    const source = clean(parts[0] ?? '')
    return parts.length >= 2 && bind.startsWith('/') && source !== '/srv/ok' && !source.startsWith('/srv/ok/')
  })
}

/**
 * A repeated key: exact in any object, or folded in a struct the judge reads
 * (`top`: the body; `host`: its HostConfig; `other`: maps and objects it does not read).
 */
function repeats (object: Obj, kind: 'top' | 'host' | 'other'): boolean {
  const exact = object.entries.map(([k]) => k.text)
  const folded = exact.map(goFoldModel)
  if (new Set(exact).size !== exact.length || (kind !== 'other' && new Set(folded).size !== folded.length)) return true
  return object.entries.some(([key, value]) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || 'chars' in value) return false
    return repeats(value as Obj, kind === 'top' && goFoldModel(key.text) === 'HOSTCONFIG' ? 'host' : 'other')
  })
}

const verdictOf = (text: string): string => {
  const verdict = judgeAll(policy, member('ci'), 'POST', '/v1.41/containers/create', text)
  return verdict.outcome === 'allow' ? 'allow' : verdict.refusal?.code ?? 'deny'
}

const RUNS = { numRuns: 200 }

describe('the body judge reads create bodies as Go decodes them', () => {
  it('allows only bodies the daemon would not run privileged or with a host path outside bindMounts', () => {
    fc.assert(fc.property(document, ({ body, seed }) => {
      const verdict = verdictOf(serialize(body, seed))
      const { top, inner } = decodeWrapper(body)
      if (verdict === 'allow') expect(reaches(inner ?? top)).toBe(false)
    }), RUNS)
  })

  it('refuses as ambiguous exactly the bodies that repeat a key Go would apply twice', () => {
    fc.assert(fc.property(document, ({ body, seed }) => {
      expect(verdictOf(serialize(body, seed)) === 'DG_BODY_AMBIGUOUS').toBe(repeats(body, 'top'))
    }), RUNS)
  })

  it('reads each HostConfig of an unambiguous body as Go does (any spelling, escapes, white space)', () => {
    fc.assert(fc.property(document, ({ body, seed }) => {
      fc.pre(!repeats(body, 'top'))
      const { top, inner } = decodeWrapper(body)
      const expected = reaches(top) || (inner !== null && reaches(inner)) ? 'DG_BODY_DENIED' : 'allow'
      expect(verdictOf(serialize(body, seed))).toBe(expected)
    }), RUNS)
  })
})
