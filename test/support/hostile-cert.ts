/**
 * Client certificates dockgate's own CA tooling refuses to issue, made with
 * node-forge directly: a subject with control characters (newline, ANSI
 * escape), subjects and SANs with commas, escapes and look-alike letters,
 * intermediates, and certificates signed by a client certificate's key.
 * Signed by the test CA (or whatever issuer is given), so the gateway
 * decides about them and its audit records must stay one escaped line each.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import forge from 'node-forge'
import type { Ca } from '../../src/certs/issue.js'

/** Writes a DOCKER_CERT_PATH bundle for `cn` (any characters) with OU `ou` into `dir`. */
export function hostileBundle (ca: Ca, dir: string, cn: string, ou: string): string {
  const keys = forge.pki.rsa.generateKeyPair(2048)
  const caCert = forge.pki.certificateFromPem(ca.certPem)
  const cert = forge.pki.createCertificate()
  cert.publicKey = keys.publicKey
  cert.serialNumber = '7e' + forge.util.bytesToHex(forge.random.getBytesSync(15))
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + 86_400_000)
  const utf8 = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class
  cert.setSubject([{ shortName: 'OU', value: ou, valueTagClass: utf8 }, { shortName: 'CN', value: cn, valueTagClass: utf8 }])
  cert.setIssuer(caCert.subject.attributes)
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true }
  ])
  cert.sign(forge.pki.privateKeyFromPem(ca.keyPem), forge.md.sha256.create())
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'ca.pem'), ca.certPem)
  writeFileSync(join(dir, 'cert.pem'), forge.pki.certificateToPem(cert))
  writeFileSync(join(dir, 'key.pem'), forge.pki.privateKeyToPem(keys.privateKey), { mode: 0o600 })
  return dir
}

/** One subject attribute, any characters; `OU` repeated gives several values. */
export interface NameAttribute { readonly shortName: 'CN' | 'OU' | 'O'; readonly value: string }

/** One subjectAltName: DNS, URI or email, any characters (written as the raw bytes of its UTF-8). */
export interface AltName { readonly type: 'dns' | 'uri' | 'email'; readonly value: string }

/** A certificate no well-behaved CA would issue; see {@link forgeCertificate}. */
export interface ForgedSpec {
  /** Least specific first, as in the certificate. */
  readonly subject: readonly NameAttribute[]
  /** Who signs it; absent: it signs itself. */
  readonly issuer?: Ca
  /** A CA certificate (basicConstraints cA, keyCertSign) rather than a client one. */
  readonly ca?: boolean
  readonly altNames?: readonly AltName[]
}

const ALT_TYPES = { email: 1, dns: 2, uri: 6 } as const

/**
 * Signs a certificate with node-forge, bypassing dockgate's issuing checks:
 * subjects and SANs with commas, newlines, escapes and look-alike letters,
 * intermediates, and certificates signed by a client certificate's key.
 * The key is made by Node (fast); valid from a minute ago for a day; a
 * client certificate gets clientAuth.
 */
export function forgeCertificate (spec: ForgedSpec): Ca {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const cert = forge.pki.createCertificate()
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString())
  cert.serialNumber = '7d' + forge.util.bytesToHex(forge.random.getBytesSync(15))
  cert.validity.notBefore = new Date(Date.now() - 60_000)
  cert.validity.notAfter = new Date(Date.now() + 86_400_000)
  const utf8 = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class
  // forge writes a UTF8String value as UTF-8 itself; SAN values (IA5String) go in as raw bytes.
  const subject = spec.subject.map((a) => ({ shortName: a.shortName, value: a.value, valueTagClass: utf8 }))
  cert.setSubject(subject)
  cert.setIssuer(spec.issuer === undefined ? subject : forge.pki.certificateFromPem(spec.issuer.certPem).subject.attributes)
  cert.setExtensions(spec.ca === true
    ? [{ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, { name: 'subjectKeyIdentifier' }]
    : [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
        ...(spec.altNames === undefined || spec.altNames.length === 0
          ? []
          : [{ name: 'subjectAltName', altNames: spec.altNames.map((n) => ({ type: ALT_TYPES[n.type], value: forge.util.encodeUtf8(n.value) })) }])
      ])
  cert.sign(forge.pki.privateKeyFromPem(spec.issuer?.keyPem ?? keyPem), forge.md.sha256.create())
  return { certPem: forge.pki.certificateToPem(cert), keyPem }
}

/** Writes a DOCKER_CERT_PATH bundle: `chain` (leaf first) as cert.pem, its key, and the CA the server is verified with. */
export function writeBundle (dir: string, serverCa: string, chain: readonly string[], keyPem: string): string {
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'ca.pem'), serverCa)
  writeFileSync(join(dir, 'cert.pem'), chain.join(''))
  writeFileSync(join(dir, 'key.pem'), keyPem, { mode: 0o600 })
  return dir
}
