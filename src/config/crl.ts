/**
 * Reads the certificate revocation lists named by `tls.crl`, so a bad file
 * is a load-time problem (and a reload keeps the old state) instead of every
 * handshake failing later. Node TLS does the revocation checking itself;
 * this module extracts only what dockgate needs beside it: which CA signed
 * each CRL (its signature is verified with Node's crypto against the CAs in
 * `tls.ca`), its validity window, and the revoked serials, which the gateway
 * uses to close open connections and to re-check resumed sessions.
 *
 * Node has no CRL parser, so the DER is walked with node-forge's ASN.1
 * reader, which is already a dependency and reads any well-formed DER; the
 * signed bytes are sliced from the original DER, never re-encoded.
 */
import { X509Certificate, verify as verifySignature } from 'node:crypto'
import { createRequire } from 'node:module'
import type forge from 'node-forge'
import { normalizeSerial } from '../shared/serial.js'

let loaded: typeof forge | null = null
/**
 * node-forge, loaded on the first CRL read rather than with this module:
 * a serve process without CRLs never loads it (about 10 MB resident).
 */
function lib (): typeof forge {
  loaded ??= createRequire(import.meta.url)('node-forge') as typeof forge
  return loaded
}
// Both exist in node-forge but are missing from @types/node-forge.
const fromDer = (bytes: string, options: { strict: boolean; decodeBitStrings: boolean }): forge.asn1.Asn1 =>
  (lib().asn1.fromDer as unknown as (bytes: string, options: { strict: boolean; decodeBitStrings: boolean }) => forge.asn1.Asn1)(bytes, options)
const rdnAttributes = (name: forge.asn1.Asn1): Array<{ type: string; value: unknown }> =>
  (lib().pki as unknown as { RDNAttributesAsArray: (name: forge.asn1.Asn1) => Array<{ type: string; value: unknown }> }).RDNAttributesAsArray(name)

/**
 * What one CRL says, checked. Invariants: the signature verified against
 * the CA whose SHA-256 fingerprint is `caFingerprint256`, and the issuer
 * name equals that CA's subject; serials are normalised (upper-case hex
 * without leading zeros).
 */
export interface CrlFacts {
  readonly file: string
  /** This CRL alone as PEM (a file may hold several; Node reads one per entry). */
  readonly pem: string
  readonly caFingerprint256: string
  /** The issuing CA's subject, one line, for logs. */
  readonly issuer: string
  readonly thisUpdate: Date
  /** Null when the CRL names no nextUpdate (it then never goes stale). */
  readonly nextUpdate: Date | null
  /**
   * The cRLNumber extension, or null when the CRL has none. RFC 5280 makes
   * it increase with every CRL a CA issues, so unlike thisUpdate it orders
   * CRLs correctly even when they come from hosts whose clocks disagree.
   */
  readonly crlNumber: bigint | null
  readonly revokedSerials: readonly string[]
}

const OID_CRL_NUMBER = '2.5.29.20'
const CRL_BLOCK = /-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/g

// Signature algorithm OIDs and the digest Node's verify needs (null: the
// algorithm fixes its own hash, as Ed25519 does).
const SIGNATURE_DIGESTS: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null
}

/**
 * Parses every CRL block in `text` (the contents of `file`) and checks each
 * was signed by one of `cas`. Returns the facts, or messages naming the file
 * and what is wrong with it. Never throws.
 */
export function readCrlFile (file: string, text: string, cas: readonly X509Certificate[]): { crls: CrlFacts[]; problems: string[] } {
  const blocks = text.match(CRL_BLOCK) ?? []
  if (blocks.length === 0) {
    return { crls: [], problems: [`tls.crl file ${file} holds no PEM CRL (expected -----BEGIN X509 CRL-----)`] }
  }
  const crls: CrlFacts[] = []
  const problems: string[] = []
  blocks.forEach((pem, index) => {
    const which = blocks.length === 1 ? `tls.crl file ${file}` : `CRL ${index + 1} in tls.crl file ${file}`
    const result = readCrl(file, pem, cas)
    if (typeof result === 'string') problems.push(`${which} ${result}`)
    else crls.push(result)
  })
  return { crls, problems }
}

/**
 * The CAs in `cas` that no CRL in `crls` covers, as messages. With any CRL
 * loaded, OpenSSL checks revocation for every chain and refuses clients of a
 * CA without a CRL (UNABLE_TO_GET_CRL), so a gap would lock them all out.
 */
