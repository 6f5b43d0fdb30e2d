/**
 * Reads a set of `tls.crl` files on their own, checked against a CA bundle
 * exactly as the config load checks them (every CRL signed by a CA in the
 * bundle, every CA covered). A failed reload uses it to see whether the
 * CRLs alone can still be applied: a revocation must not wait for an
 * unrelated typo to be fixed.
 */
import { uncoveredCas, readCrlFile, type CrlFacts } from './crl.js'
import { readTextFile } from './read-file.js'
import { caCertificates } from './tls-material.js'

/** Every CRL in the files, or every reason they cannot be used as they are. */
export type CrlSetRead =
  | { readonly ok: true; readonly crls: readonly CrlFacts[] }
  | { readonly ok: false; readonly problems: readonly string[] }

/**
 * Reads `files` (absolute paths) and checks their CRLs against the CAs in
 * `caPem`. Invariant: `ok` only when every file was read, every CRL parsed
 * and verified, and every CA has a CRL, the same bar as at load. Never throws.
 */
export async function readCrlSet (files: readonly string[], caPem: string): Promise<CrlSetRead> {
  const cas = caCertificates(caPem)
  const crls: CrlFacts[] = []
  const problems: string[] = []
  for (const file of files) {
    const read = await readTextFile(file)
    if (!read.ok) {
      problems.push(`cannot read tls.crl file ${file}: ${read.reason}`)
      continue
    }
    const parsed = readCrlFile(file, read.text, cas)
    crls.push(...parsed.crls)
    problems.push(...parsed.problems)
  }
  if (problems.length === 0) problems.push(...uncoveredCas(cas, crls))
  return problems.length === 0 ? { ok: true, crls } : { ok: false, problems }
}
