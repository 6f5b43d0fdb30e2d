/**
 * Every coded error is documented: operators look codes up in the error code
 * table in docs/errors.md, so a code without a row (or a row with the wrong status) is a bug.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ERRORS } from '../../../src/shared/errors.js'

const errorsDoc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'errors.md'), 'utf8')

describe('error catalog', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    it(`${code} has a row with its status in docs/errors.md`, () => {
      const row = errorsDoc.split('\n').find((line) => line.startsWith(`| \`${code}\` |`))
      expect(row, `docs/errors.md error table lacks ${code}`).toBeDefined()
      const status = row?.split('|')[2]?.trim() ?? ''
      if (spec.status === 0) expect(status).toBe('–')
      else expect(status.split('/')).toContain(String(spec.status))
    })
  }

  it('documents no code that does not exist', () => {
    const documented = [...errorsDoc.matchAll(/^\| `(DG_[A-Z_]+)` \|/gm)].map((m) => m[1])
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort())
  })
})
