/**
 * Whether an already admitted client still chains to a trusted CA, for when
 * `tls.ca` changes under open connections (CA rotation or removal). The
 * TLS gate verified the chain at the handshake against the CAs of that
 * moment; this answers the same question against a new set, with Node's
 * own X.509 checks (issuer name and key identifiers, then the signature).
 */
import { X509Certificate } from 'node:crypto'
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls'

/**
 * The peer's certificate chain as the handshake built it: the client
 * certificate first, then each issuer Node knows of. Empty when the socket
 * has no peer certificate. Never throws.
 */
export function peerChain (socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = []
  try {
    let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true)
    const seen = new Set<string>()
    while (cert?.raw !== undefined && !seen.has(cert.fingerprint256)) {
      seen.add(cert.fingerprint256)
      chain.push(new X509Certificate(cert.raw))
      cert = cert.issuerCertificate
    }
  } catch {
    // a socket already torn down has no peer left to check
  }
  return chain
}

/**
 * True when some certificate of `chain` is issued by one of `cas` (name and
 * signature checked). A chain verified at the handshake links each
 * certificate to the next, so one link into the new set is enough; a CA
 * renewed with the same key and name still counts as the same CA.
 */
export function chainsToAny (chain: readonly X509Certificate[], cas: readonly X509Certificate[]): boolean {
  return chain.some((cert) => cas.some((ca) => issuedBy(cert, ca)))
}

function issuedBy (cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey)
  } catch {
    return false
  }
}
