/**
 * What every integration test checks about the audit trail it leaves: each
 * record validates against the published JSON Schema (schema/
 * audit-record.v1.json, with ajv, independent of the TypeBox source it was
 * generated from), and the files verify as complete, unedited chains.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { FileVerifier, linkFiles } from '../../src/audit/verify.js'

const schemaFile = join(import.meta.dirname, '..', '..', 'schema', 'audit-record.v1.json')
// strictRequired off: the per-stage `then: { required }` name properties defined one level up.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false })
addFormats.default(ajv)
/** The compiled published schema. */
export const validateRecord = ajv.compile(JSON.parse(readFileSync(schemaFile, 'utf8')) as object)

/** Problems with one line: not JSON, or not valid against the schema. */
export function schemaProblems (line: string): string[] {
  let record: unknown
  try {
    record = JSON.parse(line)
  } catch {
    return ['not JSON']
  }
  if (validateRecord(record)) return []
  return (validateRecord.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`)
}

/**
 * Checks every `.jsonl` file in `dir` (the active file and its rotated
 * ones): schema per record, chain per file, links between files. Throws a
 * readable list of everything wrong.
 */
export function checkAuditDir (dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).map((f) => join(dir, f))
  const problems: string[] = []
  const summaries = files.map((file) => {
    const verifier = new FileVerifier(file)
    const text = readFileSync(file, 'utf8')
    const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n')
    lines.forEach((line, i) => {
      if (line === '' && lines.length === 1) return
      verifier.line(line)
      for (const p of schemaProblems(line)) problems.push(`${file}:${i + 1} schema: ${p}`)
    })
    return verifier.finish()
  })
  const linked = linkFiles(summaries)
  for (const p of [...summaries.flatMap((s) => s.problems), ...linked.problems]) problems.push(`${p.file}:${p.line} ${p.code} ${p.message}`)
  if (problems.length > 0) throw new Error(`audit trail in ${dir} is not valid:\n${problems.slice(0, 20).join('\n')}`)
}
