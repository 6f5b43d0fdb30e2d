// Running the team CA from the command line: the index, revoke (which
// republishes the CRL), list --expiring, crl, renew. What an operator sees
// printed, what lands on disk, and that the CA key never leaves ca/key.pem.
import { X509Certificate } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { listCertificates, revokeCertificates } from '../../../src/certs/authority.js'
import type { CertIndex } from '../../../src/certs/index-file.js'
import { issueClientBundle } from '../../../src/certs/store.js'
import { readCrlFile } from '../../../src/config/crl.js'
import { runCertsCommand } from '../../../src/cli/certs.js'
import { identityFromPeerCertificate } from '../../../src/tls/identity.js'
import { normalizeSerial } from '../../../src/shared/serial.js'

let dir: string
let stdout: string
let stderr: string
let printedEver: string

// `certs init` once, copied for each test: every test starts from a CA of
// its own folder as `init` leaves it, without two RSA keys made for each.
let initialised: string
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-ca-init-'))
  initialised = dir
  captureOutput()
  expect(await certs('init')).toBe(0)
  expect(printedEver).not.toContain('PRIVATE KEY')
  vi.restoreAllMocks()
})
afterAll(() => { rmSync(initialised, { recursive: true, force: true }) })

function captureOutput (): void {
  printedEver = ''
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); printedEver += String(chunk); return true })
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { stderr += String(chunk); printedEver += String(chunk); return true })
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-ca-'))
  cpSync(initialised, dir, { recursive: true })
  captureOutput()
})

afterEach(() => {
  // Whatever ran, no private key material was printed.
  expect(printedEver).not.toContain('PRIVATE KEY')
  vi.restoreAllMocks()
  rmSync(dir, { recursive: true, force: true })
})

async function certs (...args: string[]): Promise<number> {
  stdout = ''
  stderr = ''
  return await runCertsCommand([...args, '--dir', dir])
}

const index = (): CertIndex => JSON.parse(readFileSync(join(dir, 'ca', 'index.json'), 'utf8')) as CertIndex
const crl = (): ReturnType<typeof readCrlFile>['crls'][number] => {
  const read = readCrlFile('crl.pem', readFileSync(join(dir, 'ca', 'crl.pem'), 'utf8'), [new X509Certificate(readFileSync(join(dir, 'ca', 'ca.pem')))])
  expect(read.problems).toEqual([])
  const [only] = read.crls
  if (only === undefined) throw new Error('no CRL')
  return only
}
const serialOf = (cn: string): string => new X509Certificate(readFileSync(join(dir, 'clients', cn, 'cert.pem'))).serialNumber

describe('certs init and issue keep an index next to the CA', () => {
  it('starts with the server certificate indexed, an empty CRL, and the CA key 0600', () => {
    expect(index()).toMatchObject({ version: 1, crlNumber: 1, certificates: [{ kind: 'server', cn: 'localhost', sanDns: ['localhost'], sanIp: ['127.0.0.1'] }] })
    expect(crl().revokedSerials).toEqual([])
    expect(statSync(join(dir, 'ca', 'key.pem')).mode & 0o777).toBe(0o600)
    expect(readdirSync(join(dir, 'ca')).filter((name) => name.endsWith('.tmp') || name === '.lock')).toEqual([])
  })

  it('records subject, teams and SANs, and the SANs reach the identity the policy matches', async () => {
    expect(await certs('issue', '--cn', 'ci-7', '--ou', 'ci', '--san-uri', 'spiffe://example.org/ci/runner', '--san-dns', 'runner7.example.com',
      '--san-email', 'ci@example.com', '--hours', '8')).toBe(0)
    expect(stdout).toContain('subjectAltName DNS:runner7.example.com, URI:spiffe://example.org/ci/runner, email:ci@example.com')
    expect(index().certificates.at(-1)).toMatchObject({
      kind: 'client', cn: 'ci-7', ous: ['ci'], sanUri: ['spiffe://example.org/ci/runner'], sanDns: ['runner7.example.com'], sanEmail: ['ci@example.com'], revoked: null
    })
    const cert = new X509Certificate(readFileSync(join(dir, 'clients', 'ci-7', 'cert.pem')))
    expect(Math.round((Date.parse(cert.validTo) - Date.now()) / 3_600_000)).toBe(8)
    const identity = identityFromPeerCertificate(cert.toLegacyObject())
    expect(identity).toMatchObject({ sanUri: ['spiffe://example.org/ci/runner'], sanDns: ['runner7.example.com'], sanEmail: ['ci@example.com'] })
  })

  it.each([
    [['--san-uri', 'spiffe://Example.org/x'], /is not a SPIFFE ID/],
    [['--san-uri', 'a uri, with commas'], /is not a URI/],
    [['--san-dns', 'Bad_Name'], /is not a lower-case DNS name/],
    [['--san-email', 'nobody'], /is not an e-mail address/],
    [['--days', '3', '--hours', '4'], /give --days or --hours, not both/],
    [['--hours', '0'], /--hours must be a positive integer/]
  ])('refuses %j with exit 2 before issuing', async (flags, message) => {
    expect(await certs('issue', '--cn', 'x', ...flags)).toBe(2)
    expect(stderr).toMatch(message)
    expect(index().certificates).toHaveLength(1)
  })

  it('loses no entry when several issue at once (the index is locked)', async () => {
    await Promise.all(['a', 'b', 'c', 'd'].map(async (cn) => { await issueClientBundle(dir, { cn, ous: ['t'], days: 1 }) }))
    expect(index().certificates.map((entry) => entry.cn).sort()).toEqual(['a', 'b', 'c', 'd', 'localhost'])
  })
})

