// The issuing API: what ends up inside the certificates, read back with
// Node's X509Certificate (what the gateway uses) and OpenSSL's own verifier.
import { X509Certificate } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import forge from 'node-forge'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CertInputError } from '../../../src/certs/errors.js'
import { CLOCK_SKEW_MS, createCa, issueClientCertificate, issueServerCertificate, type Ca } from '../../../src/certs/issue.js'

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1'
const DAY_MS = 86_400_000
// Whole seconds: certificates store time at one-second resolution.
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000)

let ca: Ca
let caCert: X509Certificate
beforeAll(() => {
  ca = createCa({ commonName: 'test CA', days: 30, now: NOW })
  caCert = new X509Certificate(ca.certPem)
})

/** Extension flags as issued, including criticality, which Node does not expose. */
function extension (pem: string, name: string): Record<string, unknown> | undefined {
  const found: unknown = forge.pki.certificateFromPem(pem).getExtension(name)
  return found as Record<string, unknown> | undefined
}

function expectIssuedByCa (cert: X509Certificate): void {
  expect(cert.checkIssued(caCert)).toBe(true)
  expect(cert.verify(caCert.publicKey)).toBe(true)
}

describe('createCa', () => {
  it('is a self-signed CA that may only sign certificates and CRLs', () => {
    expect(caCert.ca).toBe(true)
    expect(caCert.subject).toBe('O=dockgate\nCN=test CA')
    expect(caCert.checkIssued(caCert)).toBe(true)
    expect(caCert.verify(caCert.publicKey)).toBe(true)
    expect(extension(ca.certPem, 'basicConstraints')).toMatchObject({ cA: true, critical: true })
    expect(extension(ca.certPem, 'keyUsage')).toMatchObject({ keyCertSign: true, cRLSign: true, digitalSignature: false, critical: true })
    expect(extension(ca.certPem, 'subjectKeyIdentifier')).toBeDefined()
  })

  it('is valid from five minutes before now for the given number of days, signed with SHA-256', () => {
    expect(Date.parse(caCert.validFrom)).toBe(NOW.getTime() - CLOCK_SKEW_MS)
    expect(Date.parse(caCert.validTo)).toBe(NOW.getTime() + 30 * DAY_MS)
    expect(forge.pki.certificateFromPem(ca.certPem).siginfo.algorithmOid).toBe(forge.pki.oids.sha256WithRSAEncryption)
  })

  it('generates a 2048-bit RSA key that matches the certificate', () => {
    expect(caCert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048)
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
  })
})

describe('issueServerCertificate', () => {
  it('names the given hosts plus localhost and 127.0.0.1, each once, with the first host as CN', () => {
    const server = issueServerCertificate(ca, { hosts: ['Docker.Example.com', '10.0.0.5', '[::1]', 'LOCALHOST', '127.0.0.1'], days: 7, now: NOW })
    const cert = new X509Certificate(server.certPem)
    expect(cert.subject).toBe('CN=docker.example.com')
    expect(cert.subjectAltName).toBe(
      'DNS:docker.example.com, IP Address:10.0.0.5, IP Address:0:0:0:0:0:0:0:1, DNS:localhost, IP Address:127.0.0.1')
    expect(cert.checkHost('docker.example.com')).toBe('docker.example.com')
    expect(cert.checkIP('::1')).toBe('::1')
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1')
  })

  it('is a serverAuth-only leaf certificate issued by the CA', () => {
    const server = issueServerCertificate(ca, { hosts: [], days: 7, now: NOW })
    const cert = new X509Certificate(server.certPem)
    expect(cert.subject).toBe('CN=localhost')
    expect(cert.ca).toBe(false)
    expect(cert.keyUsage).toEqual([SERVER_AUTH])
    expect(extension(server.certPem, 'keyUsage')).toMatchObject({ digitalSignature: true, keyEncipherment: true, keyCertSign: false })
    expect(Date.parse(cert.validTo)).toBe(NOW.getTime() + 7 * DAY_MS)
    expectIssuedByCa(cert)
  })

  it.each(['docker.example.com:2376', 'https://docker.example.com', 'bad_name.example', '', 'fe80::1%eth0'])(
    'refuses %j, which is not a bare DNS name or IP address', (host) => {
      expect(() => issueServerCertificate(ca, { hosts: [host], days: 7 })).toThrow(CertInputError)
    })
})

