/**
 * Issues the certificates dockgate needs: a CA, a server certificate and
 * client certificates. Pure apart from randomness and the clock (which can be
 * pinned with `now`): inputs and outputs are PEM strings, nothing touches the
 * disk. node-forge is used here only to build and sign certificates; keys come
 * from Node's native RSA generator and verification is always Node's TLS.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import forge from 'node-forge'
import { CertInputError } from './errors.js'
import { serverHostNames, type HostName } from './hosts.js'
import { checkClientAltNames, type ClientAltNames } from './names.js'

/** A CA able to issue: its certificate and its (unencrypted PKCS#8 or PKCS#1) RSA key, both PEM. */
export interface Ca {
  readonly certPem: string
  readonly keyPem: string
}

/**
 * A freshly issued certificate. Invariants: `keyPem` is an unencrypted PKCS#8
 * RSA-2048 key matching `certPem`; `serialHex` is the serial as Node prints it
 * (`X509Certificate.serialNumber`, `getPeerCertificate().serialNumber`):
 * 32 upper-case hex digits, so it can be matched against audit records as is.
 */
export interface IssuedCertificate {
  readonly certPem: string
  readonly keyPem: string
  readonly serialHex: string
}

/** What the CA is called; `now` pins the clock (tests, reproducible output). */
export interface CaOptions {
  readonly commonName: string
  readonly days: number
  readonly now?: Date
}

/** The names a server answers to; `localhost` and `127.0.0.1` are always added. */
export interface ServerCertificateOptions {
  readonly hosts: readonly string[]
  readonly days: number
  readonly now?: Date
}

/** An extended key usage dockgate can put into a certificate. */
export type ExtendedKeyUsage = 'clientAuth' | 'serverAuth'

/**
 * Who a client certificate identifies: `cn` becomes the subject CN and each
 * of `ous`, in order, one OU attribute (dockgate's policy maps OUs to teams).
 *
 * `notBefore`, `notAfter` and `extKeyUsage` are test/ops knobs, not for
 * everyday issuing: they override the computed validity window (to make
 * expired or not-yet-valid certificates) and the default `['clientAuth']`
 * usage (e.g. `['serverAuth']` to prove such a certificate is refused;
 * an empty list omits the extension, which TLS treats as "any usage").
 */
export interface ClientCertificateOptions {
  readonly cn: string
  readonly ous: readonly string[]
  readonly days: number
  /** Short-lived certificates: when set, the validity is this many hours and `days` is ignored. */
  readonly hours?: number
  /** subjectAltName entries (policies can match san_dns, san_uri, san_email); none unless set. */
  readonly altNames?: ClientAltNames
  readonly now?: Date
  readonly notBefore?: Date
  readonly notAfter?: Date
  readonly extKeyUsage?: readonly ExtendedKeyUsage[]
}

/** Backdating tolerates clients whose clocks run a little behind the issuer's. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000
const DAY_MS = 24 * 60 * 60 * 1000
/** Upper bound on `days`, so a typo cannot produce dates JavaScript cannot represent. */
export const MAX_DAYS = 36_500
/** Upper bound on `hours`: the same span as {@link MAX_DAYS}. */
export const MAX_HOURS = MAX_DAYS * 24
const HOUR_MS = 60 * 60 * 1000
// X.520 upper bound for CN and OU values.
const MAX_NAME_ATTRIBUTE_LENGTH = 64

interface Validity { readonly notBefore: Date; readonly notAfter: Date }
interface KeyPair { readonly keyPem: string; readonly privateKey: forge.pki.rsa.PrivateKey; readonly publicKey: forge.pki.rsa.PublicKey }
interface Issuer { readonly subject: forge.pki.CertificateField[]; readonly key: forge.pki.rsa.PrivateKey; readonly keyIdentifier: string }
interface Draft { readonly subject: forge.pki.CertificateField[]; readonly validity: Validity; readonly extensions: object[] }

/**
 * Creates a self-signed CA: basicConstraints cA=true and keyUsage
 * keyCertSign+cRLSign (both critical), a subjectKeyIdentifier, subject
 * `CN=<commonName>, O=dockgate`, valid from now − 5 min for `days` days.
 */