describe('certs revoke', () => {
  beforeEach(async () => {
    await certs('issue', '--cn', 'alice', '--ou', 'platform')
    await certs('issue', '--cn', 'bob', '--ou', 'platform')
  })

  it('revokes every certificate of a CN and republishes the CRL at once', async () => {
    const first = serialOf('alice')
    await certs('renew', '--cn', 'alice')
    const second = serialOf('alice')
    expect(await certs('revoke', '--cn', 'alice', '--reason', 'keyCompromise')).toBe(0)
    expect(stdout).toContain(`revoked ${first} CN=alice,OU=platform (keyCompromise)`)
    expect(stdout).toContain(`revoked ${second} CN=alice,OU=platform (keyCompromise)`)
    expect(stdout).toMatch(/wrote .*crl\.pem: CRL number 2, 2 revoked, next update due /)
    expect(stdout).toContain('closes their open connections')
    expect([...crl().revokedSerials].sort()).toEqual([first, second].map(normalizeSerial).sort())
    expect(index().crlNumber).toBe(2)
  })

  it('says when a certificate is already revoked, and refuses an unknown CN', async () => {
    await certs('revoke', '--cn', 'bob')
    expect(await certs('revoke', '--cn', 'bob')).toBe(0)
    expect(stdout).toMatch(/^already revoked: [0-9A-F]{32} CN=bob,OU=platform on /)
    expect(await certs('revoke', '--cn', 'nobody')).toBe(2)
    expect(stderr).toContain("no client certificate with CN 'nobody' in the index")
  })

  it('revokes a serial the index does not know (e.g. copied from the audit trail), in any spelling', async () => {
    expect(await certs('revoke', '--serial', '0a:bc:de')).toBe(0)
    expect(stdout).toContain('that serial is not in the index')
    expect(crl().revokedSerials).toEqual(['ABCDE'])
    expect(await certs('revoke', '--serial', 'xyz')).toBe(2)
    expect(await certs('revoke', '--cn', 'bob', '--serial', '01')).toBe(2)
    expect(await certs('revoke', '--cn', 'bob', '--reason', 'bored')).toBe(2)
    expect(stderr).toContain('--reason must be one of unspecified, keyCompromise')
  })

  it('leaves revoked certificates out of the CRL a day after they expired', async () => {
    const now = new Date()
    await revokeCertificates(dir, { cn: 'bob' }, 'superseded', 24)
    expect(crl().revokedSerials).toEqual([normalizeSerial(serialOf('bob'))])
    await revokeCertificates(dir, { cn: 'alice' }, 'superseded', 24, new Date(now.getTime() + 92 * 86_400_000))
    expect(crl().revokedSerials).toEqual([])
  })
})

describe('certs list', () => {
  it('shows serial, subject, teams, not-after and status; --expiring keeps the valid ones that expire soon', async () => {
    await certs('issue', '--cn', 'short', '--ou', 'ci', '--hours', '20')
    await certs('issue', '--cn', 'long', '--ou', 'platform', '--ou', 'ops', '--days', '60')
    await certs('issue', '--cn', 'gone', '--ou', 'ci', '--hours', '2')
    await certs('revoke', '--cn', 'gone')
    expect(await certs('list')).toBe(0)
    const lines = stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^SERIAL\s+KIND\s+SUBJECT\s+TEAMS\s+SANS\s+NOT AFTER\s+STATUS$/)
    expect(lines.find((l) => l.includes('CN=long'))).toMatch(/^[0-9A-F]{32}\s+client\s+CN=long\s+platform,ops\s+-\s+\d{4}-\d\d-\d\dT.*valid, 5\dd left$/)
    expect(lines.find((l) => l.includes('CN=gone'))).toMatch(/revoked \d{4}-\d\d-\d\d \(unspecified\)$/)
    expect(await certs('list', '--expiring', '7d')).toBe(0)
    expect(stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[2])).toEqual(['CN=short'])
    expect((await listCertificates(dir, { expiringWithinSeconds: 86_400, now: new Date(Date.now() + 2 * 86_400_000) }))).toEqual([])
    expect(await certs('list', '--expiring', 'soon')).toBe(2)
  })
})

