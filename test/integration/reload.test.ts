/**
 * Live reload in front of the real daemon: the server certificate rotates
 * under an open `docker exec -i` session, a broken policy or half-written
 * certificate is refused and the old state keeps serving, a fixed file is
 * picked up, and what a reload cannot change is said to need a restart.
 */
import { spawn } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { issueServerCertificate } from '../../src/certs/issue.js'
import { docker, dockerEnv } from '../support/clients.js'
import { configText, startLiveGateway, waitFor, type LiveGateway } from '../support/live.js'
import { probe } from '../support/tls-probe.js'

const socket = inject('dockerSocket')
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ops }
    teams: [ops]
teams:
  platform:
    allow: ["* /**"]
  ops:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /containers/json"
`

describe.skipIf(socket === '')('live reload', () => {
  let gw: LiveGateway
  const fingerprintOnDisk = (): string => new X509Certificate(readFileSync(join(gw.certs, 'server', 'cert.pem'))).fingerprint256
  const failedSince = async (since: number): Promise<void> => {
    await waitFor(() => gw.reloader.stats().failed > since, 10_000, 'a refused reload')
  }
  beforeAll(async () => {
    gw = await startLiveGateway({ socket, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'oscar', '--ou', 'ops']] })
  })
  afterAll(async () => { await gw?.close() })

  it('logs the expiry of the server certificate, the CA and the CRL at startup', () => {
    const messages = gw.logs().map((line) => line.msg)
    expect(messages).toContainEqual(expect.stringMatching(/^server certificate .*cert\.pem \(CN=localhost\) valid until \d{4}-.* \(364 days\)$/))
    expect(messages).toContainEqual(expect.stringMatching(/^CA .*ca\.pem \(CN=dockgate CA .*\) valid until .* \(3649 days\)$/))
    expect(messages).toContainEqual(expect.stringMatching(/^CRL .*crl\.pem from CN=dockgate CA .*: 0 revoked, next update due .* \(29 days\)$/))
  })

  it('swaps the server certificate while a `docker exec -i` session stays open on the old one', async () => {
    const name = `dg5-exec-${process.pid}-${Date.now()}`
    const started = await docker(gw.port, gw.bundle('alice'), ['run', '-d', '--name', name, '--network', 'none', 'dockgate-test/busybox:latest', 'sleep', '120'])
    expect(started.code).toBe(0)
    try {
      const exec = spawn('docker', ['exec', '-i', name, 'cat'], { env: dockerEnv(gw.port, gw.bundle('alice')) })
      let echoed = ''
      exec.stdout.on('data', (c: Buffer) => { echoed += c.toString() })
      const exited = new Promise<number | null>((resolve) => exec.on('close', resolve))
      exec.stdin.write('before the swap\n')
      await waitFor(() => echoed.includes('before the swap\n'), 15_000, 'the exec session to echo')

      const oldFingerprint = (await probe(gw.port, gw.bundle('alice'))).serverFingerprint256
      const applied = gw.reloader.stats().applied
      await gw.certsCli('renew', '--server')
      await gw.reloaded(applied)
      const fresh = await probe(gw.port, gw.bundle('alice'))
      expect(fresh.serverFingerprint256).toBe(fingerprintOnDisk())
      expect(fresh.serverFingerprint256).not.toBe(oldFingerprint)
      expect(fresh.status).toBe(200)

      exec.stdin.write('after the swap\n')
      await waitFor(() => echoed.includes('after the swap\n'), 10_000, 'the open session to keep echoing')
      exec.stdin.end()
      expect(await exited).toBe(0)
      expect(echoed).toBe('before the swap\nafter the swap\n')
      expect((await docker(gw.port, gw.bundle('alice'), ['ps', '-q'])).code).toBe(0)
    } finally {
      await docker(gw.port, gw.bundle('alice'), ['rm', '-f', name])
    }
  })

  it('keeps the old policy when the new one is broken, logging each problem at file:line:col, and takes a fixed one', async () => {
    const failed = gw.reloader.stats().failed
    writeFileSync(gw.policyFile, POLICY.replace('"GET /containers/json"', '"GIT /containers/json"').replace('[ops]', '[opz]'))
    await failedSince(failed)
    const errors = gw.logs().filter((line) => line.level === 50).map((line) => line.msg)
    expect(errors).toContainEqual(expect.stringMatching(new RegExp(`^${gw.policyFile}:6:13 DG_POLICY_UNKNOWN_TEAM `)))
    expect(errors).toContainEqual(expect.stringMatching(new RegExp(`^${gw.policyFile}:14:9 DG_POLICY_BAD_RULE `)))
    expect(errors).toContainEqual('reload (file-change) failed with 2 problem(s); still serving the previous certificates, CRLs and policy')
    expect((await docker(gw.port, gw.bundle('oscar'), ['ps', '-q'])).code).toBe(0)
    // The trail says so too, in the chain: the refused reload, its problems, and the bytes it refused.
    const brokenBytes = sha256(readFileSync(gw.policyFile))
    expect(gw.records().filter((r) => r.stage === 'Reloaded').at(-1)?.reload).toMatchObject({
      trigger: 'file-change',
      outcome: 'refused',
      problems: [expect.stringMatching(new RegExp(`^${gw.policyFile}:6:13 DG_POLICY_UNKNOWN_TEAM `)), expect.stringMatching(new RegExp(`^${gw.policyFile}:14:9 DG_POLICY_BAD_RULE `))],
      moreProblems: 0,
      policy: { file: gw.policyFile, sha256: brokenBytes },
      closedConnections: 0
    })

    const applied = gw.reloader.stats().applied
    writeFileSync(gw.policyFile, POLICY.replace('"GET /containers/json"', '"GET /containers/json"\n      - "GET /images/json"'))
    await gw.reloaded(applied)
    const appliedRecord = gw.records().filter((r) => r.stage === 'Reloaded').at(-1)
    expect(appliedRecord?.reload).toMatchObject({ outcome: 'applied', problems: [], policy: { file: gw.policyFile, sha256: sha256(readFileSync(gw.policyFile)) } })
    expect(appliedRecord?.reload?.policy?.sha256).not.toBe(brokenBytes)
    const images = await docker(gw.port, gw.bundle('oscar'), ['images', '-q'])
    expect(images.stderr).toBe('')
    expect(images.code).toBe(0)
  })

  it('refuses a certificate that does not match its key, and a half-written one, until the pair is complete', async () => {
    const serving = (await probe(gw.port, gw.bundle('alice'))).serverFingerprint256
    const ca = { certPem: readFileSync(join(gw.certs, 'ca', 'ca.pem'), 'utf8'), keyPem: readFileSync(join(gw.certs, 'ca', 'key.pem'), 'utf8') }
    const next = issueServerCertificate(ca, { hosts: [], days: 30 })
    const certFile = join(gw.certs, 'server', 'cert.pem')

    let failed = gw.reloader.stats().failed
    writeFileSync(certFile, next.certPem)
    await failedSince(failed)
    expect(gw.logs().at(-1)?.msg).toMatch(/failed with 1 problem/)
    expect(gw.logs().at(-2)?.msg).toMatch(/config\.yaml:6:8 DG_TLS_MATERIAL tls\.key does not match tls\.cert/)

    failed = gw.reloader.stats().failed
    writeFileSync(certFile, next.certPem.slice(0, next.certPem.length / 2))
    await failedSince(failed)
    expect(gw.logs().at(-2)?.msg).toMatch(/config\.yaml:5:9 DG_TLS_MATERIAL tls\.cert cannot be parsed as a certificate/)
    expect((await probe(gw.port, gw.bundle('alice'))).serverFingerprint256).toBe(serving)

    const applied = gw.reloader.stats().applied
    writeFileSync(join(gw.certs, 'server', 'key.pem'), next.keyPem)
    writeFileSync(certFile, next.certPem)
    await gw.reloaded(applied)
    expect((await probe(gw.port, gw.bundle('alice'))).serverFingerprint256).toBe(new X509Certificate(next.certPem).fingerprint256)
  })

  it('refuses a server certificate that has expired or is not valid yet, and keeps serving the current one', async () => {
    const serving = (await probe(gw.port, gw.bundle('alice'))).serverFingerprint256
    const ca = { certPem: readFileSync(join(gw.certs, 'ca', 'ca.pem'), 'utf8'), keyPem: readFileSync(join(gw.certs, 'ca', 'key.pem'), 'utf8') }
    const keyFile = join(gw.certs, 'server', 'key.pem')
    const certFile = join(gw.certs, 'server', 'cert.pem')
    const [keep, keepKey] = [readFileSync(certFile, 'utf8'), readFileSync(keyFile, 'utf8')]
    for (const [shift, problem] of [[-3, /tls\.cert .*cert\.pem expired on /], [2, /tls\.cert .*cert\.pem is not valid until /]] as const) {
      const dated = issueServerCertificate(ca, { hosts: [], days: 1, now: new Date(Date.now() + shift * 86_400_000) })
      const failed = gw.reloader.stats().failed
      writeFileSync(keyFile, dated.keyPem)
      writeFileSync(certFile, dated.certPem)
      await waitFor(() => gw.reloader.stats().failed > failed && gw.logs().at(-2)?.msg.match(problem) !== null, 10_000, 'the dated certificate to be refused')
      expect(gw.logs().at(-2)?.msg).toMatch(/config\.yaml:5:9 DG_TLS_MATERIAL .*every client would refuse it/)
      expect((await probe(gw.port, gw.bundle('alice'))).serverFingerprint256).toBe(serving)
    }
    // Back to what is serving: the files equal the applied state, so no reload is needed.
    writeFileSync(keyFile, keepKey)
    writeFileSync(certFile, keep)
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect((await probe(gw.port, gw.bundle('alice'))).status).toBe(200)
  })

  it('refuses to roll the CRL back to an older one, so a revocation cannot be undone by restoring a file', async () => {
    const crlFile = join(gw.certs, 'ca', 'crl.pem')
    const older = readFileSync(crlFile, 'utf8')
    // CRL times have one-second resolution: the next one must be issued in a later second than the one in use.
    const issued = Math.max(...(gw.reloader.settings().config.tls?.crls ?? []).map((crl) => crl.thisUpdate.getTime()))
    await waitFor(() => Date.now() >= issued + 1000, 2000, 'a second past the CRL in use')
    const applied = gw.reloader.stats().applied
    await gw.certsCli('revoke', '--cn', 'oscar')
    await gw.reloaded(applied)
    const failed = gw.reloader.stats().failed
    writeFileSync(crlFile, older)
    await failedSince(failed)
    expect(gw.logs().at(-2)?.msg).toMatch(/crl\.pem:0:0 DG_TLS_MATERIAL this CRL from .* \(number \d+, issued .*\) is older than the one in use \(number \d+, /)
    expect((await docker(gw.port, gw.bundle('oscar'), ['ps'])).stderr).toContain('the client certificate has been revoked')
    // Every reload fails until a current CRL is back; publishing one is the fix.
    const applied2 = gw.reloader.stats().applied
    await gw.certsCli('crl')
    await gw.reloaded(applied2)
  })

  it('says that a changed listen address needs a restart, and applies everything else', async () => {
    const applied = gw.reloader.stats().applied
    writeFileSync(gw.configFile, configText(socket, '127.0.0.1:2999'))
    await gw.reloaded(applied)
    expect(gw.logs().map((line) => line.msg)).toContain(
      'listen changed to 127.0.0.1:2999 but dockgate still uses 127.0.0.1:0: restart dockgate to apply it (everything else was reloaded)')
    expect((await probe(gw.port, gw.bundle('alice'))).status).toBe(200)
  })
})
