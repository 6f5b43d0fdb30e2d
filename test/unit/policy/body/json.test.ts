/**
 * The JSON reader must see exactly the document dockerd's Go decoder sees,
 * or refuse. Each test names the trick it defends against.
 */
import { describe, expect, it } from 'vitest'
import { MAX_DEPTH, parseJson, type JsonObject, type JsonValue } from '../../../../src/policy/body/json.js'
import { asStruct, FieldFault, goFold } from '../../../../src/policy/body/fields.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const parse = (text: string): JsonValue | undefined => {
  const result = parseJson(bytes(text))
  if (!result.ok) throw new Error(`${result.fault.kind}: ${result.fault.message}`)
  return result.value
}
const fault = (input: string | Uint8Array): string => {
  const result = parseJson(typeof input === 'string' ? bytes(input) : input)
  if (result.ok) throw new Error('expected a fault')
  return `${result.fault.kind}: ${result.fault.message}`
}
const keys = (value: JsonValue | undefined): string[] => (value as JsonObject).entries.map(([k]) => k)

describe('parseJson: what it reads', () => {
  it('reads objects (in order), arrays, strings, numbers, booleans and null', () => {
    const value = parse(' {"b": [1, -2.5e3, true, false, null], "a": {"x": "y"}} ')
    expect(keys(value)).toEqual(['b', 'a'])
    expect((value as JsonObject).entries[0]?.[1]).toEqual([1, -2500, true, false, null])
  })

  it('treats a zero-byte body as no value (an empty start body is normal)', () => {
    expect(parse('')).toBeUndefined()
  })

  it('decodes \\u escapes in keys before anything compares them (hidden "Binds")', () => {
    expect(keys(parse('{"\\u0042inds": []}'))).toEqual(['Binds'])
  })

  it('decodes escaped surrogate pairs, and lone surrogates to U+FFFD as Go does', () => {
    expect(parse('"\\ud83d\\ude00"')).toBe('\u{1f600}')
    expect(parse('"a\\ud800b"')).toBe('a\ufffdb')
    expect(parse('"\\udc00"')).toBe('\ufffd')
    expect(parse('"\\ud800\\u0041"')).toBe('\ufffdA')
  })

  it(`accepts nesting up to ${MAX_DEPTH} levels`, () => {
    expect(() => parse('['.repeat(MAX_DEPTH) + ']'.repeat(MAX_DEPTH))).not.toThrow()
  })
})

describe('parseJson: what it refuses', () => {
  it('refuses a key repeated exactly (Go would merge or overwrite)', () => {
    expect(fault('{"HostConfig": {"Privileged": false, "Privileged": true}}')).toMatch(/^ambiguous: request body repeats the key "Privileged"/)
  })

  it('refuses a repeat hidden behind a \\u escape', () => {
    expect(fault('{"Binds": [], "\\u0042inds": ["/:/host"]}')).toMatch(/^ambiguous: .*"Binds"/)
  })

  it(`refuses nesting deeper than ${MAX_DEPTH}`, () => {
    expect(fault('['.repeat(MAX_DEPTH + 1) + ']'.repeat(MAX_DEPTH + 1))).toMatch(/nests deeper than 64/)
    expect(fault('{"a":'.repeat(100000))).toMatch(/nests deeper than 64/)
  })

  it('refuses a truncated body', () => {
    for (const text of ['{"Image": "x"', '{"Image": "x', '{"Image":', '[1, 2', '{', '{"Privileged": tru']) {
      expect(fault(text), text).toMatch(/^invalid: .*truncated/)
    }
  })

  it('refuses data after the value (Go would read only the first document)', () => {
    expect(fault('{"Image":"x"} {"HostConfig":{"Privileged":true}}')).toMatch(/^invalid: unexpected data after the JSON value/)
  })

  it('refuses whitespace only, and non-JSON text', () => {
    expect(fault('  \n')).toMatch(/only whitespace/)
    expect(fault('Privileged=true')).toMatch(/^invalid: /)
  })

  it('refuses bytes that are not UTF-8, and a byte-order mark', () => {
    expect(fault(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]))).toBe('invalid: request body is not valid UTF-8')
    expect(fault(new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toMatch(/^invalid: /)
  })

  it('refuses what Go refuses: comments, trailing commas, leading zeros, NaN, raw control characters, bad escapes', () => {
    for (const text of ['{"a":1,}', '[1,]', '{"a":01}', '{"a":NaN}', '// x\n{}', '{"a":"\u0001"}', '{"a":"\\x41"}', "{'a':1}", '{a:1}', '{"a":.5}', '{"a":-}']) {
      expect(fault(text), text).toMatch(/^invalid: /)
    }
  })
})

describe('Go key folding', () => {
  it('folds ASCII case, and only K (U+212A) and ſ (U+017F) beyond ASCII', () => {
    expect(goFold('privileged')).toBe(goFold('Privileged'))
    expect(goFold('Bindſ')).toBe(goFold('Binds'))
    expect(goFold('NetworKMode')).toBe(goFold('NetworkMode'))
    // Dotted and dotless i fold to I in Unicode's full mapping, not in Go's.
    expect(goFold('Prıvıleged')).not.toBe(goFold('Privileged'))
    expect(goFold('Prİvİleged')).not.toBe(goFold('Privileged'))
  })

  it('reads a field whatever the case or fold of its key', () => {
    const host = asStruct(parse('{"privileged": true, "Bindſ": ["/:/h"], "NetworKMode": "host"}') as JsonValue, 'HostConfig')
    expect(host.bool('Privileged')).toBe(true)
    expect(host.strings('Binds')).toEqual(['/:/h'])
    expect(host.string('NetworkMode')).toBe('host')
  })

  it('refuses a struct with two keys that fold to one field (case variants, ſ and K)', () => {
    for (const text of ['{"Binds": [], "binds": ["/:/h"]}', '{"Binds": [], "Bindſ": ["/:/h"]}', '{"NetworkMode": "none", "NetworKMode": "host"}']) {
      const value = parse(text) as JsonValue
      expect(() => asStruct(value, ''), text).toThrow(FieldFault)
      expect(() => asStruct(value, ''), text).toThrow(/daemon reads keys case-insensitively/)
    }
  })

  it('refuses a field of the wrong type instead of guessing', () => {
    const host = asStruct(parse('{"Privileged": "true", "Binds": "/:/h", "CapAdd": 7}') as JsonValue, 'HostConfig')
    expect(() => host.bool('Privileged')).toThrow('request body field HostConfig.Privileged must be true or false')
    expect(() => host.strings('Binds')).toThrow('HostConfig.Binds must be a list of strings')
    expect(() => host.stringOrStrings('CapAdd')).toThrow('HostConfig.CapAdd must be a list of strings')
  })

  it('reads null as Go\'s zero value and CapAdd as a string or a list (strslice)', () => {
    const host = asStruct(parse('{"Privileged": null, "Binds": null, "CapAdd": "SYS_ADMIN", "SecurityOpt": [null]}') as JsonValue, '')
    expect(host.bool('Privileged')).toBe(false)
    expect(host.strings('Binds')).toEqual([])
    expect(host.stringOrStrings('CapAdd')).toEqual(['SYS_ADMIN'])
    expect(host.strings('SecurityOpt')).toEqual([''])
  })
})
