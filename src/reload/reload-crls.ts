/**
 * The one exception to all-or-nothing reloads. When a reload is refused
 * (a policy typo, a half-written certificate), the CRL files in use are
 * read again on their own; if they only tighten what is enforced (see
 * crlTightening), they are applied anyway with the certificate, key and CA
 * already serving. Otherwise `dockgate certs revoke` would do nothing until
 * someone fixed an unrelated file, and the bar is that nobody
 * whose access was revoked keeps it for longer than one reload.
 */
import type { TlsConfig } from '../config/load.js'
import { readCrlSet } from '../config/crl-files.js'
import { crlTightening } from '../config/crl-order.js'

/** The TLS config to apply with the new CRLs, or why there is none (null: nothing changed to mention). */
export type CrlsOnly =
  | { readonly kind: 'apply'; readonly tls: TlsConfig; readonly newlyRevoked: number }
  | { readonly kind: 'skip'; readonly reason: string | null }

/**
 * Reads the CRL files `current` names, checked against its CAs. Invariant:
 * `apply` only when they are valid by the load's own bar and tighten
 * every CA's revocations; the returned config differs from `current` in
 * its CRLs alone. Never throws.
 */
export async function crlsOnly (current: TlsConfig): Promise<CrlsOnly> {
  if (current.crlFiles.length === 0) return { kind: 'skip', reason: null }
  const read = await readCrlSet(current.crlFiles, current.ca)
  if (!read.ok) return { kind: 'skip', reason: `they cannot be used: ${read.problems.join('; ')}` }
  const verdict = crlTightening(current.crls, read.crls)
  if (verdict.kind === 'unchanged') return { kind: 'skip', reason: null }
  if (verdict.kind === 'loosens') return { kind: 'skip', reason: `they do not only add revocations (${verdict.reason})` }
  return { kind: 'apply', tls: Object.freeze({ ...current, crls: Object.freeze([...read.crls]) }), newlyRevoked: verdict.newlyRevoked }
}
