// CRLs: what `dockgate certs` signs is what Node's TLS and dockgate's reader
// understand, and the reader refuses what would make every handshake fail.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueCrl } from '../../../src/certs/crl.js'
import { createCa, issueClientCertificate, issueServerCertificate, type Ca } from '../../../src/certs/issue.js'
import { readCrlFile, uncoveredCas } from '../../../src/config/crl.js'
import { normalizeSerial } from '../../../src/shared/serial.js'

const HOUR = 3_600_000
let ca: Ca
let other: Ca
beforeAll(() => {
  ca = createCa({ commonName: 'crl test CA', days: 30 })
  other = createCa({ commonName: 'other CA', days: 30 })
})

const x509 = (c: Ca): X509Certificate => new X509Certificate(c.certPem)

describe('issueCrl and readCrlFile', () => {
  it('round-trips issuer, validity window and serials (normalised), verified against the CA', () => {
    const now = new Date('2026-11-24T12:00:00Z')
    const pem = issueCrl(ca, {
      revoked: [
        { serialHex: '0A1B2C', revokedAt: now, reason: 'keyCompromise' },
        { serialHex: 'ff:00:01', revokedAt: now, reason: 'unspecified' }
      ],
      number: 7,
      nextUpdate: new Date(now.getTime() + 24 * HOUR),
      now
    })
    expect(pem).toMatch(/^-----BEGIN X509 CRL-----\r?\n/)
    const { crls, problems } = readCrlFile('/x/crl.pem', pem, [x509(other), x509(ca)])
    expect(problems).toEqual([])
    expect(crls).toHaveLength(1)
    expect(crls[0]).toMatchObject({
      file: '/x/crl.pem',
      caFingerprint256: x509(ca).fingerprint256,
      issuer: 'CN=crl test CA,O=dockgate',
      thisUpdate: new Date(now.getTime() - 5 * 60_000),
      nextUpdate: new Date(now.getTime() + 24 * HOUR),
      crlNumber: 7n,
      revokedSerials: ['A1B2C', 'FF0001']
    })
  })

  it('writes GeneralizedTime for dates after 2049 and reads them back', () => {
    const nextUpdate = new Date('2051-01-01T00:00:00Z')
    const { crls } = readCrlFile('c', issueCrl(ca, { revoked: [], number: 1, nextUpdate }), [x509(ca)])
    expect(crls[0]?.nextUpdate).toEqual(nextUpdate)
    expect(crls[0]?.revokedSerials).toEqual([])
  })

  it('reads every CRL of a bundle file and says which one is bad', () => {
    const good = issueCrl(ca, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + HOUR) })
    const foreign = issueCrl(other, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + HOUR) })
    const read = readCrlFile('/b.pem', good + foreign, [x509(ca)])
    expect(read.crls).toHaveLength(1)
    expect(read.problems).toEqual(['CRL 2 in tls.crl file /b.pem is not signed by any CA in tls.ca (a CRL from another CA, or a damaged file); tls.crl must hold the CRLs of the CAs in tls.ca'])
  })

  it('refuses a half-written CRL, a file with no CRL, and a CRL whose signature was tampered with', () => {
    const pem = issueCrl(ca, { revoked: [{ serialHex: '01', revokedAt: new Date(), reason: 'superseded' }], number: 1, nextUpdate: new Date(Date.now() + HOUR) })
    const lines = pem.trim().split(/\r?\n/)
    const half = [...lines.slice(0, 4), lines.at(-1)].join('\n')
    expect(readCrlFile('/h.pem', half, [x509(ca)]).problems[0]).toMatch(/^tls\.crl file \/h\.pem cannot be parsed as a CRL \(is it complete\?\)/)
    expect(readCrlFile('/e.pem', '', [x509(ca)]).problems).toEqual(['tls.crl file /e.pem holds no PEM CRL (expected -----BEGIN X509 CRL-----)'])
    const der = Buffer.from(lines.slice(1, -1).join(''), 'base64')
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0xff
    const tampered = `-----BEGIN X509 CRL-----\n${der.toString('base64')}\n-----END X509 CRL-----\n`
    expect(readCrlFile('/t.pem', tampered, [x509(ca)]).problems[0]).toMatch(/is not signed by any CA in tls\.ca/)
  })

  it('names every CA in tls.ca that has no CRL, since OpenSSL would refuse all its clients', () => {
    const { crls } = readCrlFile('c', issueCrl(ca, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + HOUR) }), [x509(ca)])
    expect(uncoveredCas([x509(ca)], crls)).toEqual([])
    expect(uncoveredCas([x509(ca), x509(other)], crls)).toEqual([expect.stringMatching(/^tls\.crl has no CRL from the CA CN=other CA,O=dockgate in tls\.ca; .* every client of that CA would be refused/)])
  })

  it('refuses a nextUpdate that is not in the future', () => {
    expect(() => issueCrl(ca, { revoked: [], number: 1, nextUpdate: new Date(Date.now() - 1) })).toThrow('the CRL nextUpdate must be in the future')
  })
})

