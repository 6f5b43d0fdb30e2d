import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { compileRule, HTTP_METHODS, methodBit, ruleMatches, type CompiledRule } from '../../../src/policy/rules.js'
import { firstMatch, indexOf } from '../../../src/policy/rule-index.js'

// A small alphabet, so rules and paths collide often: literal, wildcard and
// open-ended segments at every position, and methods that differ.
const SEGMENTS = ['containers', 'images', 'web', 'json', 'app-1']
const ruleText = fc.tuple(
  fc.constantFrom('GET', 'POST', '*', 'GET,POST', 'DELETE'),
  fc.array(fc.constantFrom(...SEGMENTS, '*', '**'), { minLength: 0, maxLength: 4 })
).map(([method, parts]) => `${method} /${parts.join('/')}`)

function compiled (texts: readonly string[]): CompiledRule[] {
  const rules: CompiledRule[] = []
  texts.forEach((text, line) => {
    const rule = compileRule({ file: 'p.yaml', line: line + 1, col: 1, text, team: 't', effect: 'allow' as const })
    if (typeof rule !== 'string') rules.push(rule)
  })
  return rules
}

describe('rule index', () => {
  it('finds exactly the first rule, in the order written, that a scan from the start finds', () => {
    fc.assert(fc.property(
      fc.array(ruleText, { maxLength: 30 }),
      fc.constantFrom(...HTTP_METHODS),
      fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 5 }),
      (texts, method, segments) => {
        const rules = compiled(texts)
        const bit = methodBit(method)
        const scanned = rules.find((rule) => ruleMatches(rule, bit, segments)) ?? null
        expect(firstMatch(indexOf(rules), bit, segments)).toBe(scanned)
      }), { numRuns: 3000 })
  })

  it('prefers an earlier wildcard rule over a later literal one, and the reverse', () => {
    const rules = compiled(['GET /*/web/**', 'GET /containers/web/json', 'GET /**'])
    expect(firstMatch(indexOf(rules), methodBit('GET'), ['containers', 'web', 'json'])).toBe(rules[0])
    expect(firstMatch(indexOf(compiled(['GET /containers/web/json', 'GET /**'])), methodBit('GET'), ['containers', 'web', 'json'])?.ref.line).toBe(1)
  })
})