describe('certs renew and crl', () => {
  it('renews a client with the same subject, SANs and validity length, a new key and serial', async () => {
    await certs('issue', '--cn', 'ci-1', '--ou', 'ci', '--san-uri', 'spiffe://example.org/ci', '--hours', '6')
    const before = new X509Certificate(readFileSync(join(dir, 'clients', 'ci-1', 'cert.pem')))
    const oldKey = readFileSync(join(dir, 'clients', 'ci-1', 'key.pem'), 'utf8')
    expect(await certs('renew', '--cn', 'ci-1')).toBe(0)
    expect(stdout).toContain(`the previous certificate ${before.serialNumber} stays valid until ${new Date(before.validTo).toISOString()} unless revoked; to cut it off now:`)
    expect(stdout).toContain(`dockgate certs revoke --serial ${before.serialNumber} --reason superseded`)
    const after = new X509Certificate(readFileSync(join(dir, 'clients', 'ci-1', 'cert.pem')))
    expect(after.subject).toBe(before.subject)
    expect(after.subjectAltName).toBe('URI:spiffe://example.org/ci')
    expect(after.serialNumber).not.toBe(before.serialNumber)
    expect(readFileSync(join(dir, 'clients', 'ci-1', 'key.pem'), 'utf8')).not.toBe(oldKey)
    expect(Math.round((Date.parse(after.validTo) - Date.now()) / 3_600_000)).toBe(6)
    expect(await certs('renew', '--cn', 'nobody')).toBe(2)
  })

  it('refuses to renew an identity whose latest certificate is revoked, unless --force, and says what became of the old one', async () => {
    await certs('issue', '--cn', 'dave', '--ou', 'platform', '--ou', 'ops')
    const revoked = serialOf('dave')
    await certs('revoke', '--cn', 'dave', '--reason', 'keyCompromise')
    expect(await certs('renew', '--cn', 'dave')).toBe(1)
    expect(stderr).toMatch(new RegExp(`^dockgate: the latest certificate of 'dave' \\(${revoked}\\) was revoked on \\S+ \\(keyCompromise\\); ` +
      'renewing it would give that identity access again\\. If access should be restored, issue a certificate deliberately with ' +
      '`dockgate certs issue --cn dave --ou platform --ou ops` \\(or renew with --force\\)\\n$'))
    expect(serialOf('dave')).toBe(revoked)
    expect(index().certificates.filter((entry) => entry.cn === 'dave')).toHaveLength(1)

    expect(await certs('renew', '--cn', 'dave', '--force')).toBe(0)
    expect(serialOf('dave')).not.toBe(revoked)
    expect(stdout).toContain(`the previous certificate ${revoked} stays revoked (since `)
    expect(stdout).not.toContain('stays valid')
    expect(stdout).not.toContain('certs revoke --serial')
    expect(await certs('renew', '--server', '--force')).toBe(2)
  })

  it('says an expired previous certificate expired, instead of that it stays valid', async () => {
    await certs('issue', '--cn', 'erin', '--ou', 'platform')
    const old = serialOf('erin')
    const path = join(dir, 'ca', 'index.json')
    const edited = index()
    writeFileSync(path, JSON.stringify({ ...edited, certificates: edited.certificates.map((entry) => entry.cn === 'erin' ? { ...entry, notAfter: '2020-01-01T00:00:00.000Z' } : entry) }))
    expect(await certs('renew', '--cn', 'erin', '--days', '5')).toBe(0)
    expect(stdout).toContain(`the previous certificate ${old} expired on 2020-01-01T00:00:00.000Z`)
    expect(stdout).not.toContain('stays valid')
  })

  it('renews the server certificate for the same names with a new key', async () => {
    const before = new X509Certificate(readFileSync(join(dir, 'server', 'cert.pem')))
    expect(await certs('renew', '--server', '--days', '10')).toBe(0)
    const after = new X509Certificate(readFileSync(join(dir, 'server', 'cert.pem')))
    expect(after.subjectAltName).toBe(before.subjectAltName)
    expect(after.publicKey.export({ format: 'pem', type: 'spki' })).not.toBe(before.publicKey.export({ format: 'pem', type: 'spki' }))
    expect(Math.round((Date.parse(after.validTo) - Date.now()) / 86_400_000)).toBe(10)
    expect(index().certificates.filter((entry) => entry.kind === 'server')).toHaveLength(2)
  })

  it('regenerates the CRL with a new number and the asked lifetime', async () => {
    expect(await certs('crl', '--hours', '36')).toBe(0)
    expect(stdout).toMatch(/^wrote .*crl\.pem: CRL number 2, 0 revoked, next update due /)
    expect(Math.round(((crl().nextUpdate?.getTime() ?? 0) - Date.now()) / 3_600_000)).toBe(36)
  })

  it('refuses an index that belongs to another CA', async () => {
    const path = join(dir, 'ca', 'index.json')
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"caFingerprint256": "[^"]+"/, '"caFingerprint256": "AA"'))
    expect(await certs('list')).toBe(1)
    expect(stderr).toContain('index.json belongs to another CA')
  })
})