describe('a CRL issued by another CA with OpenSSL (ECDSA)', () => {
  let dir = ''
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dockgate-crl-'))
    const sh = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }) }
    writeFileSync(join(dir, 'index.txt'), '')
    writeFileSync(join(dir, 'ca.cnf'), '[ca]\ndefault_ca=x\n[x]\ndatabase=index.txt\ndefault_md=sha256\ndefault_crl_days=7\n')
    sh('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', '/O=elsewhere/CN=external CA')
    sh('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf-key.pem', '-out', 'leaf.csr', '-subj', '/CN=leaf')
    sh('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-set_serial', '0x00BEEF', '-days', '1', '-out', 'leaf.pem')
    sh('ca', '-config', 'ca.cnf', '-keyfile', 'ca-key.pem', '-cert', 'ca.pem', '-revoke', 'leaf.pem')
    sh('ca', '-config', 'ca.cnf', '-keyfile', 'ca-key.pem', '-cert', 'ca.pem', '-gencrl', '-out', 'crl.pem')
  })
  afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

  it('is read with its revoked serial as Node prints serials', () => {
    const caCert = new X509Certificate(readFileSync(join(dir, 'ca.pem')))
    const { crls, problems } = readCrlFile('crl.pem', readFileSync(join(dir, 'crl.pem'), 'utf8'), [caCert])
    expect(problems).toEqual([])
    expect(crls[0]?.revokedSerials).toEqual([normalizeSerial(new X509Certificate(readFileSync(join(dir, 'leaf.pem'))).serialNumber)])
    expect(crls[0]?.issuer).toBe('CN=external CA,O=elsewhere')
    // No crlnumber file in ca.cnf: OpenSSL writes no cRLNumber, so rollback checks fall back to thisUpdate.
    expect(crls[0]?.crlNumber).toBeNull()
    expect(crls[0]?.nextUpdate?.getTime()).toBeGreaterThan(Date.now() + 6 * 24 * HOUR)
  })
})

describe('Node TLS with a dockgate CRL', () => {
  it('refuses the revoked client with CERT_REVOKED and accepts the others', async () => {
    const server = issueServerCertificate(ca, { hosts: [], days: 1 })
    const revoked = issueClientCertificate(ca, { cn: 'gone', ous: [], days: 1 })
    const kept = issueClientCertificate(ca, { cn: 'kept', ous: [], days: 1 })
    const crl = issueCrl(ca, { revoked: [{ serialHex: revoked.serialHex, revokedAt: new Date(), reason: 'keyCompromise' }], number: 1, nextUpdate: new Date(Date.now() + HOUR) })
    const seen: string[] = []
    const gate = tls.createServer({ ca: [ca.certPem], cert: server.certPem, key: server.keyPem, crl: [crl], requestCert: true, rejectUnauthorized: false }, (socket) => {
      seen.push(`${String(socket.getPeerCertificate().subject.CN)}:${String(socket.authorizationError ?? 'ok')}`)
      socket.end()
    })
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve))
    const port = (gate.address() as { port: number }).port
    for (const client of [revoked, kept]) {
      await new Promise<void>((resolve) => {
        const socket = tls.connect({ port, host: '127.0.0.1', ca: ca.certPem, cert: client.certPem, key: client.keyPem, servername: 'localhost' })
        socket.on('close', () => { resolve() }).on('error', () => {}).resume()
      })
    }
    await new Promise<void>((resolve) => gate.close(() => { resolve() }))
    expect(seen).toEqual(['gone:CERT_REVOKED', 'kept:ok'])
  })
})
