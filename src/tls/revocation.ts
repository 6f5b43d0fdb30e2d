/**
 * The revoked serials the gateway knows, per issuing CA. Node's TLS checks
 * the CRLs during full handshakes; this list is checked on top of that for
 * every accepted connection, because a resumed TLS session skips
 * certificate verification altogether, and because the gateway must find
 * the already open connections of a certificate revoked by a CRL reload.
 */
import { normalizeSerial } from '../shared/serial.js'
import type { CertificateIdentity } from './identity.js'

/** One CA's revocations: its SHA-256 fingerprint and the serials it revoked (any hex spelling). */
export interface RevokedByCa {
  readonly caFingerprint256: string
  readonly revokedSerials: readonly string[]
}

/** An immutable lookup of revoked certificates. */
export interface RevocationList {
  /** How many serials are revoked, over all CAs. */
  readonly size: number
  /**
   * Whether `identity`'s certificate is revoked. Fails closed: when the
   * issuing CA is unknown, a serial revoked by any CA counts.
   */
  readonly isRevoked: (identity: Pick<CertificateIdentity, 'serial' | 'issuerFingerprint256'>) => boolean
}

/** Builds the lookup; several lists from one CA are merged (a serial in any of them is revoked). */
export function revocationList (lists: readonly RevokedByCa[]): RevocationList {
  const byCa = new Map<string, Set<string>>()
  const all = new Set<string>()
  for (const list of lists) {
    const serials = byCa.get(list.caFingerprint256) ?? new Set<string>()
    for (const serial of list.revokedSerials) {
      serials.add(normalizeSerial(serial))
      all.add(normalizeSerial(serial))
    }
    byCa.set(list.caFingerprint256, serials)
  }
  return Object.freeze({
    size: [...byCa.values()].reduce((sum, set) => sum + set.size, 0),
    isRevoked: (identity: Pick<CertificateIdentity, 'serial' | 'issuerFingerprint256'>) => {
      const serial = normalizeSerial(identity.serial)
      const ca = identity.issuerFingerprint256
      return ca === null ? all.has(serial) : byCa.get(ca)?.has(serial) === true
    }
  })
}

/** The empty list, for a gateway without `tls.crl`. */
export const NO_REVOCATIONS: RevocationList = revocationList([])
