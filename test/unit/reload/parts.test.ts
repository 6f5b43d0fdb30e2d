// The pure parts of reload: which CRLs the handshake gets at a given time,
// refusing CRL rollbacks, expiry numbers and messages, and the file watch.
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { describeExpiry, expiryLevel, expiryOf, EXPIRY_WARNING_SECONDS } from '../../../src/config/expiry.js'
import { CRL_STALE_LEAD_MS, liveTls } from '../../../src/tls/live-tls.js'
import { crlRollbacks, crlTightening } from '../../../src/config/crl-order.js'
import { watchFiles } from '../../../src/reload/watch.js'
import { createCa, issueServerCertificate } from '../../../src/certs/issue.js'
import type { CrlFacts, TlsConfig } from '../../../src/config/load.js'

const HOUR = 3_600_000
const ca = createCa({ commonName: 'parts CA', days: 400 })
const server = issueServerCertificate(ca, { hosts: [], days: 10 })
const T0 = new Date('2026-11-24T12:00:00Z')

function crl (file: string, ca: string, from: Date, until: Date | null, serials: string[] = [], crlNumber: bigint | null = null): CrlFacts {
  return { file, pem: `PEM ${file}`, caFingerprint256: ca, issuer: `CN=${ca}`, thisUpdate: from, nextUpdate: until, crlNumber, revokedSerials: serials }
}

function tlsWith (crls: CrlFacts[]): TlsConfig {
  return { caFile: '/ca.pem', certFile: '/cert.pem', keyFile: '/key.pem', ca: ca.certPem, cert: server.certPem, key: server.keyPem, crlFiles: crls.map((c) => c.file), crls }
}

describe('liveTls', () => {
  const a = crl('/a.pem', 'A', new Date(T0.getTime() - HOUR), new Date(T0.getTime() + HOUR), ['0AB'])
  const b = crl('/b.pem', 'B', new Date(T0.getTime() - HOUR), null, ['CD'])

  it('gives the handshake every CRL while all are current, and says when that changes', () => {
    const live = liveTls(tlsWith([a, b]), T0)
    expect(live.handshakeChecksCrl).toBe(true)
    expect(live.material.crl).toEqual(['PEM /a.pem', 'PEM /b.pem'])
    expect(live.nextChange).toEqual(new Date(T0.getTime() + HOUR - CRL_STALE_LEAD_MS))
    expect(live.revocation.isRevoked({ serial: 'AB', issuerFingerprint256: 'A' })).toBe(true)
  })

  it('takes all CRLs out of the handshake once one is stale, and keeps enforcing every revocation', () => {
    const live = liveTls(tlsWith([a, b]), new Date(T0.getTime() + HOUR - CRL_STALE_LEAD_MS))
    expect(live.handshakeChecksCrl).toBe(false)
    expect(live.material.crl).toEqual([])
    expect(live.staleCrls).toEqual(['/a.pem'])
    expect(live.revocation.isRevoked({ serial: 'AB', issuerFingerprint256: 'A' })).toBe(true)
    expect(live.revocation.isRevoked({ serial: 'CD', issuerFingerprint256: 'B' })).toBe(true)
    expect(live.nextChange).toBeNull()
  })

  it('treats a CRL from the future (clock skew) as not yet usable by the handshake, until its thisUpdate', () => {
    const early = crl('/e.pem', 'A', new Date(T0.getTime() + 60_000), new Date(T0.getTime() + HOUR))
    const live = liveTls(tlsWith([early]), T0)
    expect(live.handshakeChecksCrl).toBe(false)
    expect(live.nextChange).toEqual(new Date(T0.getTime() + 60_000))
  })

  it('turns nothing on without CRLs', () => {
    expect(liveTls(tlsWith([]), T0)).toMatchObject({ handshakeChecksCrl: false, staleCrls: [], nextChange: null, material: { crl: [] } })
  })
})

