// The on-disk layout: where files go, who may read them, what is never
// overwritten, and the dev setup `npm start` relies on.
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CertInputError, CertStoreError } from '../../../src/certs/errors.js'
import { ensureDevMaterial, initCertificates, issueClientBundle, readCa } from '../../../src/certs/store.js'

let dir: string
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'dockgate-certs-')) })
afterEach(() => { rmSync(dir, { recursive: true, force: true }) })

const INIT = { hosts: ['docker.example.com'], days: 30, caDays: 60, force: false }

function mode (path: string): number {
  return statSync(path).mode & 0o777
}

function certAt (...segments: string[]): X509Certificate {
  return new X509Certificate(readFileSync(join(dir, ...segments)))
}

function keyMatches (certPath: string[], keyPath: string[]): boolean {
  return certAt(...certPath).checkPrivateKey(createPrivateKey(readFileSync(join(dir, ...keyPath))))
}

describe('initCertificates', () => {
  it('writes the CA and a server certificate for the given hosts, keys private', async () => {
    const result = await initCertificates(dir, INIT)
    expect(readdirSync(join(dir, 'ca')).sort()).toEqual(['ca.pem', 'crl.pem', 'index.json', 'key.pem'])
    expect(readdirSync(join(dir, 'server')).sort()).toEqual(['ca.pem', 'cert.pem', 'key.pem'])
    expect(result.serverNames).toEqual(['docker.example.com', 'localhost', '127.0.0.1'])
    expect(certAt('server', 'cert.pem').checkIssued(certAt('ca', 'ca.pem'))).toBe(true)
    expect(readFileSync(join(dir, 'server', 'ca.pem'), 'utf8')).toBe(readFileSync(join(dir, 'ca', 'ca.pem'), 'utf8'))
    expect(keyMatches(['ca', 'ca.pem'], ['ca', 'key.pem'])).toBe(true)
    expect(keyMatches(['server', 'cert.pem'], ['server', 'key.pem'])).toBe(true)
    expect([mode(join(dir, 'ca', 'key.pem')), mode(join(dir, 'server', 'key.pem'))]).toEqual([0o600, 0o600])
    expect([mode(join(dir, 'ca')), mode(join(dir, 'server'))]).toEqual([0o700, 0o700])
    expect(mode(join(dir, 'ca', 'ca.pem'))).toBe(0o644)
  })

  it('keeps keys 0600 under a permissive umask and tightens a pre-existing open directory', async () => {
    mkdirSync(join(dir, 'ca'), { mode: 0o777 })
    chmodSync(join(dir, 'ca'), 0o777)
    const previous = process.umask(0)
    try {
      await initCertificates(dir, INIT)
    } finally {
      process.umask(previous)
    }
    expect(mode(join(dir, 'ca', 'key.pem'))).toBe(0o600)
    expect(mode(join(dir, 'ca'))).toBe(0o700)
    expect(readdirSync(join(dir, 'ca')).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('refuses to replace an existing CA without force, leaving it untouched', async () => {
    await initCertificates(dir, INIT)
    const before = readFileSync(join(dir, 'ca', 'key.pem'), 'utf8')
    await expect(initCertificates(dir, INIT)).rejects.toThrow(new CertStoreError(
      `CA already exists at ${join(dir, 'ca')}; use --force to replace it (every issued certificate stops working)`))
    expect(readFileSync(join(dir, 'ca', 'key.pem'), 'utf8')).toBe(before)
  })

  it('treats a lone CA key as an existing CA', async () => {
    mkdirSync(join(dir, 'ca'))
    writeFileSync(join(dir, 'ca', 'key.pem'), 'precious')
    await expect(initCertificates(dir, INIT)).rejects.toThrow(CertStoreError)
    expect(readFileSync(join(dir, 'ca', 'key.pem'), 'utf8')).toBe('precious')
  })

  it('replaces the CA with force and says so', async () => {
    await initCertificates(dir, INIT)
    const oldCa = certAt('ca', 'ca.pem')
    const result = await initCertificates(dir, { ...INIT, force: true })
    expect(result.replacedCa).toBe(true)
    expect(certAt('ca', 'ca.pem').fingerprint256).not.toBe(oldCa.fingerprint256)
    expect(certAt('server', 'cert.pem').checkIssued(certAt('ca', 'ca.pem'))).toBe(true)
  })

  it('moves the old CA folder aside instead of overwriting its key, also twice in one second', async () => {
    await initCertificates(dir, INIT)
    const oldFiles = ['ca.pem', 'key.pem', 'index.json', 'crl.pem'].map((name) => readFileSync(join(dir, 'ca', name), 'utf8'))
    const now = new Date('2026-11-24T12:00:00.250Z')
    const first = await initCertificates(dir, { ...INIT, force: true, now })
    expect(first.previousCaMovedTo).toBe(join(dir, 'ca.replaced-20261124T120000Z'))
    expect(['ca.pem', 'key.pem', 'index.json', 'crl.pem'].map((name) => readFileSync(join(dir, 'ca.replaced-20261124T120000Z', name), 'utf8'))).toEqual(oldFiles)
    expect(statSync(join(dir, 'ca.replaced-20261124T120000Z', 'key.pem')).mode & 0o777).toBe(0o600)
    expect(statSync(join(dir, 'ca.replaced-20261124T120000Z')).mode & 0o777).toBe(0o700)
    const second = await initCertificates(dir, { ...INIT, force: true, now })
    expect(second.previousCaMovedTo).toBe(join(dir, 'ca.replaced-20261124T120000Z-2'))
    expect(readFileSync(join(dir, 'ca.replaced-20261124T120000Z-2', 'key.pem'), 'utf8')).not.toBe(oldFiles[1])
    expect(readFileSync(join(dir, 'ca', 'key.pem'), 'utf8')).not.toBe(oldFiles[1])
    expect((await initCertificates(join(dir, 'fresh'), INIT)).previousCaMovedTo).toBeNull()
  })

  it('writes nothing when a host is invalid', async () => {
    await expect(initCertificates(dir, { ...INIT, hosts: ['docker.example.com:2376'] })).rejects.toThrow(CertInputError)
    expect(readdirSync(dir)).toEqual([])
  })
})

describe('issueClientBundle', () => {
  beforeEach(async () => { await initCertificates(dir, INIT) })

  it('writes the ca.pem/cert.pem/key.pem bundle DOCKER_CERT_PATH expects, key and folder private', async () => {
    const result = await issueClientBundle(dir, { cn: 'alice', ous: ['platform', 'ops'], days: 90 })
    const bundle = join(dir, 'clients', 'alice')
    expect(result.paths.dir).toBe(bundle)
    expect(result.replaced).toBe(false)
    expect(readdirSync(bundle).sort()).toEqual(['ca.pem', 'cert.pem', 'key.pem'])
    expect(readFileSync(join(bundle, 'ca.pem'), 'utf8')).toBe(readFileSync(join(dir, 'ca', 'ca.pem'), 'utf8'))
    expect(certAt('clients', 'alice', 'cert.pem').subject).toBe('OU=platform\nOU=ops\nCN=alice')
    expect(certAt('clients', 'alice', 'cert.pem').serialNumber).toBe(result.serialHex)
    expect(keyMatches(['clients', 'alice', 'cert.pem'], ['clients', 'alice', 'key.pem'])).toBe(true)
    expect([mode(join(bundle, 'key.pem')), mode(bundle)]).toEqual([0o600, 0o700])
  })

  it('replaces an existing bundle of the same name and reports it', async () => {
    const first = await issueClientBundle(dir, { cn: 'alice', ous: [], days: 90 })
    const second = await issueClientBundle(dir, { cn: 'alice', ous: ['ops'], days: 90 })
    expect(second.replaced).toBe(true)
    expect(second.serialHex).not.toBe(first.serialHex)
    expect(certAt('clients', 'alice', 'cert.pem').subject).toBe('OU=ops\nCN=alice')
  })

  it.each(['../evil', 'a/b', '.hidden', '-rf', '', 'x'.repeat(65), 'two words'])('rejects the unsafe name %j and creates nothing', async (name) => {
    await expect(issueClientBundle(dir, { cn: name, ous: [], days: 1 })).rejects.toThrow(CertInputError)
    expect(existsSync(join(dir, 'clients'))).toBe(false)
  })

  it('accepts e-mail-like and dotted names', async () => {
    await issueClientBundle(dir, { cn: 'ci.bot@example.org', ous: [], days: 1 })
    expect(existsSync(join(dir, 'clients', 'ci.bot@example.org', 'cert.pem'))).toBe(true)
  })
})

describe('readCa', () => {
  it('explains how to create a CA when there is none', async () => {
    await expect(readCa(dir)).rejects.toThrow(`no CA in ${join(dir, 'ca')}; run \`dockgate certs init --dir ${dir}\` first`)
  })

  it('refuses a CA whose key belongs to another certificate', async () => {
    await initCertificates(dir, INIT)
    writeFileSync(join(dir, 'ca', 'key.pem'), readFileSync(join(dir, 'server', 'key.pem')))
    await expect(readCa(dir)).rejects.toThrow(`${join(dir, 'ca', 'key.pem')} is not the key of ${join(dir, 'ca', 'ca.pem')}`)
  })
})

describe('ensureDevMaterial', () => {
  it('creates a dev CA, a localhost server certificate and an admin bundle in team platform', async () => {
    const { created } = await ensureDevMaterial(dir)
    expect(created).toEqual([join(dir, 'ca'), join(dir, 'server'), join(dir, 'clients', 'admin')])
    expect(certAt('ca', 'ca.pem').subject).toBe('O=dockgate\nCN=dockgate dev CA')
    expect(certAt('server', 'cert.pem').subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1')
    expect(certAt('clients', 'admin', 'cert.pem').subject).toBe('OU=platform\nCN=admin')
    expect(mode(join(dir, 'clients', 'admin', 'key.pem'))).toBe(0o600)
  })

  it('changes nothing when everything is in place', async () => {
    await ensureDevMaterial(dir)
    const before = readFileSync(join(dir, 'clients', 'admin', 'cert.pem'), 'utf8')
    expect(await ensureDevMaterial(dir)).toEqual({ created: [] })
    expect(readFileSync(join(dir, 'clients', 'admin', 'cert.pem'), 'utf8')).toBe(before)
  })

  it('recreates only what is missing, and reissues everything a new CA would orphan', async () => {
    await ensureDevMaterial(dir)
    rmSync(join(dir, 'clients'), { recursive: true })
    expect(await ensureDevMaterial(dir)).toEqual({ created: [join(dir, 'clients', 'admin')] })
    rmSync(join(dir, 'ca'), { recursive: true })
    expect((await ensureDevMaterial(dir)).created).toHaveLength(3)
    expect(certAt('server', 'cert.pem').checkIssued(certAt('ca', 'ca.pem'))).toBe(true)
  })

  it('keeps the CA of `certs init` and issues dev material from it', async () => {
    await initCertificates(dir, INIT)
    const ca = certAt('ca', 'ca.pem').fingerprint256
    expect((await ensureDevMaterial(dir)).created).toEqual([join(dir, 'clients', 'admin')])
    expect(certAt('ca', 'ca.pem').fingerprint256).toBe(ca)
  })
})