export function uncoveredCas (cas: readonly X509Certificate[], crls: readonly CrlFacts[]): string[] {
  const covered = new Set(crls.map((crl) => crl.caFingerprint256))
  return cas.filter((ca) => !covered.has(ca.fingerprint256)).map((ca) =>
    `tls.crl has no CRL from the CA ${oneLine(ca.subject)} in tls.ca; with revocation checking on, every ` +
    'client of that CA would be refused: add its CRL (dockgate certs crl writes one) or remove the CA from tls.ca')
}

function readCrl (file: string, pem: string, cas: readonly X509Certificate[]): CrlFacts | string {
  let der: Buffer
  let parsed: { tbsFields: forge.asn1.Asn1[]; algorithm: string; signature: Buffer }
  let layout: TbsLayout | string
  try {
    der = Buffer.from(lib().pem.decode(pem)[0]?.body ?? '', 'binary')
    parsed = parseCertificateList(der)
    // Inside the try: a malformed revoked entry or cRLNumber throws too.
    layout = tbsLayout(parsed.tbsFields)
  } catch (err) {
    return `cannot be parsed as a CRL (is it complete?): ${err instanceof Error ? err.message : String(err)}`
  }
  if (typeof layout === 'string') return layout
  const issuer = cas.find((ca) => sameName(subjectNameOf(ca), layout.issuer) && signedBy(ca, parsed, der))
  if (issuer === undefined) {
    return 'is not signed by any CA in tls.ca (a CRL from another CA, or a damaged file); ' +
      'tls.crl must hold the CRLs of the CAs in tls.ca'
  }
  return Object.freeze({
    file,
    pem,
    caFingerprint256: issuer.fingerprint256,
    issuer: oneLine(issuer.subject),
    thisUpdate: layout.thisUpdate,
    nextUpdate: layout.nextUpdate,
    crlNumber: layout.crlNumber,
    revokedSerials: Object.freeze(layout.revoked)
  })
}

interface TbsLayout { issuer: forge.asn1.Asn1; thisUpdate: Date; nextUpdate: Date | null; revoked: string[]; crlNumber: bigint | null }

// TBSCertList ::= SEQUENCE { version OPTIONAL, signature, issuer, thisUpdate,
//   nextUpdate OPTIONAL, revokedCertificates OPTIONAL, [0] crlExtensions OPTIONAL }
function tbsLayout (fields: forge.asn1.Asn1[]): TbsLayout | string {
  let i = fields[0]?.type === lib().asn1.Type.INTEGER && fields[0].tagClass === lib().asn1.Class.UNIVERSAL ? 1 : 0
  i += 1 // the inner signature algorithm, which must repeat the outer one
  const issuer = fields[i++]
  const thisUpdate = timeOf(fields[i++])
  if (issuer === undefined || thisUpdate === null) return 'is not a CRL (no issuer or thisUpdate)'
  const nextUpdate = timeOf(fields[i])
  if (nextUpdate !== null) i += 1
  const list = fields[i]
  const revoked = list?.tagClass === lib().asn1.Class.UNIVERSAL && list.type === lib().asn1.Type.SEQUENCE
    ? (list.value as forge.asn1.Asn1[]).map(serialOfEntry)
    : []
  return { issuer, thisUpdate, nextUpdate, revoked, crlNumber: crlNumberOf(fields.at(-1)) }
}

// crlExtensions [0] EXPLICIT Extensions; Extension ::= SEQUENCE { extnID,
// critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING (holding the DER) }.
function crlNumberOf (node: forge.asn1.Asn1 | undefined): bigint | null {
  if (node?.tagClass !== lib().asn1.Class.CONTEXT_SPECIFIC || (node.type as number) !== 0) return null
  const extensions = ((node.value as forge.asn1.Asn1[])[0]?.value ?? []) as forge.asn1.Asn1[]
  for (const extension of extensions) {
    const parts = extension.value as forge.asn1.Asn1[]
    const oid = parts[0]?.value
    const octets = parts.at(-1)?.value
    if (typeof oid !== 'string' || lib().asn1.derToOid(oid) !== OID_CRL_NUMBER || typeof octets !== 'string') continue
    const integer = fromDer(octets, { strict: true, decodeBitStrings: false })
    if (integer.type !== lib().asn1.Type.INTEGER || typeof integer.value !== 'string') throw new Error('the cRLNumber is not an INTEGER')
    return BigInt('0x' + (lib().util.bytesToHex(integer.value) || '0'))
  }
  return null
}

