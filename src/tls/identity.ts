/**
 * Turns a client certificate that Node has already verified into the plain
 * identity the policy core matches on. Never called for an unverified chain:
 * the gate checks `socket.authorized` first (trusting getPeerCertificate()
 * without it is the classic mTLS mistake).
 */
import type { PeerCertificate } from 'node:tls'

/**
 * Who holds a verified client certificate. Multi-valued fields are arrays in
 * certificate order. `subject` is a one-line RFC 4514 rendering (most specific
 * first, control characters escaped) for display and audit only.
 */
export interface CertificateIdentity {
  readonly subject: string
  readonly issuer: string
  readonly cn: readonly string[]
  readonly ou: readonly string[]
  readonly o: readonly string[]
  readonly sanDns: readonly string[]
  readonly sanUri: readonly string[]
  readonly sanEmail: readonly string[]
  readonly serial: string
  readonly fingerprint256: string
  /**
   * SHA-256 fingerprint of the CA certificate Node's verification chained
   * this certificate to, or null when Node found none (an unverified chain).
   * Revocation is looked up per issuing CA with it.
   */
  readonly issuerFingerprint256: string | null
  readonly notAfter: string
}

type NameObject = Record<string, string | string[] | undefined>

/**
 * Builds the identity from Node's parsed peer certificate; pass the detailed
 * form (`getPeerCertificate(true)`) so the issuing CA is known.
 */
export function identityFromPeerCertificate (peer: PeerCertificate & { issuerCertificate?: PeerCertificate }): CertificateIdentity {
  const subject = peer.subject as unknown as NameObject
  const sans = parseSubjectAltNames(peer.subjectaltname ?? '')
  return Object.freeze({
    subject: formatDistinguishedName(subject),
    issuer: formatDistinguishedName(peer.issuer as unknown as NameObject),
    cn: values(subject, 'CN'),
    ou: values(subject, 'OU'),
    o: values(subject, 'O'),
    sanDns: sans.DNS ?? [],
    sanUri: sans.URI ?? [],
    sanEmail: sans.email ?? [],
    serial: peer.serialNumber.toUpperCase(),
    fingerprint256: peer.fingerprint256,
    issuerFingerprint256: issuerFingerprint(peer),
    notAfter: new Date(peer.valid_to).toISOString()
  })
}

function issuerFingerprint (peer: PeerCertificate & { issuerCertificate?: PeerCertificate }): string | null {
  const issuer = peer.issuerCertificate
  // Node links a self-signed certificate to itself; that is no CA of ours.
  if (issuer === undefined || issuer === peer || typeof issuer.fingerprint256 !== 'string') return null
  return issuer.fingerprint256
}

function values (name: NameObject, key: string): string[] {
  const v = name[key]
  if (v === undefined) return []
  return Array.isArray(v) ? [...v] : [v]
}

/**
 * Renders a distinguished name most-specific-first (`CN=a,OU=b,O=c`), the way
 * people write subjects. Node lists attributes in certificate order, which is
 * least specific first, hence the reversal.
 */
export function formatDistinguishedName (name: NameObject): string {
  const parts: string[] = []
  for (const [key, raw] of Object.entries(name).reverse()) {
    const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
    for (const value of list) parts.push(`${key}=${escapeDnValue(value)}`)
  }
  return parts.join(',')
}

/**
 * RFC 4514 escaping, plus hex escapes for control and non-ASCII characters so
 * a hostile CN (newline, ANSI escape) can never break a log line or a message.
 */
export function escapeDnValue (value: string): string {
  let out = ''
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0
    if (code < 0x20 || code === 0x7f || code > 0x7e) {
      for (const byte of Buffer.from(ch, 'utf8')) out += '\\' + byte.toString(16).toUpperCase().padStart(2, '0')
    } else if ('"+,;<>\\='.includes(ch)) {
      out += '\\' + ch
    } else {
      out += ch
    }
  }
  if (out.startsWith(' ') || out.startsWith('#')) out = '\\' + out
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = out.slice(0, -1) + '\\ '
  return out
}

/**
 * Parses Node's `subjectaltname` string (`DNS:a, URI:b, email:c`). Since the
 * fix for CVE-2021-44532 Node prints any value that could be misread (one
 * holding a comma, quote or control character) as a JSON string, so a value
 * is either a quoted JSON string or runs to the next `, `.
 */
export function parseSubjectAltNames (text: string): Record<string, string[]> {
  const result: Record<string, string[]> = {}
  let i = 0
  while (i < text.length) {
    const colon = text.indexOf(':', i)
    if (colon < 0) break
    const type = text.slice(i, colon)
    const { value, next } = readSanValue(text, colon + 1)
    ;(result[type] ??= []).push(value)
    i = text.startsWith(', ', next) ? next + 2 : text.length
  }
  return result
}

function readSanValue (text: string, start: number): { value: string; next: number } {
  if (text[start] !== '"') {
    const end = text.indexOf(', ', start)
    const stop = end < 0 ? text.length : end
    return { value: text.slice(start, stop), next: stop }
  }
  let j = start + 1
  while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
  return { value: JSON.parse(text.slice(start, j + 1)) as string, next: j + 1 }
}
