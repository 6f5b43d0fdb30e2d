/**
 * Connection limits, the request rate limit and the header limits, each
 * hit on purpose against the real daemon: refused in Docker's error shape
 * (429 or 503; 408 and 431 for headers), audited and counted, and never
 * in the way of another identity.
 */
import https from 'node:https'
import { dirname } from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { checkAuditDir } from '../support/audit-check.js'
import { docker, rawExchange, rawRequest, tlsOptions, type RawResponse } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { get, sample, startRuntime, type RuntimeHarness } from '../support/runtime.js'
import { certificateOf } from '../support/gateway.js'

const socket = inject('dockerSocket')
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
teams:
  platform:
    allow: ["* /**"]
`
const CLIENTS = [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'oscar', '--ou', 'platform'], ['--cn', 'carol', '--ou', 'platform']]
const metric = async (gw: RuntimeHarness, limit: string): Promise<number | null> =>
  sample((await get(`${gw.admin ?? ''}/metrics`)).body, 'dockgate_limit_hits_total', { limit })

/** A verified TLS connection that sends nothing yet. */
async function connect (port: number, bundle: string): Promise<tls.TLSSocket> {
  return await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) }, () => { resolve(socket) })
    socket.on('error', reject)
  })
}

describe.skipIf(socket === '')('limits.maxConnections and limits.connectionsPerIdentity', () => {
  let gw: RuntimeHarness
  const held: tls.TLSSocket[] = []
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  maxConnections: 4\n  connectionsPerIdentity: 2\n' })
  })
  afterAll(async () => {
    for (const s of held) s.destroy()
    await gw?.close()
  })

  it('refuses an identity its third connection with 429 and a full gateway with 503, and frees slots as connections close', async () => {
    for (const cn of ['alice', 'alice']) held.push(await connect(gw.port, gw.bundle(cn)))
    await waitFor(() => gw.runtime.gateway.stats().connections === 2, 5000, 'alice\'s two connections')
    const mine = await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/_ping')
    expect(mine.status).toBe(429)
    expect(mine.headers['retry-after']).toBe('1')
    expect(JSON.parse(mine.body)).toEqual({ message: 'dockgate: CN=alice,OU=platform already has 2 open connections (limits.connectionsPerIdentity); close some and retry' })
    const id = mine.headers['x-dockgate-request-id']
    expect(gw.records().find((r) => r.auditID === id)).toMatchObject({ stage: 'Refused', code: 'DG_LIMIT_IDENTITY_CONNECTIONS', status: 429 })

    for (const cn of ['oscar', 'oscar']) held.push(await connect(gw.port, gw.bundle(cn)))
    await waitFor(() => gw.runtime.gateway.stats().connections === 4, 5000, 'four connections')
    const full = await docker(gw.port, gw.bundle('carol'), ['version', '--format', '{{.Server.Version}}'])
    expect(full.stderr).toContain('dockgate: the gateway has 4 open connections (limits.maxConnections); retry shortly')
    const fullRaw = await rawRequest(gw.port, gw.bundle('carol'), 'GET', '/_ping')
    expect([fullRaw.status, fullRaw.headers['retry-after']]).toEqual([503, '1'])

    held.shift()?.destroy()
    await waitFor(() => gw.runtime.gateway.stats().connections === 3, 5000, 'a freed slot')
    expect((await rawRequest(gw.port, gw.bundle('carol'), 'GET', '/_ping')).status).toBe(200)

    const codes = gw.records().filter((r) => r.stage === 'Refused').map((r) => [r.code, r.status, certificateOf(r)?.subject])
    expect(codes).toContainEqual(['DG_LIMIT_IDENTITY_CONNECTIONS', 429, 'CN=alice,OU=platform'])
    expect(codes).toContainEqual(['DG_LIMIT_CONNECTIONS', 503, 'CN=carol,OU=platform'])
    expect(await metric(gw, 'identity-connections')).toBe(1)
    expect(await metric(gw, 'connections')).toBeGreaterThanOrEqual(1)
  })
})

describe.skipIf(socket === '')('limits.requestsPerSecond', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  requestsPerSecond: 0.5\n  requestBurst: 3\n' })
  })
  afterAll(async () => { await gw?.close() })

  it('answers 429 past the burst, for that identity only, and lets it through again as tokens refill', async () => {
    // One kept-alive connection: after the first request the burst is quick
    // exchanges, not handshakes, so a loaded machine cannot stretch it past
    // the second in which "retry in 2 s" holds.
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...tlsOptions(gw.bundle('alice')) })
    const alice = async (target: string): Promise<RawResponse> => await rawRequest(gw.port, gw.bundle('alice'), 'GET', target, { agent })
    try {
      const statuses = [(await alice('/_ping')).status]
      // The bucket (in this process, on this clock) started full at that request, so before now.
      const firstAnswered = performance.now()
      for (let i = 1; i < 4; i++) statuses.push((await alice('/_ping')).status)
      expect(statuses).toEqual([200, 200, 200, 429])
      const refused = await alice('/v1.41/version')
      expect(JSON.parse(refused.body)).toEqual({ message: 'dockgate: CN=alice,OU=platform sent more than 0.5 requests per second (limits.requestsPerSecond); retry in 2 s' })
      expect(refused.headers['retry-after']).toBe('2')
      expect((await rawRequest(gw.port, gw.bundle('oscar'), 'GET', '/_ping')).status).toBe(200)
      // One token comes back 2 s after the bucket started: wait for that moment, not a guess past it.
      await waitFor(() => performance.now() >= firstAnswered + 2000, 5000, 'a token to come back')
      expect((await alice('/_ping')).status).toBe(200)
      const record = gw.records().find((r) => r.auditID === refused.headers['x-dockgate-request-id'])
      expect(record).toMatchObject({ stage: 'Refused', code: 'DG_LIMIT_RATE', status: 429, request: { method: 'GET', path: '/version' } })
      expect(await metric(gw, 'rate')).toBe(2)
    } finally {
      agent.destroy()
    }
  })
})

describe.skipIf(socket === '')('audit records of limit refusals', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  requestsPerSecond: 0.01\n  requestBurst: 1\n' })
  })
  afterAll(async () => { await gw?.close() })

  it('are written for the first 20 refusals of an identity and limit, then counted into one Suppressed record; every hit is in the metrics', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...tlsOptions(gw.bundle('alice')) })
    const statuses: number[] = []
    for (let i = 0; i < 61; i++) {
      statuses.push(await new Promise<number>((resolve, reject) => {
        https.get({ host: '127.0.0.1', port: gw.port, path: '/_ping', agent }, (res) => { res.resume(); res.on('end', () => { resolve(res.statusCode ?? 0) }) }).on('error', reject)
      }))
    }
    agent.destroy()
    expect(statuses.filter((s) => s === 429)).toHaveLength(60)
    expect(await metric(gw, 'rate')).toBe(60)
    expect(gw.records().filter((r) => r.code === 'DG_LIMIT_RATE')).toHaveLength(20)
    // Another identity's first refusal is written: the share is per identity.
    expect((await rawRequest(gw.port, gw.bundle('oscar'), 'GET', '/_ping')).status).toBe(200)
    expect((await rawRequest(gw.port, gw.bundle('oscar'), 'GET', '/_ping')).status).toBe(429)
    expect(gw.records().filter((r) => r.code === 'DG_LIMIT_RATE' && certificateOf(r)?.subject === 'CN=oscar,OU=platform')).toHaveLength(1)
    await gw.close()
    expect(gw.records().filter((r) => r.stage === 'Suppressed')).toMatchObject([{
      client: { address: '127.0.0.1' },
      identity: { subject: 'CN=alice,OU=platform', teams: ['platform'] },
      code: 'DG_LIMIT_RATE',
      suppressed: { kind: 'Refused', count: 40, reasons: { DG_LIMIT_RATE: 40 } }
    }])
    // Every record, the summary included, fits the published schema and the chain.
    checkAuditDir(dirname(gw.runtime.auditFile))
  })
})

describe.skipIf(socket === '')('limits.headerBytes and limits.headersTimeoutSeconds', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  headerBytes: 8192\n  headersTimeoutSeconds: 1\n' })
  })
  afterAll(async () => { await gw?.close() })

  it('cuts a client whose headers never finish with 408, audited and counted', async () => {
    const started = Date.now()
    const answer = await rawExchange(gw.port, gw.bundle('alice'), 'GET /_ping HTTP/1.1\r\nHost: d\r\n', 10_000)
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
    expect(answer).toContain('{"message":"dockgate: request headers did not arrive in time"}')
    expect(Date.now() - started).toBeLessThan(3000)
    expect(gw.records().at(-1)).toMatchObject({ stage: 'Refused', code: 'DG_HEADERS_TIMEOUT', status: 408, identity: { subject: 'CN=alice,OU=platform' } })
    expect(await metric(gw, 'header-timeout')).toBe(1)
  })

  it('cuts a slowloris that keeps sending a header line every 300 ms', async () => {
    const socketToGw = await connect(gw.port, gw.bundle('oscar'))
    let answer = ''
    socketToGw.on('data', (c: Buffer) => { answer += c.toString('latin1') })
    const closed = new Promise<number>((resolve) => socketToGw.on('close', () => { resolve(Date.now()) }))
    const started = Date.now()
    socketToGw.write('GET /_ping HTTP/1.1\r\n')
    const drip = setInterval(() => { if (socketToGw.writable) socketToGw.write(`X-Drip-${Date.now()}: x\r\n`) }, 300)
    try {
      expect(await closed - started).toBeLessThan(3000)
    } finally {
      clearInterval(drip)
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408 /)
  })

  it('answers headers over limits.headerBytes with 431, and takes a request just under it', async () => {
    const big = await rawExchange(gw.port, gw.bundle('alice'), `GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`)
    expect(big).toMatch(/^HTTP\/1\.1 431 /)
    expect(big).toContain('{"message":"dockgate: request headers are too large"}')
    expect((await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/_ping', { headers: { 'x-fits': 'a'.repeat(6000) } })).status).toBe(200)
    expect(await metric(gw, 'header-size')).toBe(1)
  })
})
