/**
 * Security regression: what the audit trail states as fact. The request id
 * and the client address are dockgate's own, whatever the client claims
 * in headers (a forged x-dockgate-request-id, X-Forwarded-For, Forwarded,
 * X-Real-IP); and no secret reaches the trail: not headers (X-Registry-Auth,
 * Authorization, X-Registry-Config, cookies), not environment values of a
 * create body at level metadata (no body is recorded) nor at level request
 * (redacted), and not credentials in a query (a build remote's password,
 * build args), allowed or refused. Raw bytes over mTLS; the whole trail
 * file is searched for each secret, since a copy anywhere is a leak.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { containerNames, removeContainers, TEST_IMAGE } from '../support/daemon.js'
import { jsonRequest, request, wire, type WireResult } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-audit-${process.pid}`
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ci }
    teams: [ci]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - { rule: "POST /containers/create", audit: request }
`
const CLIENTS = [{ name: 'alice', ous: ['platform'] }, { name: 'ci-runner', ous: ['ci'] }]
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const SPOOFED = '203.0.113.66'
const FORGED_ID = `forged-${process.pid}`
const CLAIMS = [
  `x-dockgate-request-id: ${FORGED_ID}`, `X-Forwarded-For: ${SPOOFED}, 10.0.0.1`, `Forwarded: for=${SPOOFED};proto=https;by=${SPOOFED}`,
  `X-Real-IP: ${SPOOFED}`, `X-Client-IP: ${SPOOFED}`, `True-Client-IP: ${SPOOFED}`, `X-Forwarded-Host: ${SPOOFED}`
]
const base64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64')
const SECRET_HEADERS = [
  `X-Registry-Auth: ${base64({ username: 'u', password: 'hunter2-registry-auth' })}`,
  'Authorization: Bearer hunter2-bearer',
  `X-Registry-Config: ${base64({ 'registry.example.com': { username: 'u', password: 'hunter2-registry-config' } })}`,
  'Proxy-Authorization: Basic aHVudGVyMi1wcm94eQ==',
  'Cookie: session=hunter2-cookie'
]

describe.skipIf(socket === '')('the audit trail: facts are dockgate\'s own, secrets stay out', () => {
  let gw: TestGateway
  let made = 0
  const fresh = (): string => `${tag}-${++made}`
  const trail = (): string => readFileSync(gw.auditFile, 'utf8')
  const idOf = (result: WireResult, i = 0): string | undefined => result.responses[i]?.headers['x-dockgate-request-id']?.[0]
  const recordsOf = (result: WireResult, i = 0): ReturnType<TestGateway['records']> => gw.records().filter((r) => r.auditID === idOf(result, i))

  beforeAll(async () => { gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS }) })
  afterAll(async () => {
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag)))
    await gw?.close()
  })

  describe('client-supplied claims never become facts', () => {
    const cases: Array<[string, string, string]> = [
      ['an allowed request', 'alice', request('GET', '/v1.41/version', { headers: CLAIMS })],
      ['a request the policy refuses', 'ci-runner', request('GET', '/v1.41/info', { headers: CLAIMS })],
      ['a non-canonical target', 'alice', request('GET', '/v1.41/containers/../info', { headers: CLAIMS })],
      ['a refused upgrade', 'ci-runner', request('POST', '/v1.41/containers/x/attach?stream=1', { headers: [...CLAIMS, 'Connection: Upgrade', 'Upgrade: tcp', 'Content-Length: 0'] })],
      ['malformed framing after the claims', 'alice', request('POST', '/v1.41/containers/x/kill', { headers: [...CLAIMS, 'Content-Length: 1', 'Content-Length: 2'], body: 'xx' })]
    ]
    for (const [what, who, bytes] of cases) {
      it(`${what}: the auditID and client address are dockgate's, in the record and in the answer`, async () => {
        const result = await wire(gw.port, gw.pki.bundle(who), bytes, { responses: 1 })
        expect(result.responses[0]?.headers['x-dockgate-request-id']).toHaveLength(1)
        expect(idOf(result)).toMatch(UUID)
        const records = recordsOf(result)
        expect(records.length).toBeGreaterThan(0)
        for (const record of records) expect(record.client).toEqual({ address: '127.0.0.1', port: result.localPort })
        expect(gw.records().some((r) => r.auditID === FORGED_ID)).toBe(false)
        expect(trail()).not.toContain(FORGED_ID)
        expect(trail()).not.toContain(SPOOFED)
      })
    }
  })

  describe('secrets never reach the trail', () => {
    it('header credentials (X-Registry-Auth, Authorization, X-Registry-Config, Proxy-Authorization, cookies), allowed, refused and malformed', async () => {
      for (const [who, bytes] of [
        ['alice', request('GET', '/v1.41/version', { headers: SECRET_HEADERS })],
        ['ci-runner', request('POST', '/v1.41/images/create?fromImage=busybox', { headers: SECRET_HEADERS })],
        ['alice', request('GET', '/v1.41/containers/%2e%2e/info', { headers: SECRET_HEADERS })]
      ] as const) {
        const result = await wire(gw.port, gw.pki.bundle(who), bytes, { responses: 1 })
        expect(recordsOf(result).length).toBeGreaterThan(0)
      }
      expect(trail()).not.toMatch(/hunter2/)
      expect(trail()).not.toContain(SECRET_HEADERS[0]?.slice('X-Registry-Auth: '.length))
    })

    const createBody = (env: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      Image: TEST_IMAGE, Cmd: ['sh', '-c', 'true --password hunter2-cmd-flag'], Env: [`DB_PASSWORD=${env}`, `PLAIN=${env}-plain`],
      Labels: { api_token: 'hunter2-label', app: 'web' }, HostConfig: { NetworkMode: 'none' }, ...extra
    })

    it('environment values of a create body at level metadata: no body is recorded at all', async () => {
      const result = await wire(gw.port, gw.pki.bundle('alice'), jsonRequest('POST', `/v1.41/containers/create?name=${fresh()}`, createBody('hunter2-env-metadata')), { responses: 1 })
      expect(result.responses[0]?.status).toBe(201)
      expect(recordsOf(result)).toMatchObject([{ stage: 'ResponseComplete', level: 'metadata' }])
      expect(recordsOf(result)[0]?.requestObject).toBeUndefined()
      expect(trail()).not.toMatch(/hunter2/)
    })

    it('environment values and other secrets of a create body at level request: recorded redacted, allowed and refused', async () => {
      const allowed = await wire(gw.port, gw.pki.bundle('ci-runner'), jsonRequest('POST', `/v1.41/containers/create?name=${fresh()}`, createBody('hunter2-env-request')), { responses: 1 })
      const refused = await wire(gw.port, gw.pki.bundle('ci-runner'), jsonRequest('POST', `/v1.41/containers/create?name=${fresh()}`,
        createBody('hunter2-env-refused', { HostConfig: { NetworkMode: 'none', Privileged: true } })), { responses: 1 })
      expect([allowed.responses[0]?.status, refused.responses[0]?.status]).toEqual([201, 403])
      const redacted = {
        Env: ['DB_PASSWORD=<redacted>', 'PLAIN=<redacted>'], Cmd: ['sh', '-c', 'true --password <redacted>'], Labels: { api_token: '<redacted>', app: 'web' }
      }
      expect(recordsOf(allowed)).toMatchObject([{ stage: 'ResponseComplete', level: 'request', requestObject: redacted }])
      expect(recordsOf(refused)).toMatchObject([{ stage: 'Refused', level: 'request', code: 'DG_BODY_DENIED', requestObject: redacted }])
      expect(trail()).not.toMatch(/hunter2/)
    })

    it('credentials in a query: a build remote\'s password and build args, as the docker CLI sends them, allowed and refused', async () => {
      const query = `remote=${encodeURIComponent('https://ci:hunter2-remote@127.0.0.1:1/org/repo.git')}&buildargs=${encodeURIComponent(JSON.stringify({ NPM_TOKEN: 'hunter2-buildarg' }))}&t=app`
      const recorded = `/v1.41/build?remote=https%3A%2F%2Fci%3A<redacted>%40127.0.0.1%3A1%2Forg%2Frepo.git&buildargs=${encodeURIComponent('{"NPM_TOKEN":"')}<redacted>%22%7D&t=app`
      for (const who of ['alice', 'ci-runner']) {
        const result = await wire(gw.port, gw.pki.bundle(who), request('POST', `/v1.41/build?${query}`, { body: '' }), { responses: 1, timeoutMs: 30_000 })
        expect(result.responses[0]?.status).toBe(who === 'alice' ? 500 : 403)
        expect(recordsOf(result).map((r) => r.request?.target)).toEqual([recorded])
      }
      expect(trail()).not.toMatch(/hunter2/)
    })
  })
})