describe('issueClientCertificate', () => {
  it('carries the CN and every OU, in order, and is for client authentication only', () => {
    const client = issueClientCertificate(ca, { cn: 'alice', ous: ['platform', 'ops'], days: 90, now: NOW })
    const cert = new X509Certificate(client.certPem)
    expect(cert.subject).toBe('OU=platform\nOU=ops\nCN=alice')
    expect(cert.keyUsage).toEqual([CLIENT_AUTH])
    expect(cert.ca).toBe(false)
    expect(cert.issuer).toBe(caCert.subject)
    expect(Date.parse(cert.validFrom)).toBe(NOW.getTime() - CLOCK_SKEW_MS)
    expect(Date.parse(cert.validTo)).toBe(NOW.getTime() + 90 * DAY_MS)
    expectIssuedByCa(cert)
  })

  it('reports a random positive 128-bit serial exactly as Node prints it', () => {
    const serials = Array.from({ length: 3 }, () => issueClientCertificate(ca, { cn: 'bob', ous: [], days: 1 }))
      .map((issued) => {
        expect(new X509Certificate(issued.certPem).serialNumber).toBe(issued.serialHex)
        return issued.serialHex
      })
    for (const serial of serials) expect(serial).toMatch(/^[0-7][0-9A-F]{31}$/)
    expect(new Set(serials).size).toBe(3)
  })

  it('keeps names that PrintableString cannot hold', () => {
    const client = issueClientCertificate(ca, { cn: 'zoë@example.org', ous: ['team_α'], days: 1 })
    expect(new X509Certificate(client.certPem).subject).toBe('OU=team_α\nCN=zoë@example.org')
  })

  it('honours the validity and usage knobs used to build bad certificates', () => {
    const notBefore = new Date('2020-01-01T00:00:00Z')
    const notAfter = new Date('2020-02-01T00:00:00Z')
    const client = issueClientCertificate(ca, { cn: 'old', ous: [], days: 1, notBefore, notAfter, extKeyUsage: ['serverAuth'] })
    const cert = new X509Certificate(client.certPem)
    expect(Date.parse(cert.validFrom)).toBe(notBefore.getTime())
    expect(Date.parse(cert.validTo)).toBe(notAfter.getTime())
    expect(cert.keyUsage).toEqual([SERVER_AUTH])
  })

  it('refuses empty OUs, zero days and windows that end before they start', () => {
    expect(() => issueClientCertificate(ca, { cn: 'x', ous: [''], days: 1 })).toThrow(CertInputError)
    expect(() => issueClientCertificate(ca, { cn: 'x', ous: ['a\nb'], days: 1 })).toThrow(CertInputError)
    expect(() => issueClientCertificate(ca, { cn: 'x', ous: [], days: 0 })).toThrow(CertInputError)
    expect(() => issueClientCertificate(ca, { cn: 'x', ous: [], days: 1, notBefore: NOW, notAfter: NOW })).toThrow(CertInputError)
  })

  it('refuses a CA key it cannot use, naming the problem', () => {
    const broken = { certPem: ca.certPem, keyPem: 'not a key' }
    expect(() => issueClientCertificate(broken, { cn: 'x', ous: [], days: 1 })).toThrow(/cannot be used for issuing/)
  })
})

const hasOpenssl = spawnSync('openssl', ['version']).status === 0

describe.skipIf(!hasOpenssl)('OpenSSL agrees (openssl verify -purpose)', () => {
  let dir: string
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'dockgate-openssl-')) })
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  function opensslVerify (purpose: string, certPem: string, caPem = ca.certPem): { ok: boolean; output: string } {
    writeFileSync(join(dir, 'ca.pem'), caPem)
    writeFileSync(join(dir, 'cert.pem'), certPem)
    const run = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', purpose, join(dir, 'cert.pem')], { encoding: 'utf8' })
    return { ok: run.status === 0, output: run.stdout + run.stderr }
  }

  it('accepts client certificates for sslclient and server certificates for sslserver', () => {
    expect(opensslVerify('sslclient', issueClientCertificate(ca, { cn: 'alice', ous: ['a', 'b'], days: 1 }).certPem)).toMatchObject({ ok: true })
    expect(opensslVerify('sslserver', issueServerCertificate(ca, { hosts: ['h.example'], days: 1 }).certPem)).toMatchObject({ ok: true })
  })

  it('rejects a server certificate used as a client and a certificate from another CA', () => {
    const asClient = opensslVerify('sslclient', issueServerCertificate(ca, { hosts: [], days: 1 }).certPem)
    expect(asClient.ok).toBe(false)
    expect(asClient.output).toMatch(/unsuitable certificate purpose/)
    const other = createCa({ commonName: 'test CA', days: 1 })
    expect(opensslVerify('sslclient', issueClientCertificate(other, { cn: 'm', ous: [], days: 1 }).certPem).ok).toBe(false)
  })
})
