/**
 * Every coded error is documented: operators look codes up in the README's
 * table, so a code without a row (or a row with the wrong status) is a bug.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERRORS } from '../../src/shared/errors.js'

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8')

describe('error catalog', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    it(`${code} has a README row with its status`, () => {
      const row = readme.split('\n').find((line) => line.startsWith(`| \`${code}\` |`))
      expect(row, `README error table lacks ${code}`).toBeDefined()
      const status = row?.split('|')[2]?.trim() ?? ''
      if (spec.status === 0) expect(status).toBe('–')
      else expect(status.split('/')).toContain(String(spec.status))
    })
  }

  it('documents no code that does not exist', () => {
    const documented = [...readme.matchAll(/^\| `(DG_[A-Z_]+)` \|/gm)].map((m) => m[1])
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort())
  })
})
