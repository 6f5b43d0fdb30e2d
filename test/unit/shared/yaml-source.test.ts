import { describe, expect, it } from 'vitest'
import { fixedLocator, parseYaml, type YamlSource } from '../../../src/shared/yaml-source.js'

function parsedOk (text: string): YamlSource {
  const result = parseYaml('conf.yaml', text)
  if (!result.ok) throw new Error(`unexpected diagnostics: ${JSON.stringify(result.diagnostics)}`)
  return result.value
}

describe('parseYaml', () => {
  it('returns the plain value of a valid document', () => {
    const source = parsedOk('listen: 0.0.0.0:2376\ntls:\n  ca: ca.pem\nlist: [a, b]\n')
    expect(source.value).toEqual({ listen: '0.0.0.0:2376', tls: { ca: 'ca.pem' }, list: ['a', 'b'] })
  })

  it('parses an empty file to null so the schema can say what is missing', () => {
    expect(parsedOk('# nothing here\n').value).toBeNull()
  })

  it('reports a syntax error at its line and column', () => {
    const result = parseYaml('conf.yaml', 'listen: x\ntls: ca: c.pem\n')
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.diagnostics[0]).toMatchObject({ file: 'conf.yaml', code: 'DG_YAML_SYNTAX', line: 2, col: 6 })
  })

  it('reports a duplicate key at the repeated key, naming it and the first occurrence', () => {
    const result = parseYaml('conf.yaml', 'tls:\n  ca: a.pem\n  cert: c.pem\n  ca: b.pem\n')
    expect(result.ok).toBe(false)
    if (result.ok) return
    expect(result.diagnostics).toEqual([{
      file: 'conf.yaml',
      line: 4,
      col: 3,
      code: 'DG_YAML_DUPLICATE_KEY',
      message: "key 'ca' (first at line 2) appears twice in the same mapping; YAML would silently keep only one of them"
    }])
  })

  it('reports every duplicate key, not just the first', () => {
    const result = parseYaml('p.yaml', 'a: 1\na: 2\nb:\n  c: 1\n  c: 2\n')
    expect(result.ok ? [] : result.diagnostics.map((d) => [d.code, d.line])).toEqual([
      ['DG_YAML_DUPLICATE_KEY', 2], ['DG_YAML_DUPLICATE_KEY', 5]
    ])
  })

  it('refuses a dangling alias instead of throwing', () => {
    const result = parseYaml('p.yaml', 'a: *nowhere\n')
    expect(result.ok).toBe(false)
    if (!result.ok) expect(result.diagnostics[0]?.code).toBe('DG_YAML_SYNTAX')
  })

  it('refuses several documents in one file', () => {
    const result = parseYaml('p.yaml', 'a: 1\n---\nb: 2\n')
    expect(result.ok).toBe(false)
  })

  it('refuses an unknown tag rather than silently reading it as a string', () => {
    expect(parseYaml('p.yaml', 'a: !secret x\n').ok).toBe(false)
  })

  it('keeps __proto__ as a plain key (no prototype pollution)', () => {
    const source = parsedOk('__proto__: { polluted: 1 }\n')
    expect(Object.keys(source.value as object)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('locating paths', () => {
  const source = parsedOk([
    'listen: 0.0.0.0:2376', //       line 1
    'tls:', //                        line 2
    '  ca: certs/ca.pem', //          line 3
    '  lisen: x', //                  line 4
    'teams:', //                      line 5
    '  ci:', //                       line 6
    '    allow:', //                  line 7
    '      - "GET /_ping"', //        line 8
    '      - 42', //                  line 9
    'empty:' //                       line 10
  ].join('\n') + '\n')

  it('points at the key for key problems and at the value for value problems', () => {
    expect(source.keyAt(['tls', 'lisen'])).toEqual({ line: 4, col: 3 })
    expect(source.valueAt(['tls', 'ca'])).toEqual({ line: 3, col: 7 })
  })

  it('walks into lists by index', () => {
    expect(source.valueAt(['teams', 'ci', 'allow', 1])).toEqual({ line: 9, col: 9 })
  })

  it('falls back to the nearest existing ancestor for a missing path', () => {
    expect(source.valueAt(['tls', 'cert'])).toEqual({ line: 3, col: 3 })
    expect(source.valueAt(['nope', 'deeper'])).toEqual({ line: 1, col: 1 })
  })

  it('points at the key when a key has no value', () => {
    expect(source.valueAt(['empty'])).toEqual({ line: 10, col: 1 })
  })

  it('resolves positions through aliases', () => {
    const aliased = parsedOk('base: &rules\n  - "GET /_ping"\nteam: *rules\n')
    expect(aliased.valueAt(['team', 0])).toEqual({ line: 2, col: 5 })
  })

  it('places everything at 0:0 for values that do not come from a file', () => {
    const locator = fixedLocator('<dev>')
    expect(locator.keyAt(['a'])).toEqual({ line: 0, col: 0 })
    expect(locator.file).toBe('<dev>')
  })
})