describe('crlRollbacks', () => {
  it('refuses a CRL older than the one in use from the same CA, and nothing else', () => {
    const inUse = crl('/c.pem', 'A', T0, null)
    expect(crlRollbacks([inUse], [crl('/c.pem', 'A', new Date(T0.getTime() - 1000), null)])).toEqual([expect.objectContaining({
      file: '/c.pem', code: 'DG_TLS_MATERIAL', message: expect.stringMatching(/is older than the one in use \(issued .*\); an older CRL could un-revoke certificates/) as unknown
    })])
    expect(crlRollbacks([inUse], [crl('/c.pem', 'A', T0, null)])).toEqual([])
    expect(crlRollbacks([inUse], [crl('/c.pem', 'B', new Date(0), null)])).toEqual([])
    expect(crlRollbacks([inUse], [])).toEqual([])
  })

  it('orders by cRLNumber when both CRLs carry one: a newer list from a host whose clock is behind is no rollback', () => {
    const inUse = crl('/c.pem', 'A', T0, null, ['01'], 7n)
    const behindClock = crl('/c.pem', 'A', new Date(T0.getTime() - HOUR), null, ['01', '02'], 8n)
    expect(crlRollbacks([inUse], [behindClock])).toEqual([])
    // A lower number is refused even when its clock ran ahead.
    const replayed = crl('/c.pem', 'A', new Date(T0.getTime() + HOUR), null, [], 6n)
    expect(crlRollbacks([inUse], [replayed])).toEqual([expect.objectContaining({
      message: expect.stringMatching(/\(number 6, issued .*\) is older than the one in use \(number 7, issued /) as unknown
    })])
    // Without a number on both sides, thisUpdate decides.
    expect(crlRollbacks([inUse], [crl('/c.pem', 'A', new Date(T0.getTime() - 1000), null, ['01', '02'])])).toHaveLength(1)
  })
})

describe('crlTightening', () => {
  const inUse = [crl('/a.pem', 'A', T0, null, ['01'], 4n), crl('/b.pem', 'B', T0, null, ['0B'], 9n)]
  const b = inUse[1] as CrlFacts
  // The file's contents differ from the CRL in use, as after `certs revoke`.
  const next = (serials: string[], crlNumber: bigint, from = T0): CrlFacts => ({ ...crl('/a.pem', 'A', from, null, serials, crlNumber), pem: `PEM /a.pem #${crlNumber}` })

  it('applies a newer set that revokes everything the one in use does, counting what it adds', () => {
    expect(crlTightening(inUse, [next(['01', '02', '03'], 5n, new Date(T0.getTime() - HOUR)), b])).toEqual({ kind: 'tightens', newlyRevoked: 2 })
    // A fresh CRL with the same revocations (`certs crl` from cron) only tightens too.
    expect(crlTightening(inUse, [next(['01'], 5n), b])).toEqual({ kind: 'tightens', newlyRevoked: 0 })
  })

  it('says unchanged when the CRLs are the same', () => {
    expect(crlTightening(inUse, [...inUse])).toEqual({ kind: 'unchanged' })
  })

  it('refuses a set that drops a serial, rolls a CRL back, or leaves a CA out', () => {
    expect(crlTightening(inUse, [next(['02'], 5n), b])).toEqual({ kind: 'loosens', reason: 'it no longer revokes 01' })
    expect(crlTightening(inUse, [next(['01', '02'], 3n), b])).toEqual({ kind: 'loosens', reason: 'the CRL from CN=A is older than the one in use' })
    expect(crlTightening(inUse, [next(['01', '02'], 5n)])).toEqual({ kind: 'loosens', reason: 'there is no CRL from CN=B any more' })
  })
})

describe('expiry', () => {
  it('gives seconds left for the server certificate, each CA and each CRL', () => {
    const items = expiryOf(tlsWith([crl('/a.pem', 'A', T0, new Date(Date.now() + 3 * HOUR), ['1', '2'])]), new Date())
    expect(items.map((item) => [item.kind, expiryLevel(item)])).toEqual([['server-cert', 'warn'], ['ca', 'ok'], ['crl', 'warn']])
    expect(items[0]?.secondsLeft).toBeGreaterThan(10 * 86_400 - 60)
    expect(items[0]?.secondsLeft).toBeLessThan(EXPIRY_WARNING_SECONDS)
    expect(items[2]).toMatchObject({ subject: 'CN=A', revoked: 2 })
  })

  it('says what to run when something is about to expire or has', () => {
    const base = { file: '/f.pem', subject: 'CN=x', at: '2026-12-01T00:00:00.000Z' }
    expect(describeExpiry({ ...base, kind: 'server-cert', secondsLeft: 3 * 86_400 }))
      .toBe('server certificate /f.pem expires 2026-12-01T00:00:00.000Z (3 days); run `dockgate certs renew --server` (dockgate reloads it)')
    expect(describeExpiry({ ...base, kind: 'server-cert', secondsLeft: -7200 }))
      .toBe('server certificate /f.pem expired 2026-12-01T00:00:00.000Z (2 hours ago); clients refuse to connect; run `dockgate certs renew --server` (dockgate reloads it)')
    expect(describeExpiry({ ...base, kind: 'crl', secondsLeft: -600, revoked: 4 }))
      .toMatch(/is stale since .*: dockgate still refuses the 4 certificate\(s\) it revokes, but the TLS handshake no longer checks it; run `dockgate certs crl` now$/)
    expect(describeExpiry({ ...base, kind: 'ca', secondsLeft: 86_400 * 5 })).toMatch(/create a new CA with `dockgate certs init --force` and reissue$/)
    expect(expiryLevel({ ...base, kind: 'crl', at: null, secondsLeft: null })).toBe('ok')
  })
})

async function waitFor (check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
}

describe('watchFiles', () => {
  let dir = ''
  let closeWatch = (): void => {}
  afterEach(() => { closeWatch(); rmSync(dir, { recursive: true, force: true }) })

  async function watching (): Promise<{ calls: () => number }> {
    dir = mkdtempSync(join(tmpdir(), 'dockgate-watch-'))
    writeFileSync(join(dir, 'policy.yaml'), 'a')
    let count = 0
    closeWatch = watchFiles([join(dir, 'policy.yaml')], () => { count += 1 }, 80, () => {}).close
    await new Promise((resolve) => setTimeout(resolve, 50))
    return { calls: () => count }
  }
  // Longer than the 80 ms debounce plus the 80 ms between the two reads: a
  // call still to come from the same burst would have come by then.
  const settle = async (): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, 300)) }

  it('sees a file replaced by rename, as editors and `dockgate certs` write, once per burst', async () => {
    const watch = await watching()
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(dir, `.policy.yaml.${i}.tmp`), `v${i}`)
      renameSync(join(dir, `.policy.yaml.${i}.tmp`), join(dir, 'policy.yaml'))
    }
    // The call comes when it comes (late on a loaded machine); then no second one for the same burst.
    await waitFor(() => watch.calls() > 0, 5000)
    await settle()
    expect(watch.calls()).toBe(1)
    renameSync(join(dir, 'policy.yaml'), join(dir, 'old.yaml'))
    writeFileSync(join(dir, 'policy.yaml'), 'again')
    await waitFor(() => watch.calls() > 1, 5000)
    await settle()
    expect(watch.calls()).toBe(2)
  })

  it('does not act on a file written in place in two steps with a pause longer than the debounce', async () => {
    dir = mkdtempSync(join(tmpdir(), 'dockgate-watch-'))
    const file = join(dir, 'policy.yaml')
    writeFileSync(file, 'old')
    const seen: string[] = []
    closeWatch = watchFiles([file], () => { seen.push(readFileSync(file, 'utf8')) }, 100, () => {}, 300).close
    await new Promise((resolve) => setTimeout(resolve, 50))
    writeFileSync(file, 'first half')
    // Past the 100 ms debounce, well within the 300 ms between the two reads.
    await new Promise((resolve) => setTimeout(resolve, 200))
    appendFileSync(file, ', second half')
    await waitFor(() => seen.length > 0, 3000)
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(seen).toEqual(['first half, second half'])
  })

  it('ignores other files in the same folder', async () => {
    const watch = await watching()
    writeFileSync(join(dir, 'audit.jsonl'), 'x')
    writeFileSync(join(dir, 'policy.yaml.swp'), 'x')
    await settle()
    expect(watch.calls()).toBe(0)
  })

  it('reports a folder it cannot watch instead of throwing', () => {
    const errors: string[] = []
    dir = mkdtempSync(join(tmpdir(), 'dockgate-watch-'))
    closeWatch = watchFiles(['/nonexistent/dir/file.pem'], () => {}, 10, (folder) => { errors.push(folder) }).close
    expect(errors).toEqual(['/nonexistent/dir'])
  })
})
