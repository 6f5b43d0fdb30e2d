/**
 * The audit trail as an auditor reads it, produced by the stock docker CLI
 * through dockgate in front of the real daemon: every stage, validated
 * against the published schema; long-lived streams and hijacked sessions
 * recorded when they start and when they end; the judged body at level
 * request with secrets removed; hostile certificate subjects kept to one
 * escaped line; TLS scans rate limited; and a copy shipped to syslog.
 */
import { execFile, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { certificateOf, startGateway, TEST_POLICY, type TestGateway } from '../support/gateway.js'
import { docker, dockerEnv, rawRequest } from '../support/clients.js'
import { validateRecord } from '../support/audit-check.js'
import { hostileBundle } from '../support/hostile-cert.js'

const socket = inject('dockerSocket')

/** Runs a shell command line in `cwd` (so `audit*.jsonl` globs the trail) and resolves with its standard output. */
async function runShell (command: string, cwd: string): Promise<string> {
  const { stdout } = await promisify(execFile)('sh', ['-c', command], { cwd, maxBuffer: 16 * 1024 * 1024 })
  return stdout
}
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)

describe.skipIf(socket === '')('audit records through the docker CLI (real daemon)', () => {
  let gw: TestGateway
  const alice = (): string => gw.pki.bundle('alice')

  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => { await gw?.close() })

  it('every stage a client can cause is written, and every record is valid against schema/audit-record.v1.json', async () => {
    expect((await docker(gw.port, alice(), ['run', '--rm', '--network', 'none', IMAGE, 'true'])).code).toBe(0)
    expect((await docker(gw.port, alice(), ['run', '-i', '--rm', '--network', 'none', IMAGE, 'cat'], { input: 'hi\n' })).stdout).toBe('hi\n')
    expect((await docker(gw.port, gw.pki.bundle('ci-runner-7'), ['images'])).code).not.toBe(0)
    expect((await rawRequest(gw.port, gw.pki.bundle('mallory'), 'GET', '/_ping').catch(() => null))?.status ?? 403).toBe(403)
    expect((await rawRequest(gw.port, alice(), 'GET', '/v1.41/containers/../images/json')).status).toBe(400)
    const lines = readFileSync(gw.auditFile, 'utf8').trimEnd().split('\n')
    const stages = new Set<string>()
    for (const line of lines) {
      const record = JSON.parse(line) as { stage: string }
      expect(validateRecord(record), JSON.stringify(validateRecord.errors)).toBe(true)
      stages.add(record.stage)
    }
    expect([...stages].sort()).toEqual(['FileOpened', 'Refused', 'RequestReceived', 'ResponseComplete', 'TLSRejected'])
  })

  it('records who did what to which object with which certificate', async () => {
    const name = `dg-${tag}-ref`
    expect((await docker(gw.port, alice(), ['run', '--rm', '--name', name, '--network', 'none', IMAGE, 'true'])).code).toBe(0)
    const create = gw.records().findLast((r) => r.request?.path === '/containers/create' && r.stage === 'ResponseComplete')
    expect(create).toMatchObject({
      objectRef: { resource: 'containers', name, subresource: 'create' },
      identity: { subject: 'CN=alice,OU=platform', serial: gw.pki.serials.get('alice'), teams: ['platform'], entry: { ref: expect.stringMatching(/policy\.yaml:3$/) as unknown, index: 0 } },
      rule: { text: '* /**', team: 'platform' }, decision: 'allow', level: 'metadata', status: 201, upstreamStatus: 201
    })
    expect(certificateOf(create)?.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    const start = gw.records().findLast((r) => r.request?.path?.endsWith('/start') === true)
    expect(start?.objectRef).toMatchObject({ resource: 'containers', subresource: 'start' })
  })

  it('links a created container and exec to the requests that later name their Ids, and the docs/audit.md recipe finds them all', async () => {
    const name = `dg-${tag}-link`
    const run = await docker(gw.port, alice(), ['run', '-d', '--name', name, '--network', 'none', IMAGE, 'sleep', '30'])
    const id = run.stdout.trim()
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect((await docker(gw.port, alice(), ['exec', name, 'true'])).code).toBe(0)
    expect((await docker(gw.port, alice(), ['rm', '-f', id.slice(0, 12)])).code).toBe(0)
    const records = gw.records()
    const create = records.findLast((r) => r.request?.path === '/containers/create' && r.stage === 'ResponseComplete')
    expect(create?.objectRef).toEqual({ resource: 'containers', name, subresource: 'create', createdId: id })
    expect(records.findLast((r) => r.request?.path === `/containers/${id}/start`)?.objectRef).toEqual({ resource: 'containers', name: id, subresource: 'start' })
    const execCreate = records.findLast((r) => r.request?.path === `/containers/${name}/exec` && r.stage === 'ResponseComplete')
    const execId = execCreate?.objectRef?.createdId ?? ''
    expect(execId).toMatch(/^[0-9a-f]{64}$/)
    expect(records.some((r) => r.objectRef?.resource === 'exec' && r.objectRef.name === execId && r.objectRef.subresource === 'start')).toBe(true)
    expect(certificateOf(create)?.verified).toBeUndefined()

    const auditDoc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'audit.md'), 'utf8')
    const recipe = /^(jq -n -c --arg name web [^]*? audit\*\.jsonl)$/m.exec(auditDoc)?.[1] ?? ''
    expect(recipe).not.toBe('')
    const found = await runShell(recipe.replace('--arg name web', `--arg name ${name}`), dirname(gw.auditFile))
    const rows = found.trimEnd().split('\n').map((l) => JSON.parse(l) as [string, string, string, string, string, string])
    const paths = new Set(rows.map((r) => `${r[4]} ${r[5]}`))
    for (const expected of ['POST /containers/create', `POST /containers/${id}/start`, `POST /containers/${name}/exec`, `POST /exec/${execId}/start`, `DELETE /containers/${id.slice(0, 12)}`]) {
      expect(paths, expected).toContain(expected)
    }
    expect(rows.every((r) => r[2] === 'CN=alice,OU=platform')).toBe(true)
    expect(rows.some((r) => r[5] === '/containers/create' && r[1] === 'ResponseComplete')).toBe(true)
  })

  it('a long-lived stream gets RequestReceived when its response starts and ResponseComplete when it ends', async () => {
    const events = spawn(process.env.DOCKGATE_TEST_DOCKER_CLI ?? 'docker', ['events'], { env: dockerEnv(gw.port, alice()) })
    const opened = (): boolean => gw.records().some((r) => r.request?.path === '/events' && r.stage === 'RequestReceived')
    await expect.poll(opened, { timeout: 10_000 }).toBe(true)
    const id = gw.records().find((r) => r.request?.path === '/events' && r.stage === 'RequestReceived')?.auditID
    expect(gw.records().some((r) => r.auditID === id && r.stage === 'ResponseComplete')).toBe(false)
    events.kill('SIGTERM')
    await expect.poll(() => gw.records().find((r) => r.auditID === id && r.stage === 'ResponseComplete'), { timeout: 10_000 })
      .toMatchObject({ status: 200, upstreamStatus: 200, aborted: true })
  })

  it('a hijacked session gets RequestReceived (101) at open and ResponseComplete with its length and bytes each way at close', async () => {
    expect((await docker(gw.port, alice(), ['run', '-i', '--rm', '--network', 'none', IMAGE, 'cat'], { input: 'twelve bytes' })).stdout).toBe('twelve bytes')
    const attach = gw.records().filter((r) => r.request?.upgrade === 'tcp').slice(-2)
    expect(attach.map((r) => r.stage)).toEqual(['RequestReceived', 'ResponseComplete'])
    expect(attach[0]?.auditID).toBe(attach[1]?.auditID)
    expect(attach[0]).toMatchObject({ status: 101 })
    expect(attach[1]).toMatchObject({ status: 101, upstreamStatus: 101, aborted: false })
    expect(attach[1]?.sessionMs).toBeGreaterThan(0)
    expect(attach[1]?.bytesIn).toBeGreaterThanOrEqual(12)
    expect(attach[1]?.bytesOut).toBeGreaterThanOrEqual(12)
  })

  it('gives the client the auditID as x-dockgate-request-id, never one the client chose', async () => {
    const res = await rawRequest(gw.port, alice(), 'GET', '/v1.41/version', { headers: { 'x-dockgate-request-id': 'mine', 'x-request-id': 'mine' } })
    const id = String(res.headers['x-dockgate-request-id'])
    expect(id).not.toBe('mine')
    expect(gw.records().filter((r) => r.auditID === id).map((r) => r.stage)).toEqual(['ResponseComplete'])
  })
})

