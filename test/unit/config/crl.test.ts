// `tls.crl` in the config: one path or a list, relative to the config file,
// every CRL checked against tls.ca at load, problems at the right line:col.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { issueCrl } from '../../../src/certs/crl.js'
import { createCa } from '../../../src/certs/issue.js'
import { initCertificates } from '../../../src/certs/store.js'
import { loadConfigFile, type GatewayConfig } from '../../../src/config/load.js'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { crlsOnly } from '../../../src/reload/reload-crls.js'

let dir = ''
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-cfgcrl-'))
  await initCertificates(join(dir, 'certs'), { hosts: [], days: 2, caDays: 3, force: false })
  const other = createCa({ commonName: 'second CA', days: 3 })
  writeFileSync(join(dir, 'other-crl.pem'), issueCrl(other, { revoked: [], number: 1, nextUpdate: new Date(Date.now() + 3_600_000) }))
  writeFileSync(join(dir, 'two-cas.pem'), readFileSync(join(dir, 'certs', 'ca', 'ca.pem'), 'utf8') + other.certPem)
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities: []\nteams: {}\n')
})
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

async function load (tls: string[]): Promise<string[] | { readonly ok: true; readonly value: GatewayConfig }> {
  const file = join(dir, 'config.yaml')
  writeFileSync(file, ['listen: 127.0.0.1:0', 'upstream: unix:///var/run/docker.sock', 'tls:', ...tls, 'policy: policy.yaml', 'audit:', '  file: audit.jsonl', ''].join('\n'))
  const loaded = await loadConfigFile(file)
  return loaded.ok ? loaded : loaded.diagnostics.map((d) => formatDiagnostic({ ...d, file: 'config.yaml' }))
}

const BASE = ['  ca: certs/ca/ca.pem', '  cert: certs/server/cert.pem', '  key: certs/server/key.pem']

describe('tls.crl', () => {
  it('is optional: without it no CRL is loaded', async () => {
    const loaded = await load(BASE)
    expect(Array.isArray(loaded) ? loaded : loaded.value.tls?.crls).toEqual([])
  })

  it('takes one path relative to the config file, checked against tls.ca', async () => {
    const loaded = await load([...BASE, '  crl: certs/ca/crl.pem'])
    if (Array.isArray(loaded)) throw new Error(loaded.join('\n'))
    expect(loaded.value.tls?.crlFiles).toEqual([join(dir, 'certs', 'ca', 'crl.pem')])
    expect(loaded.value.tls?.crls).toMatchObject([{ revokedSerials: [], issuer: expect.stringMatching(/^CN=dockgate CA /) as unknown }])
    expect(Object.isFrozen(loaded.value.tls?.crls[0])).toBe(true)
  })

  it('takes a list, and reports a CRL from a CA not in tls.ca at its list item', async () => {
    expect(await load([...BASE, '  crl:', '    - certs/ca/crl.pem', '    - other-crl.pem'])).toEqual([
      `config.yaml:9:7 DG_TLS_MATERIAL tls.crl file ${join(dir, 'other-crl.pem')} is not signed by any CA in tls.ca ` +
      '(a CRL from another CA, or a damaged file); tls.crl must hold the CRLs of the CAs in tls.ca'
    ])
  })

  it('reports a CA in tls.ca that has no CRL, because all its clients would be refused', async () => {
    const loaded = await load(['  ca: two-cas.pem', BASE[1] ?? '', BASE[2] ?? '', '  crl: certs/ca/crl.pem'])
    expect(loaded).toEqual([expect.stringMatching(/^config\.yaml:7:8 DG_TLS_MATERIAL tls\.crl has no CRL from the CA CN=second CA,O=dockgate in tls\.ca; /)])
  })

  it('reports a missing file, an empty list and a wrong type like every other config value', async () => {
    expect(await load([...BASE, '  crl: nowhere.pem'])).toEqual([
      expect.stringMatching(/^config\.yaml:7:8 DG_FILE_UNREADABLE cannot read tls\.crl file .*nowhere\.pem: no such file or directory \(ENOENT\)$/)
    ])
    expect(await load([...BASE, '  crl: []'])).toEqual([expect.stringMatching(/^config\.yaml:7:8 DG_WRONG_TYPE 'tls\.crl' must be .* or a non-empty list of them .*, got a list$/)])
    expect(await load([...BASE, '  crl: 7'])).toEqual([expect.stringMatching(/^config\.yaml:7:8 DG_WRONG_TYPE 'tls\.crl' must be a path to a PEM CRL file or a non-empty list of them/)])
  })
})

describe('a refused reload applies CRLs on their own only when they tighten', () => {
  it('reads the CRL files in use against the CAs in use, and applies a newer one that adds revocations', async () => {
    const loaded = await load([...BASE, '  crl: certs/ca/crl.pem'])
    if (Array.isArray(loaded)) throw new Error(loaded.join('\n'))
    const tls = loaded.value.tls
    if (tls === null) throw new Error('no tls section')
    const crlFile = join(dir, 'certs', 'ca', 'crl.pem')
    const before = readFileSync(crlFile, 'utf8')
    const ca = { certPem: readFileSync(join(dir, 'certs', 'ca', 'ca.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'certs', 'ca', 'key.pem'), 'utf8') }
    const write = (number: number, serials: string[]): void => {
      writeFileSync(crlFile, issueCrl(ca, { revoked: serials.map((serialHex) => ({ serialHex, revokedAt: new Date(), reason: 'keyCompromise' as const })), number, nextUpdate: new Date(Date.now() + 3_600_000) }))
    }
    try {
      expect(await crlsOnly(tls)).toEqual({ kind: 'skip', reason: null })
      write(50, ['0DAFE'])
      const applied = await crlsOnly(tls)
      expect(applied).toMatchObject({ kind: 'apply', newlyRevoked: 1, tls: { cert: tls.cert, key: tls.key, ca: tls.ca, crls: [{ crlNumber: 50n, revokedSerials: ['DAFE'] }] } })
      // Older than the one in use: the number decides.
      if (applied.kind !== 'apply') throw new Error('not applied')
      write(49, ['0DAFE', '01'])
      expect(await crlsOnly(applied.tls)).toEqual({ kind: 'skip', reason: expect.stringMatching(/^they do not only add revocations \(the CRL from CN=dockgate CA .* is older than the one in use\)$/) as unknown })
      writeFileSync(crlFile, before.slice(0, 200))
      expect(await crlsOnly(applied.tls)).toEqual({ kind: 'skip', reason: expect.stringMatching(/^they cannot be used: tls\.crl file .*crl\.pem holds no PEM CRL/) as unknown })
    } finally {
      writeFileSync(crlFile, before)
    }
  })
})
