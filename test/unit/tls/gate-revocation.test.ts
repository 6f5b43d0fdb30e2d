// The TLS gate and revocation, below the HTTP layer: resumed sessions are
// re-checked, a reload invalidates session tickets, and a client refused
// because of the gateway's own CRL is told what the operator must run.
import tls from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { issueCrl } from '../../../src/certs/crl.js'
import { createCa, issueClientCertificate, issueServerCertificate, type Ca, type IssuedCertificate } from '../../../src/certs/issue.js'
import { createTlsGate, reloadTlsGate, type TlsMaterial, type TlsRejection } from '../../../src/tls/gate.js'
import { NO_REVOCATIONS, revocationList, type RevocationList } from '../../../src/tls/revocation.js'

const ca: Ca = createCa({ commonName: 'gate test CA', days: 2 })
const server = issueServerCertificate(ca, { hosts: [], days: 2 })
const alice = issueClientCertificate(ca, { cn: 'alice', ous: [], days: 2 })
const material: TlsMaterial = { ca: ca.certPem, cert: server.certPem, key: server.keyPem }
const caFingerprint = new (await import('node:crypto')).X509Certificate(ca.certPem).fingerprint256

interface Gate { server: tls.Server; port: number; rejections: TlsRejection[]; accepted: string[] }
const open: tls.Server[] = []
afterEach(async () => { for (const s of open.splice(0)) await new Promise<void>((resolve) => s.close(() => { resolve() })) })

async function startGate (revocation: () => RevocationList, start: TlsMaterial = material): Promise<Gate> {
  const rejections: TlsRejection[] = []
  const accepted: string[] = []
  const gate = createTlsGate({
    material: start,
    revocation,
    onAccepted: ({ socket, identity }) => { accepted.push(identity.cn[0] ?? ''); socket.resume(); socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n') },
    onRejected: (rejection) => {
      rejections.push(rejection)
      return { 'x-test-rejection': rejection.reason }
    }
  })
  await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve))
  open.push(gate)
  return { server: gate, port: (gate.address() as { port: number }).port, rejections, accepted }
}

async function connect (port: number, client: IssuedCertificate, session?: Buffer): Promise<{ resumed: boolean; answer: string; session: Buffer | undefined }> {
  return await new Promise((resolve, reject) => {
    let saved: Buffer | undefined
    let resumed = false
    let answer = ''
    const socket = tls.connect({ host: '127.0.0.1', port, ca: ca.certPem, cert: client.certPem, key: client.keyPem, servername: 'localhost', ...(session === undefined ? {} : { session }) }, () => {
      resumed = socket.isSessionReused()
      socket.write('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n')
    })
    socket.on('session', (s: Buffer) => { saved = s })
    socket.on('data', (c: Buffer) => { answer += c.toString() })
    socket.on('error', reject)
    socket.on('close', () => { resolve({ resumed, answer, session: saved }) })
  })
}

describe('revocation in the TLS gate', () => {
  it('re-checks a resumed session, which OpenSSL does not verify again', async () => {
    let revocation = NO_REVOCATIONS
    const gate = await startGate(() => revocation)
    const first = await connect(gate.port, alice)
    expect(first.answer).toMatch(/^HTTP\/1\.1 200/)
    // Revoked without touching the secure context: the ticket still resumes...
    revocation = revocationList([{ caFingerprint256: caFingerprint, revokedSerials: [alice.serialHex] }])
    const resumed = await connect(gate.port, alice, first.session)
    expect(resumed.resumed).toBe(true)
    // ...but the gate refuses it anyway.
    expect(resumed.answer).toContain('"message":"dockgate: the client certificate has been revoked (CERT_REVOKED)"')
    // The header fields the wiring returns (the record's id) are in the 403.
    expect(resumed.answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[^]*\r\nx-test-rejection: revoked\r\n[^]*\r\n\r\n/)
    expect(gate.rejections.map((r) => r.reason)).toEqual(['revoked'])
    expect(gate.accepted).toEqual(['alice'])
  })

  it('refuses a resumed session whose certificate has expired since its handshake', async () => {
    // Whole seconds, as X.509 stores them, and far enough ahead for a loaded machine.
    const notAfter = new Date(Math.ceil((Date.now() + 5000) / 1000) * 1000)
    const brief = issueClientCertificate(ca, { cn: 'brief', ous: [], days: 1, notAfter })
    const gate = await startGate(() => NO_REVOCATIONS)
    const first = await connect(gate.port, brief)
    expect(first.answer).toMatch(/^HTTP\/1\.1 200/)
    await new Promise((resolve) => setTimeout(resolve, notAfter.getTime() - Date.now() + 1100))
    const resumed = await connect(gate.port, brief, first.session)
    expect(resumed.resumed).toBe(true)
    expect(resumed.answer).toContain('"message":"dockgate: the client certificate has expired (CERT_HAS_EXPIRED)"')
    expect(gate.rejections.map((r) => r.reason)).toEqual(['expired'])
  })

  it('does not resume sessions from before a reload (fresh ticket keys)', async () => {
    const gate = await startGate(() => NO_REVOCATIONS)
    const first = await connect(gate.port, alice)
    expect((await connect(gate.port, alice, first.session)).resumed).toBe(true)
    reloadTlsGate(gate.server, material)
    const after = await connect(gate.port, alice, first.session)
    expect(after.resumed).toBe(false)
    expect(after.answer).toMatch(/^HTTP\/1\.1 200/)
  })

  it('looks revocations up per issuing CA, and fails closed when the issuer is unknown', () => {
    const list = revocationList([{ caFingerprint256: 'CA1', revokedSerials: ['00AB'] }, { caFingerprint256: 'CA1', revokedSerials: ['cd'] }])
    expect(list.size).toBe(2)
    expect(list.isRevoked({ serial: 'AB', issuerFingerprint256: 'CA1' })).toBe(true)
    expect(list.isRevoked({ serial: '0CD', issuerFingerprint256: 'CA1' })).toBe(true)
    expect(list.isRevoked({ serial: 'AB', issuerFingerprint256: 'CA2' })).toBe(false)
    expect(list.isRevoked({ serial: 'AB', issuerFingerprint256: null })).toBe(true)
  })

  it('tells a client refused over an expired CRL what the operator must run', async () => {
    const crl = issueCrl(ca, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + 1500) })
    const gate = await startGate(() => NO_REVOCATIONS, { ...material, crl: [crl] })
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const refused = await connect(gate.port, alice)
    expect(refused.answer).toContain('dockgate: the gateway\'s certificate revocation list has expired, so no certificate can be checked; ' +
      'the gateway operator must run `dockgate certs crl` (dockgate picks the new list up without a restart) (CRL_HAS_EXPIRED)')
    expect(gate.rejections.map((r) => r.reason)).toEqual(['crl-expired'])
  })
})