describe.skipIf(socket === '')('a certificate subject with a newline and an ANSI escape', () => {
  let gw: TestGateway
  const CN = 'evil\nCN=root\u001b[31m'
  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => { await gw?.close() })

  it('stays one escaped JSON line per record, allowed or refused', async () => {
    const bundle = hostileBundle(gw.pki.ca, join(gw.dir, 'hostile'), CN, 'platform')
    const before = readFileSync(gw.auditFile, 'utf8').split('\n').length
    expect((await rawRequest(gw.port, bundle, 'GET', '/v1.41/version')).status).toBe(200)
    expect((await rawRequest(gw.port, bundle, 'GET', '/v1.41/containers/../json')).status).toBe(400)
    const text = readFileSync(gw.auditFile, 'utf8')
    expect(text.split('\n').length).toBe(before + 2)
    expect(text).not.toContain('\u001b')
    const records = gw.records().slice(-2)
    expect(records.map((r) => certificateOf(r)?.subject)).toEqual(['CN=evil\\0ACN\\=root\\1B[31m,OU=platform', 'CN=evil\\0ACN\\=root\\1B[31m,OU=platform'])
  })
})

describe.skipIf(socket === '')('level request', () => {
  let gw: TestGateway
  const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { cn: "ci-runner-*" }
    teams: [ci]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
    audit: request
  ci:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - { rule: "POST /containers/create", audit: request }
`
  beforeAll(async () => { gw = await startGateway({ socket, policy: POLICY }) })
  afterAll(async () => {
    await docker(gw.port, gw.pki.bundle('alice'), ['rm', '-f', `dg-${tag}-lvl1`, `dg-${tag}-lvl2`])
    await gw?.close()
  })

  it('records the judged body with environment values and secrets removed, for a restricted team and its refusals', async () => {
    const ci = gw.pki.bundle('ci-runner-7')
    expect((await docker(gw.port, ci, ['create', '--name', `dg-${tag}-lvl1`, '--network', 'none', '-e', 'DB_PASSWORD=hunter2-s3cret', IMAGE, 'true'])).code).toBe(0)
    const refused = await docker(gw.port, ci, ['create', '--privileged', '--network', 'none', '-e', 'API_TOKEN=hunter2-s3cret', IMAGE, 'true'])
    expect(refused.stderr).toContain('ci may not create a privileged container')
    const creates = gw.records().filter((r) => r.request?.path === '/containers/create')
    expect(creates.map((r) => [r.stage, r.level])).toEqual([['ResponseComplete', 'request'], ['Refused', 'request']])
    expect(creates[0]?.requestObject).toMatchObject({ Env: ['DB_PASSWORD=<redacted>'], Image: IMAGE })
    expect(creates[1]?.requestObject).toMatchObject({ Env: ['API_TOKEN=<redacted>'], HostConfig: { Privileged: true } })
    expect(readFileSync(gw.auditFile, 'utf8')).not.toContain('hunter2')
  })

  it('records the body of an unrestricted team set to request too (its judged endpoints are read to be recorded)', async () => {
    expect((await docker(gw.port, gw.pki.bundle('alice'), ['create', '--name', `dg-${tag}-lvl2`, '--network', 'none', '-e', 'TOKEN=hunter2-s3cret', IMAGE, 'true'])).code).toBe(0)
    const create = gw.records().findLast((r) => r.request?.path === '/containers/create')
    expect(create).toMatchObject({ level: 'request', identity: { teams: ['platform'] }, requestObject: { Env: ['TOKEN=<redacted>'] } })
  })

  it('never records header values: Authorization and X-Registry-Auth', async () => {
    await rawRequest(gw.port, gw.pki.bundle('alice'), 'GET', '/v1.41/version', { headers: { authorization: 'Bearer hunter2-header', 'x-registry-auth': 'hunter2-registry' } })
    expect(readFileSync(gw.auditFile, 'utf8')).not.toContain('hunter2-')
  })
})

describe.skipIf(socket === '')('a TLS scan', () => {
  let gw: TestGateway
  beforeAll(async () => {
    gw = await startGateway({ socket, rejectionLimits: { burst: 2, refillMs: 600_000, globalBurst: 100, globalRefillMs: 10, maxAddresses: 100 } })
  })

  it('writes a few TLSRejected records per address, then one Suppressed record counting the rest', async () => {
    for (let i = 0; i < 6; i++) await rawRequest(gw.port, gw.pki.bundle('mallory'), 'GET', '/_ping').catch(() => null)
    expect(gw.records().filter((r) => r.stage === 'TLSRejected')).toHaveLength(2)
    await gw.close()
    expect(gw.records().filter((r) => r.stage === 'Suppressed')).toMatchObject([
      { client: { address: '127.0.0.1' }, suppressed: { kind: 'TLSRejected', count: 4, reasons: { 'unknown-ca': 4 } } }
    ])
  })
})

describe.skipIf(socket === '')('the syslog sink', () => {
  let gw: TestGateway
  let server: net.Server
  let received = ''

  beforeAll(async () => {
    server = net.createServer((conn) => { conn.on('data', (c: Buffer) => { received += c.toString() }) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as net.AddressInfo
    gw = await startGateway({
      socket,
      audit: { sinks: { stdout: false, syslog: { host: '127.0.0.1', port, tls: false, facility: 13, appName: 'dockgate', queueRecords: 100 } } }
    })
  })
  afterAll(async () => {
    await gw?.close()
    server?.close()
  })

  it('ships every record as an RFC 5424 message whose MSG is the sealed line itself', async () => {
    const res = await rawRequest(gw.port, gw.pki.bundle('alice'), 'GET', '/v1.41/version')
    const id = String(res.headers['x-dockgate-request-id'])
    await expect.poll(() => received.includes(id), { timeout: 10_000 }).toBe(true)
    const fileLines = readFileSync(gw.auditFile, 'utf8').trimEnd().split('\n')
    const messages = received.trimEnd().split('\n')
    expect(messages).toHaveLength(fileLines.length)
    const header = /^<110>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ dockgate \d+ (\S+) - (.*)$/
    messages.forEach((message, i) => {
      const match = header.exec(message)
      expect(match, message).not.toBeNull()
      expect(match?.[2]).toBe(fileLines[i])
      expect(match?.[1]).toBe((JSON.parse(fileLines[i] ?? '{}') as { auditID: string }).auditID)
    })
  })
})

describe('the test policy', () => {
  it('is the one the gateway tests run under', () => {
    expect(TEST_POLICY).toContain('identities:')
  })
})
