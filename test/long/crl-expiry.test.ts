/**
 * What happens when the CRL goes stale (nobody ran `dockgate certs crl`):
 * warned about ahead of time, said loudly when it happens, and nobody is
 * locked out, while every certificate the stale list revokes stays refused.
 * A fresh CRL puts the TLS handshake back in charge without a restart.
 * It waits in real time for the CRL to go stale, so it is in
 * `npm run test:long`.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { CRL_STALE_LEAD_MS } from '../../src/tls/live-tls.js'
import { issueCrl } from '../../src/certs/crl.js'
import type { CertIndex } from '../../src/certs/index-file.js'
import { docker } from '../support/clients.js'
import { startLiveGateway, waitFor, type LiveGateway } from '../support/live.js'

const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'

describe.skipIf(socket === '')('a stale CRL', () => {
  let gw: LiveGateway
  beforeAll(async () => {
    gw = await startLiveGateway({ socket, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'mallory', '--ou', 'platform']] })
  })
  afterAll(async () => { await gw?.close() })

  it('warns ahead, then stops checking CRLs in the handshake without locking anyone out, still refusing what it revokes', async () => {
    let applied = gw.reloader.stats().applied
    await gw.certsCli('revoke', '--cn', 'mallory')
    await gw.reloaded(applied)
    // A CRL that goes stale in a few seconds, as the CLI would have written it weeks ago.
    const caDir = join(gw.certs, 'ca')
    const ca = { certPem: readFileSync(join(caDir, 'ca.pem'), 'utf8'), keyPem: readFileSync(join(caDir, 'key.pem'), 'utf8') }
    const index = JSON.parse(readFileSync(join(caDir, 'index.json'), 'utf8')) as CertIndex
    const revoked = index.certificates.filter((entry) => entry.revoked !== null)
      .map((entry) => ({ serialHex: entry.serial, revokedAt: new Date(entry.revoked?.at ?? 0), reason: 'keyCompromise' as const }))
    const nextUpdate = new Date(Date.now() + CRL_STALE_LEAD_MS + 3000)
    applied = gw.reloader.stats().applied
    writeFileSync(join(caDir, 'crl.pem'), issueCrl(ca, { revoked, number: index.crlNumber + 1, nextUpdate }))
    await gw.reloaded(applied)

    expect(gw.logs().filter((line) => line.level === 40).map((line) => line.msg)).toContainEqual(
      expect.stringMatching(/^CRL .*crl\.pem from CN=dockgate CA .* goes stale .* \(\d+ minutes\); run `dockgate certs crl` before then$/))
    expect(gw.reloader.stats().handshakeChecksCrl).toBe(true)
    expect((await docker(gw.port, gw.bundle('alice'), ['version', '--format', '{{.Server.Os}}'])).stdout).toBe('linux\n')

    // The gateway's clock switches at the boundary; on a loaded machine its timer may run a little late.
    await waitFor(() => !gw.reloader.stats().handshakeChecksCrl, 30_000, 'the handshake to stop checking the stale CRL')
    // Not before its time (the CRL's nextUpdate is written to the second, so up to a second earlier than asked).
    expect(Date.now()).toBeGreaterThanOrEqual(nextUpdate.getTime() - CRL_STALE_LEAD_MS - 1000)
    await waitFor(() => Date.now() > nextUpdate.getTime() + 1000, 15_000, 'the CRL to pass nextUpdate')
    expect(gw.logs().filter((line) => line.level === 50).map((line) => line.msg)).toContainEqual(expect.stringMatching(
      /crl\.pem is stale or not valid yet: the TLS handshake stops checking CRLs so clients are not all locked out, and dockgate keeps refusing the 1 revoked certificate\(s\) it knows; run `dockgate certs crl`/))
    const ok = await docker(gw.port, gw.bundle('alice'), ['version', '--format', '{{.Server.Os}}'])
    expect(ok.stderr).toBe('')
    expect(ok.stdout).toBe('linux\n')
    const refused = await docker(gw.port, gw.bundle('mallory'), ['ps'])
    expect(refused.stderr).toContain('dockgate: the client certificate has been revoked (CERT_REVOKED)')

    applied = gw.reloader.stats().applied
    const printed = await gw.certsCli('crl')
    expect(printed).toMatch(/^wrote .*crl\.pem: CRL number \d+, 1 revoked, next update due /)
    await gw.reloaded(applied)
    expect(gw.reloader.stats().handshakeChecksCrl).toBe(true)
    expect(gw.reloader.expiry().find((item) => item.kind === 'crl')?.secondsLeft).toBeGreaterThan(29 * 86_400)
    expect((await docker(gw.port, gw.bundle('mallory'), ['ps'])).stderr).toContain('(CERT_REVOKED)')
  })
})