export function createCa (opts: CaOptions): Ca {
  const commonName = checkNameAttribute('CA common name', opts.commonName)
  const keys = generateRsaKeyPair()
  // Least specific first, as X.509 subjects conventionally are, so the
  // RFC 4514 rendering people read is `CN=...,O=dockgate`.
  const subject = [utf8Attribute('O', 'dockgate'), utf8Attribute('CN', commonName)]
  // Self-signed: no authorityKeyIdentifier is written, so the key id stays unused.
  const self: Issuer = { subject, key: keys.privateKey, keyIdentifier: '' }
  const cert = buildSignedCertificate(keys, self, {
    subject,
    validity: validityFor(opts.now ?? new Date(), opts.days),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' }
    ]
  })
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem }
}

/**
 * Issues a TLS server certificate from `ca`: serverAuth only, CN = the first
 * host (or `localhost`), subjectAltName with DNS entries for names and IP
 * entries for IPv4/IPv6 addresses, always including `localhost` and
 * `127.0.0.1`, duplicates removed. Throws {@link CertInputError} for a host
 * that is neither a DNS name nor an IP address.
 */
export function issueServerCertificate (ca: Ca, opts: ServerCertificateOptions): IssuedCertificate {
  const names = serverHostNames(opts.hosts)
  const issuer = loadIssuer(ca)
  const keys = generateRsaKeyPair()
  const commonName = names[0]?.value ?? 'localhost'
  return issueLeaf(keys, issuer, {
    subject: [utf8Attribute('CN', commonName)],
    validity: validityFor(opts.now ?? new Date(), opts.days),
    extensions: [
      ...leafExtensions(issuer, ['serverAuth']),
      { name: 'subjectAltName', altNames: names.map(toAltName) }
    ]
  })
}

/**
 * Issues a TLS client certificate from `ca`: clientAuth only (unless the
 * `extKeyUsage` knob says otherwise), subject: one `OU=` per entry of
 * `ous` in order, then `CN=<cn>` (least specific first), plus the given
 * subjectAltNames. Throws {@link CertInputError} for an empty or over-long
 * CN/OU, a malformed alternative name, or a validity window that ends
 * before it starts.
 */
export function issueClientCertificate (ca: Ca, opts: ClientCertificateOptions): IssuedCertificate {
  const { cn, ous } = checkClientIdentity(opts.cn, opts.ous)
  const altNames = checkClientAltNames(opts.altNames ?? { dns: [], uri: [], email: [] })
  const now = opts.now ?? new Date()
  const computed = opts.hours === undefined ? validityFor(now, opts.days) : validityForHours(now, opts.hours)
  const validity = { notBefore: opts.notBefore ?? computed.notBefore, notAfter: opts.notAfter ?? computed.notAfter }
  if (validity.notAfter.getTime() <= validity.notBefore.getTime()) {
    throw new CertInputError('notAfter must be later than notBefore')
  }
  const issuer = loadIssuer(ca)
  return issueLeaf(generateRsaKeyPair(), issuer, {
    subject: [...ous.map((ou) => utf8Attribute('OU', ou)), utf8Attribute('CN', cn)],
    validity,
    extensions: [
      ...leafExtensions(issuer, opts.extKeyUsage ?? ['clientAuth']),
      // An empty subjectAltName is invalid DER; no names means no extension.
      ...(altNames.length === 0 ? [] : [{ name: 'subjectAltName', altNames }])
    ]
  })
}

/**
 * Checks a client subject without issuing anything, so callers can refuse bad
 * input before touching the CA. Throws {@link CertInputError} unless CN and
 * every OU are 1 to 64 characters without control characters.
 */
export function checkClientIdentity (cn: string, ous: readonly string[]): { cn: string; ous: string[] } {
  return { cn: checkNameAttribute('client CN', cn), ous: ous.map((ou) => checkNameAttribute('OU', ou)) }
}

function issueLeaf (keys: KeyPair, issuer: Issuer, draft: Draft): IssuedCertificate {
  const cert = buildSignedCertificate(keys, issuer, draft)
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem, serialHex: cert.serialNumber.toUpperCase() }
}

function leafExtensions (issuer: Issuer, usages: readonly ExtendedKeyUsage[]): object[] {
  const extensions: object[] = [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyIdentifier }
  ]
  // An empty extKeyUsage SEQUENCE is invalid DER; "no restriction" is expressed by omitting it.
  if (usages.length > 0) {
    extensions.push({ name: 'extKeyUsage', ...Object.fromEntries(usages.map((usage) => [usage, true])) })
  }
  return extensions
}