function serialOfEntry (entry: forge.asn1.Asn1): string {
  const serial = (entry.value as forge.asn1.Asn1[])[0]
  if (serial?.type !== lib().asn1.Type.INTEGER || typeof serial.value !== 'string') throw new Error('a revoked entry has no serial')
  return normalizeSerial(lib().util.bytesToHex(serial.value))
}

function timeOf (node: forge.asn1.Asn1 | undefined): Date | null {
  if (node === undefined || node.tagClass !== lib().asn1.Class.UNIVERSAL || typeof node.value !== 'string') return null
  if (node.type === lib().asn1.Type.UTCTIME) return lib().asn1.utcTimeToDate(node.value)
  if (node.type === lib().asn1.Type.GENERALIZEDTIME) return lib().asn1.generalizedTimeToDate(node.value)
  return null
}

// CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
function parseCertificateList (der: Buffer): { tbsFields: forge.asn1.Asn1[]; algorithm: string; signature: Buffer } {
  // decodeBitStrings: false keeps the signature as bytes instead of guessing it is ASN.1.
  const root = fromDer(der.toString('binary'), { strict: true, decodeBitStrings: false })
  const [tbs, algorithm, signature] = root.value as forge.asn1.Asn1[]
  const oid = (algorithm?.value as forge.asn1.Asn1[] | undefined)?.[0]
  if (!Array.isArray(tbs?.value) || typeof oid?.value !== 'string' || typeof signature?.value !== 'string') {
    throw new Error('not a CertificateList')
  }
  // A BIT STRING's first byte counts unused bits; signatures use whole bytes.
  return { tbsFields: tbs.value, algorithm: lib().asn1.derToOid(oid.value), signature: Buffer.from(signature.value.slice(1), 'binary') }
}

function signedBy (ca: X509Certificate, parsed: { algorithm: string; signature: Buffer }, der: Buffer): boolean {
  const digest = SIGNATURE_DIGESTS[parsed.algorithm]
  if (digest === undefined) return false
  try {
    return verifySignature(digest, firstElement(contentsOf(der, 0)), ca.publicKey, parsed.signature)
  } catch {
    return false
  }
}

// The exact encoded bytes of the first element inside a buffer of elements:
// the signature covers the TBS as encoded, so it is sliced, not re-encoded.
function firstElement (der: Buffer): Buffer {
  return der.subarray(0, headerLength(der, 0) + contentLength(der, 0))
}

function contentsOf (der: Buffer, offset: number): Buffer {
  const start = offset + headerLength(der, offset)
  return der.subarray(start, start + contentLength(der, offset))
}

function headerLength (der: Buffer, offset: number): number {
  const first = der[offset + 1] ?? 0
  return first < 0x80 ? 2 : 2 + (first & 0x7f)
}

function contentLength (der: Buffer, offset: number): number {
  const first = der[offset + 1] ?? 0
  if (first < 0x80) return first
  let length = 0
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (der[offset + 2 + i] ?? 0)
  return length
}

// TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serial, signature, issuer, validity, subject, ... }
function subjectNameOf (cert: X509Certificate): forge.asn1.Asn1 | null {
  const root = fromDer(cert.raw.toString('binary'), { strict: true, decodeBitStrings: false })
  const fields = ((root.value as forge.asn1.Asn1[])[0]?.value ?? []) as forge.asn1.Asn1[]
  const offset = fields[0]?.tagClass === lib().asn1.Class.CONTEXT_SPECIFIC ? 1 : 0
  return fields[offset + 4] ?? null
}

// Names compare by their attributes (type and value, in order), so a CRL
// whose issuer uses another string type for the same name still matches.
function sameName (a: forge.asn1.Asn1 | null, b: forge.asn1.Asn1): boolean {
  if (a === null) return false
  const attributes = (name: forge.asn1.Asn1): string =>
    JSON.stringify(rdnAttributes(name).map((attr) => [attr.type, attr.value]))
  try {
    return attributes(a) === attributes(b)
  } catch {
    return false
  }
}

function oneLine (subject: string): string {
  return subject.split('\n').reverse().join(',')
}
