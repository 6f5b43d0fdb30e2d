/**
 * A client certificate dockgate's own CA tooling refuses to issue: a
 * subject with control characters (newline, ANSI escape). Made with
 * node-forge directly, signed by the test CA, so the gateway accepts it and
 * its audit records must stay one escaped line each.
 */
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