function buildSignedCertificate (keys: KeyPair, issuer: Issuer, draft: Draft): forge.pki.Certificate {
  const cert = forge.pki.createCertificate()
  cert.serialNumber = randomSerialHex()
  cert.validity.notBefore = draft.validity.notBefore
  cert.validity.notAfter = draft.validity.notAfter
  cert.setSubject(draft.subject)
  cert.setIssuer(issuer.subject)
  // The public key must be in place first: forge derives subjectKeyIdentifier from it.
  cert.publicKey = keys.publicKey
  cert.setExtensions(draft.extensions)
  cert.sign(issuer.key, forge.md.sha256.create())
  return cert
}

function loadIssuer (ca: Ca): Issuer {
  try {
    const cert = forge.pki.certificateFromPem(ca.certPem)
    const key = forge.pki.privateKeyFromPem(ca.keyPem)
    return { subject: cert.subject.attributes, key, keyIdentifier: subjectKeyIdentifierOf(cert) }
  } catch (err) {
    throw new CertInputError('the CA certificate or key cannot be used for issuing ' +
      `(dockgate issues from unencrypted RSA CAs only): ${err instanceof Error ? err.message : String(err)}`)
  }
}

// The authorityKeyIdentifier of an issued certificate must equal the CA's
// subjectKeyIdentifier byte for byte, or OpenSSL will not find the issuer.
// forge's `keyIdentifier: true` would hash the *issued* certificate's key,
// so the CA's own extension value is used (computed only if it has none).
function subjectKeyIdentifierOf (cert: forge.pki.Certificate): string {
  const extension: { subjectKeyIdentifier?: unknown } | undefined = cert.getExtension('subjectKeyIdentifier')
  const hex = extension?.subjectKeyIdentifier
  return typeof hex === 'string' ? forge.util.hexToBytes(hex) : cert.generateSubjectKeyIdentifier().getBytes()
}

function generateRsaKeyPair (): KeyPair {
  // Node's native generator: forge's pure-JS one takes seconds per key.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  return { keyPem: privateKey, privateKey: forge.pki.privateKeyFromPem(privateKey), publicKey: forge.pki.publicKeyFromPem(publicKey) }
}

/**
 * 16 random bytes as hex. DER INTEGERs are signed and minimally encoded: a
 * clear top bit keeps the serial positive and a non-zero first byte keeps the
 * encoding minimal, so every serial is exactly 32 hex digits.
 */
function randomSerialHex (): string {
  const bytes = randomBytes(16)
  bytes.writeUInt8((bytes.readUInt8(0) & 0x7f) || 0x01, 0)
  return bytes.toString('hex')
}

function validityFor (now: Date, days: number): Validity {
  if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CertInputError(`validity must be a whole number of days between 1 and ${MAX_DAYS}, got ${days}`)
  }
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter: new Date(now.getTime() + days * DAY_MS) }
}

function validityForHours (now: Date, hours: number): Validity {
  if (!Number.isInteger(hours) || hours < 1 || hours > MAX_HOURS) {
    throw new CertInputError(`validity must be a whole number of hours between 1 and ${MAX_HOURS}, got ${hours}`)
  }
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_MS), notAfter: new Date(now.getTime() + hours * HOUR_MS) }
}

function checkNameAttribute (what: string, value: string): string {
  // Control characters would survive into log lines and Node's "OU=a\nOU=b" subject strings.
  // eslint-disable-next-line no-control-regex
  if (value.length === 0 || value.length > MAX_NAME_ATTRIBUTE_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new CertInputError(`${what} '${value}' must be 1 to ${MAX_NAME_ATTRIBUTE_LENGTH} characters without control characters`)
  }
  return value
}

function utf8Attribute (shortName: 'CN' | 'O' | 'OU', value: string): forge.pki.CertificateField {
  // forge defaults to PrintableString, which cannot hold '@', '_' or non-ASCII;
  // UTF8String is what RFC 5280 asks for. (The typings mislabel the tag as a class.)
  return { shortName, value, valueTagClass: forge.asn1.Type.UTF8 as unknown as forge.asn1.Class }
}

function toAltName (name: HostName): object {
  // GeneralName tags: 2 = dNSName, 7 = iPAddress.
  return name.kind === 'dns' ? { type: 2, value: name.value } : { type: 7, ip: name.value }
}
