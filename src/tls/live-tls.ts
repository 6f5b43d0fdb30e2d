/**
 * Turns the loaded TLS config into what the gate runs with at a given
 * moment: the secure-context material and the revocation list.
 *
 * The expired-CRL decision lives here. OpenSSL refuses every client once a
 * CRL passes its nextUpdate (CRL_HAS_EXPIRED), which would lock everyone out
 * of a Docker host because a cron job did not run. dockgate's CRL is written
 * locally by `dockgate certs revoke`, so a stale list means nobody
 * regenerated it, not that revocations are missing. So while every CRL is
 * current, Node's TLS checks them in the handshake; once any is stale (or
 * not valid yet), the CRLs are taken out of the secure context and the
 * revocations they list are still enforced by the gate's own check, which
 * runs on every connection anyway. The operator is told loudly, ahead of
 * time and at the moment it happens (see expiry.ts and reload.ts).
 */
import type { TlsMaterial } from './gate.js'
import { revocationList, type RevocationList } from './revocation.js'

/** One CRL as far as the live material needs it (config/crl.ts reads and checks them). */
export interface CrlWindow {
  readonly file: string
  readonly pem: string
  readonly caFingerprint256: string
  readonly revokedSerials: readonly string[]
  readonly thisUpdate: Date
  readonly nextUpdate: Date | null
}

/** The validated TLS config the material is derived from (config's TlsConfig is one). */
export interface TlsSource {
  readonly ca: string
  readonly cert: string
  readonly key: string
  readonly crls: readonly CrlWindow[]
}

/**
 * How long before nextUpdate a CRL is taken out of the secure context, so
 * no handshake races the moment OpenSSL starts answering CRL_HAS_EXPIRED.
 */
export const CRL_STALE_LEAD_MS = 5_000

/** The gate's material at one moment, derived from a validated {@link TlsSource}. */
export interface LiveTls {
  readonly material: TlsMaterial
  readonly revocation: RevocationList
  /** True when Node's TLS checks the CRLs in the handshake; false without CRLs or when one is stale. */
  readonly handshakeChecksCrl: boolean
  /** CRLs (by file) that are past nextUpdate or before thisUpdate at `now`. */
  readonly staleCrls: readonly string[]
  /** The next moment this derivation changes (a CRL becomes current or stale), or null. */
  readonly nextChange: Date | null
}

/**
 * Derives the live material. Pure: the same config and time give the same
 * answer. Invariant: the revocation list always holds every loaded CRL's
 * serials, stale or not, so a stale CRL never lets a revoked client in.
 */
export function liveTls (tls: TlsSource, now: Date): LiveTls {
  const at = now.getTime()
  const boundaries: number[] = []
  const stale: string[] = []
  for (const crl of tls.crls) {
    const from = crl.thisUpdate.getTime()
    const until = crl.nextUpdate === null ? Infinity : crl.nextUpdate.getTime() - CRL_STALE_LEAD_MS
    if (at < from || at >= until) stale.push(crl.file)
    for (const boundary of [from, until]) if (boundary > at && boundary !== Infinity) boundaries.push(boundary)
  }
  // All or nothing: OpenSSL demands a CRL for every CA once any is loaded.
  const handshakeChecksCrl = tls.crls.length > 0 && stale.length === 0
  return {
    material: { ca: tls.ca, cert: tls.cert, key: tls.key, crl: handshakeChecksCrl ? tls.crls.map((crl) => crl.pem) : [] },
    revocation: revocationList(tls.crls),
    handshakeChecksCrl,
    staleCrls: [...new Set(stale)],
    nextChange: boundaries.length === 0 ? null : new Date(Math.min(...boundaries))
  }
}
