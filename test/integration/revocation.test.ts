/**
 * Revocation end to end, as an operator does it: certificates issued and
 * revoked with the built `dockgate certs` CLI, a gateway whose tls.crl is
 * the CRL the CLI writes, the stock docker CLI as the client, the real
 * daemon behind. Nobody whose certificate was revoked keeps access after
 * the reload the revocation triggers: not on a new connection, not on an
 * open stream, not through TLS session resumption.
 */
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker, dockerEnv } from '../support/clients.js'
import { startLiveGateway, waitFor, type LiveGateway } from '../support/live.js'
import { probe } from '../support/tls-probe.js'

const socket = inject('dockerSocket')

async function within<T> (ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`not within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

const POLICY = `version: 1
identities:
  - match: { san_uri: "spiffe://example.org/team/ops" }
    teams: [ops]
  - match: { ou: platform }
    teams: [platform]
teams:
  platform:
    allow: ["* /**"]
  ops:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /containers/json"
      - "GET /events"
`

describe.skipIf(socket === '')('revocation with certificates from `dockgate certs`', () => {
  let gw: LiveGateway
  beforeAll(async () => {
    gw = await startLiveGateway({
      socket,
      policy: POLICY,
      clients: [
        ['--cn', 'olivia', '--san-uri', 'spiffe://example.org/team/ops', '--hours', '12'],
        ['--cn', 'paul', '--ou', 'platform'],
        ['--cn', 'quinn', '--ou', 'platform'],
        ['--cn', 'rita', '--ou', 'platform'],
        ['--cn', 'sam', '--ou', 'platform'],
        ['--cn', 'tina', '--ou', 'platform'],
        ['--cn', 'dave', '--ou', 'platform']
      ]
    })
  })
  afterAll(async () => { await gw?.close() })

  it('a team certificate issued with the CLI works with the docker CLI, its SPIFFE ID deciding the team', async () => {
    const ok = await docker(gw.port, gw.bundle('olivia'), ['ps', '--format', '{{.ID}}'])
    expect(ok.stderr).toBe('')
    expect(ok.code).toBe(0)
    const refused = await docker(gw.port, gw.bundle('olivia'), ['images'])
    expect(refused.stderr).toContain('dockgate: ops may not GET /images/json')
  })

  it('revoking a certificate refuses its next connection with the reason and closes its open `docker events` stream', async () => {
    const events = spawn('docker', ['events', '--format', '{{.Action}}'], { env: dockerEnv(gw.port, gw.bundle('paul')) })
    let output = ''
    events.stdout.on('data', (c: Buffer) => { output += c.toString() })
    const exited = new Promise<number | null>((resolve) => events.on('close', resolve))
    // An event through the stream proves it is open end to end before the
    // revocation; the stream may subscribe after the first try, so repeat.
    for (let attempt = 0; attempt < 10 && !output.includes('create'); attempt++) {
      const name = `dg5-events-${process.pid}-${Date.now()}`
      await docker(gw.port, gw.bundle('quinn'), ['create', '--name', name, '--network', 'none', 'dockgate-test/busybox:latest', 'true'])
      await docker(gw.port, gw.bundle('quinn'), ['rm', name])
      await waitFor(() => output.includes('create'), 1000, 'the create event').catch(() => {})
    }
    expect(output).toContain('create')

    const applied = gw.reloader.stats().applied
    const printed = await gw.certsCli('revoke', '--cn', 'paul', '--reason', 'keyCompromise')
    expect(printed).toMatch(/^revoked [0-9A-F]{32} CN=paul,OU=platform \(keyCompromise\)$/m)
    await gw.reloaded(applied)

    expect(await within(10_000, exited)).not.toBe(0)
    const serial = /^revoked ([0-9A-F]{32})/m.exec(printed)?.[1]
    expect(gw.records()).toContainEqual(expect.objectContaining({
      stage: 'ConnectionClosed', code: 'DG_CONNECTION_REVOKED', identity: expect.objectContaining({ serial }) as unknown
    }))
    // The stream itself is on record as cut short.
    expect(gw.records()).toContainEqual(expect.objectContaining({
      stage: 'ResponseComplete', aborted: true, request: expect.objectContaining({ path: '/events' }) as unknown, identity: expect.objectContaining({ serial }) as unknown
    }))
    const next = await docker(gw.port, gw.bundle('paul'), ['ps'])
    expect(next.code).not.toBe(0)
    expect(next.stderr).toContain('Error response from daemon: dockgate: the client certificate has been revoked (CERT_REVOKED)')
    expect(gw.records().at(-1)).toMatchObject({ stage: 'TLSRejected', code: 'DG_TLS_REJECTED', tls: { reason: 'revoked' }, identity: { serial } })
    // Everyone else carries on.
    expect((await docker(gw.port, gw.bundle('quinn'), ['ps', '-q'])).code).toBe(0)
  })

  it('closes a kept-alive connection of a certificate revoked while it was idle', async () => {
    const first = await probe(gw.port, gw.bundle('rita'))
    expect(first.status).toBe(200)
    // A raw keep-alive connection: one request answered, then idle.
    const { default: tls } = await import('node:tls')
    const { tlsOptions } = await import('../support/clients.js')
    const kept = tls.connect({ host: '127.0.0.1', port: gw.port, ...tlsOptions(gw.bundle('rita')) })
    let answered = ''
    kept.on('data', (c: Buffer) => { answered += c.toString('latin1') })
    const closed = new Promise<void>((resolve) => kept.on('close', () => { resolve() }))
    // A stream, not an idle keep-alive connection: on a loaded machine the
    // reloads below can outlast Node's 5 s keep-alive timeout, which would
    // close the connection before the revocation could.
    kept.on('secureConnect', () => { kept.write('GET /events HTTP/1.1\r\nHost: docker\r\n\r\n') })
    await waitFor(() => answered.includes('200 OK'), 10_000, 'the events stream to start')
    const applied = gw.reloader.stats().applied
    await gw.certsCli('revoke', '--cn', 'rita')
    await gw.reloaded(applied)
    // Well before Node's 5 s keep-alive timeout would have closed it anyway.
    await within(1500, closed)
    expect(kept.destroyed).toBe(true)
  })

  it('cuts an open `docker exec -i` session of a certificate revoked while it runs', async () => {
    const name = `dg5-revexec-${process.pid}-${Date.now()}`
    expect((await docker(gw.port, gw.bundle('quinn'), ['run', '-d', '--name', name, '--network', 'none', 'dockgate-test/busybox:latest', 'sleep', '120'])).code).toBe(0)
    try {
      const exec = spawn('docker', ['exec', '-i', name, 'cat'], { env: dockerEnv(gw.port, gw.bundle('tina')) })
      let echoed = ''
      exec.stdout.on('data', (c: Buffer) => { echoed += c.toString() })
      const exited = new Promise<number | null>((resolve) => exec.on('close', resolve))
      exec.stdin.write('still here\n')
      await waitFor(() => echoed.includes('still here'), 15_000, 'the exec session to echo')
      const applied = gw.reloader.stats().applied
      await gw.certsCli('revoke', '--cn', 'tina')
      await gw.reloaded(applied)
      await within(5000, exited)
      expect(gw.records()).toContainEqual(expect.objectContaining({
        stage: 'ResponseComplete', status: 101, request: expect.objectContaining({ upgrade: 'tcp' }) as unknown,
        identity: expect.objectContaining({ subject: 'CN=tina,OU=platform' }) as unknown
      }))
    } finally {
      await docker(gw.port, gw.bundle('quinn'), ['rm', '-f', name])
    }
  })

  it('a revoked client cannot resume a TLS session saved before the revocation', async () => {
    const first = await probe(gw.port, gw.bundle('sam'))
    expect(first.status).toBe(200)
    const session = first.sessions.at(-1)
    expect(session).toBeDefined()
    // Control: without a reload the saved session does resume, so the check below can fail.
    const again = await probe(gw.port, gw.bundle('sam'), '/_ping', session)
    expect(again.resumed).toBe(true)
    expect(again.status).toBe(200)

    const applied = gw.reloader.stats().applied
    await gw.certsCli('revoke', '--cn', 'sam')
    await gw.reloaded(applied)
    const resumedAfter = await probe(gw.port, gw.bundle('sam'), '/_ping', again.sessions.at(-1) ?? session)
    expect(resumedAfter.status).toBe(403)
    expect(resumedAfter.body).toContain('the client certificate has been revoked (CERT_REVOKED)')
    expect(resumedAfter.resumed).toBe(false)
  })

  it('applies a revocation while an unrelated problem (a policy typo) keeps the rest of the reload refused', async () => {
    const { default: tls } = await import('node:tls')
    const { tlsOptions } = await import('../support/clients.js')
    const kept = tls.connect({ host: '127.0.0.1', port: gw.port, ...tlsOptions(gw.bundle('dave')) })
    let answered = ''
    kept.on('data', (c: Buffer) => { answered += c.toString('latin1') })
    const closed = new Promise<void>((resolve) => kept.on('close', () => { resolve() }))
    // A stream, not an idle keep-alive connection: on a loaded machine the
    // reloads below can outlast Node's 5 s keep-alive timeout, which would
    // close the connection before the revocation could.
    kept.on('secureConnect', () => { kept.write('GET /events HTTP/1.1\r\nHost: docker\r\n\r\n') })
    await waitFor(() => answered.includes('200 OK'), 10_000, 'the events stream to start')

    let failed = gw.reloader.stats().failed
    writeFileSync(gw.policyFile, POLICY.replace('teams: [ops]', 'teams: [opz]'))
    await waitFor(() => gw.reloader.stats().failed > failed, 10_000, 'the typo to be refused')
    try {
      failed = gw.reloader.stats().failed
      const applied = gw.reloader.stats().applied
      const printed = await gw.certsCli('revoke', '--cn', 'dave')
      const serial = /^revoked ([0-9A-F]{32})/m.exec(printed)?.[1]
      await waitFor(() => gw.reloader.stats().failed > failed, 10_000, 'the reload with the revocation')
      expect(gw.reloader.stats().applied).toBe(applied)
      expect(gw.logs().filter((line) => line.level === 50).map((line) => line.msg)).toContainEqual(
        'reload (file-change) failed with 1 problem(s): the revocations were applied anyway, because the new CRLs only add revocations ' +
        '(1 newly revoked; closed 1 open connection(s) of revoked certificates), but the rest of the reload was refused; ' +
        'still serving the previous certificates and policy')
      await within(1500, closed)
      expect(gw.records()).toContainEqual(expect.objectContaining({
        stage: 'ConnectionClosed', code: 'DG_CONNECTION_REVOKED', identity: expect.objectContaining({ serial }) as unknown
      }))
      const refused = await docker(gw.port, gw.bundle('dave'), ['ps'])
      expect(refused.stderr).toContain('dockgate: the client certificate has been revoked (CERT_REVOKED)')
      // The typo was not applied: olivia's team still resolves under the old policy.
      expect((await docker(gw.port, gw.bundle('olivia'), ['ps', '-q'])).code).toBe(0)
    } finally {
      const applied = gw.reloader.stats().applied
      writeFileSync(gw.policyFile, POLICY)
      await gw.reloaded(applied)
    }
    expect((await docker(gw.port, gw.bundle('dave'), ['ps'])).stderr).toContain('the client certificate has been revoked (CERT_REVOKED)')
  })
})
