import { Type } from '@sinclair/typebox'
import { describe, expect, it } from 'vitest'
import { sortDiagnostics } from '../../../src/shared/diagnostics.js'
import { checkSchema, closeMatch } from '../../../src/shared/schema-check.js'
import { parseYaml, type YamlSource } from '../../../src/shared/yaml-source.js'

const Schema = Type.Object({
  listen: Type.String({ description: 'a string like 0.0.0.0:2376' }),
  upstream: Type.Optional(Type.String()),
  tls: Type.Object({ ca: Type.String(), cert: Type.String() }, { additionalProperties: false }),
  policy: Type.Optional(Type.String({ minLength: 1, description: 'a non-empty path' })),
  audit: Type.Optional(Type.Object({ file: Type.String() }, { additionalProperties: false })),
  version: Type.Optional(Type.Literal(1)),
  rules: Type.Optional(Type.Array(Type.String()))
}, { additionalProperties: false })

function source (text: string): YamlSource {
  const parsed = parseYaml('gw.yaml', text)
  if (!parsed.ok) throw new Error('fixture must parse')
  return parsed.value
}

function check (text: string): string[] {
  const src = source(text)
  return checkSchema(Schema, src.value, src).map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}

describe('checkSchema', () => {
  it('accepts a conforming value', () => {
    expect(check('listen: 0.0.0.0:2376\ntls: { ca: a, cert: b }\n')).toEqual([])
  })

  it('names an unknown key, lists the valid ones and suggests the close match', () => {
    expect(check('lisen: 0.0.0.0:2376\nlisten: x\ntls: { ca: a, cert: b }\n')).toEqual([
      "1:1 DG_UNKNOWN_KEY unknown key 'lisen' at the top level; valid keys: listen, upstream, tls, policy, audit, version, rules (did you mean 'listen'?)"
    ])
  })

  it('names the section of a nested unknown key and gives no suggestion when nothing is close', () => {
    expect(check('listen: x\ntls:\n  ca: a\n  cert: b\n  password: p\n')).toEqual([
      "5:3 DG_UNKNOWN_KEY unknown key 'password' in tls; valid keys: ca, cert"
    ])
  })

  it('reports a missing required key at the mapping that should hold it, once', () => {
    expect(check('listen: x\ntls:\n  cert: b\n')).toEqual([
      "3:3 DG_MISSING_KEY missing required key 'ca' in tls"
    ])
  })

  it('says what type was expected and what was found, at the value', () => {
    expect(check('listen: 2376\ntls: { ca: a, cert: b }\n')).toEqual([
      "1:9 DG_WRONG_TYPE 'listen' must be a string like 0.0.0.0:2376, got a number"
    ])
  })

  it('does not cascade under a value of the wrong type', () => {
    expect(check('listen: x\ntls: [a, b]\n')).toEqual([
      "2:6 DG_WRONG_TYPE 'tls' must be a mapping, got a list"
    ])
  })

  it('calls an empty value empty', () => {
    expect(check('listen:\ntls: { ca: a, cert: b }\n')).toEqual([
      "1:1 DG_WRONG_TYPE 'listen' must be a string like 0.0.0.0:2376, got an empty value"
    ])
  })

  it('treats a constraint failure on the right type as a bad value and shows the value', () => {
    expect(check('listen: x\ntls: { ca: a, cert: b }\npolicy: ""\nversion: 2\n')).toEqual([
      "3:9 DG_BAD_VALUE 'policy' must be a non-empty path, got \"\"",
      "4:10 DG_BAD_VALUE 'version' must be 1, got 2"
    ])
  })

  it('names list items by index', () => {
    expect(check('listen: x\ntls: { ca: a, cert: b }\nrules: ["GET /x", 5]\n')).toEqual([
      "3:19 DG_WRONG_TYPE 'rules[1]' must be a string, got a number"
    ])
  })

  it('reports every problem in one pass', () => {
    const src = source('lisen: x\ntls: { cert: 1 }\naudit: { fil: a }\n')
    const problems = sortDiagnostics(checkSchema(Schema, src.value, src))
    expect(problems.map((d) => `${d.line}:${d.col} ${d.code}`)).toEqual([
      '1:1 DG_MISSING_KEY', // listen
      '1:1 DG_UNKNOWN_KEY', // lisen
      '2:6 DG_MISSING_KEY', // tls.ca
      '2:14 DG_WRONG_TYPE', // tls.cert
      '3:8 DG_MISSING_KEY', // audit.file
      '3:10 DG_UNKNOWN_KEY' // audit.fil
    ])
  })

  it('describes the whole document when it is not a mapping', () => {
    expect(check('- a\n- b\n')[0]).toMatch(/^1:1 DG_WRONG_TYPE the document must be a mapping, got a list$/)
  })
})

describe('closeMatch', () => {
  it('suggests typos within two edits and nothing for unrelated words', () => {
    expect(closeMatch('upstrem', ['listen', 'upstream'])).toBe('upstream')
    expect(closeMatch('certs', ['ca', 'cert', 'key'])).toBe('cert')
    expect(closeMatch('banana', ['ca', 'cert', 'key'])).toBeNull()
    expect(closeMatch('x', ['ca'])).toBeNull()
  })
})
