/**
 * Issues certificate revocation lists (X.509 v2 CRLs, RFC 5280 section 5).
 * node-forge has no CRL builder, so the structure is assembled with
 * forge.asn1 and signed with the CA key the same way forge signs
 * certificates (SHA-256 with RSA). Pure apart from the clock, which can be
 * pinned: PEM in, PEM out. Reading CRLs (serving) is Node TLS's job, with
 * the facts dockgate needs parsed in src/config/crl.ts.
 */
import forge from 'node-forge'
import { CertInputError } from './errors.js'
import { CLOCK_SKEW_MS, type Ca } from './issue.js'
import { isSerialHex, normalizeSerial } from '../shared/serial.js'

const { asn1 } = forge
const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11'
const OID_CRL_NUMBER = '2.5.29.20'
const OID_AUTHORITY_KEY_ID = '2.5.29.35'
const OID_REASON_CODE = '2.5.29.21'
// UTCTime can only hold years 1950-2049; RFC 5280 asks for GeneralizedTime after that.
const UTC_TIME_LAST_YEAR = 2049

/** RFC 5280 CRLReason names dockgate accepts, with their codes. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9
} as const

/** A reason name from {@link REVOCATION_REASONS}. */
export type RevocationReason = keyof typeof REVOCATION_REASONS

/** One revoked certificate: its serial (hex, any case), when, and why. */
export interface RevokedEntry {
  readonly serialHex: string
  readonly revokedAt: Date
  readonly reason: RevocationReason
}

/**
 * What goes into a CRL. `thisUpdate` defaults to now − 5 min (clock skew,
 * as for certificates); `nextUpdate` is when relying parties consider the
 * list stale. `number` is the monotonically increasing cRLNumber.
 */
export interface CrlOptions {
  readonly revoked: readonly RevokedEntry[]
  readonly number: number
  readonly nextUpdate: Date
  readonly now?: Date
}

/**
 * Builds and signs a CRL for `ca`. Invariants: the issuer Name is copied
 * byte for byte from the CA certificate's subject (OpenSSL finds CRLs by
 * issuer name); it carries authorityKeyIdentifier and cRLNumber, as RFC 5280
 * requires; an empty list omits revokedCertificates instead of writing an
 * empty SEQUENCE. Throws {@link CertInputError} for a serial that is not hex
 * or a nextUpdate not after thisUpdate.
 */
export function issueCrl (ca: Ca, opts: CrlOptions): string {
  const now = opts.now ?? new Date()
  const thisUpdate = new Date(now.getTime() - CLOCK_SKEW_MS)
  if (opts.nextUpdate.getTime() <= now.getTime()) throw new CertInputError('the CRL nextUpdate must be in the future')
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const key = forge.pki.privateKeyFromPem(ca.keyPem)
  const tbs = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    integer(1), // v2: needed for extensions
    signatureAlgorithm(),
    subjectNameOf(ca.certPem),
    time(thisUpdate),
    time(opts.nextUpdate),
    ...(opts.revoked.length === 0 ? [] : [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, opts.revoked.map(revokedEntry))]),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
      extension(OID_AUTHORITY_KEY_ID, authorityKeyIdentifier(caCert)),
      extension(OID_CRL_NUMBER, integer(opts.number))
    ])])
  ])
  const md = forge.md.sha256.create()
  md.update(asn1.toDer(tbs).getBytes())
  const signature = key.sign(md)
  const crl = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    tbs,
    signatureAlgorithm(),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, String.fromCharCode(0) + signature)
  ])
  return forge.pem.encode({ type: 'X509 CRL', body: asn1.toDer(crl).getBytes() }, { maxline: 64 })
}

function revokedEntry (entry: RevokedEntry): forge.asn1.Asn1 {
  if (!isSerialHex(entry.serialHex)) throw new CertInputError(`'${entry.serialHex}' is not a hex serial number`)
  const fields = [serialInteger(entry.serialHex), time(entry.revokedAt)]
  // RFC 5280: use no reasonCode rather than "unspecified".
  if (entry.reason !== 'unspecified') {
    const reason = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.ENUMERATED, false, String.fromCharCode(REVOCATION_REASONS[entry.reason]))
    fields.push(asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [extension(OID_REASON_CODE, reason)]))
  }
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, fields)
}

// A positive, minimally encoded INTEGER from hex.
function serialInteger (hex: string): forge.asn1.Asn1 {
  let digits = normalizeSerial(hex)
  if (digits.length % 2 === 1) digits = '0' + digits
  if (parseInt(digits.slice(0, 2), 16) >= 0x80) digits = '00' + digits
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, forge.util.hexToBytes(digits))
}

function integer (value: number): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.INTEGER, false, asn1.integerToDer(value).getBytes())
}

function time (date: Date): forge.asn1.Asn1 {
  return date.getUTCFullYear() <= UTC_TIME_LAST_YEAR
    ? asn1.create(asn1.Class.UNIVERSAL, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(date))
    : asn1.create(asn1.Class.UNIVERSAL, asn1.Type.GENERALIZEDTIME, false, asn1.dateToGeneralizedTime(date))
}

function signatureAlgorithm (): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(OID_SHA256_WITH_RSA).getBytes()),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.NULL, false, '')
  ])
}

function extension (oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(oid).getBytes()),
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OCTETSTRING, false, asn1.toDer(value).getBytes())
  ])
}

// AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }
// The CA's own subjectKeyIdentifier, so it matches the certificates it issued.
function authorityKeyIdentifier (caCert: forge.pki.Certificate): forge.asn1.Asn1 {
  const extension: { subjectKeyIdentifier?: unknown } | undefined = caCert.getExtension('subjectKeyIdentifier')
  const hex = extension?.subjectKeyIdentifier
  const keyId = typeof hex === 'string' ? forge.util.hexToBytes(hex) : caCert.generateSubjectKeyIdentifier().getBytes()
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, keyId)
  ])
}

// The subject Name exactly as encoded in the CA certificate: TBSCertificate
// is [version] serial signature issuer validity subject ..., where the
// explicit [0] version is optional.
function subjectNameOf (certPem: string): forge.asn1.Asn1 {
  const cert = asn1.fromDer(forge.pem.decode(certPem)[0]?.body ?? '')
  const tbs = (cert.value as forge.asn1.Asn1[])[0]
  const fields = (tbs?.value ?? []) as forge.asn1.Asn1[]
  const offset = fields[0]?.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 1 : 0
  const subject = fields[offset + 4]
  if (subject === undefined) throw new CertInputError('the CA certificate has no subject')
  return subject
}
