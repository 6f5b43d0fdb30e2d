/**
 * Security regression: request targets and methods. Every Docker socket
 * proxy has been bypassed through a target it read differently from
 * dockerd: `%31` in the version prefix (Tecnativa), rules without anchors,
 * a path cleaned for matching but forwarded as sent (cetusguard). Each
 * form is sent as raw bytes over mTLS by a team that may NOT read a
 * container's logs or rename it; the attack reads the logs (the forbidden
 * data must not come back) or renames the container (the daemon is asked
 * afterwards that it did not happen). Where dockerd itself acts on a form,
 * the test shows that too, by asking the daemon directly.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { containerExists, containerNames, daemonRequest, removeContainers, startContainer, waitUntil } from '../support/daemon.js'
import { rawRequest } from '../support/clients.js'
import { request, wire, type WireResponse } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-path-${process.pid}`
const target = `${tag}-target`
const SECRET = `SECRET-${process.pid}-in-the-logs`
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: readonly }
    teams: [viewer]
teams:
  platform:
    allow: ["* /**"]
  viewer:
    allow: ["GET,HEAD /_ping", "GET /version", "GET /containers/json", "GET /containers/{id}/json"]
`
const CLIENTS = [{ name: 'alice', ous: ['platform'] }, { name: 'viewer', ous: ['readonly'] }]
const T = target
const LOGS = `/containers/${T}/logs?stdout=1`

/**
 * A non-canonical form of `/v1.41/containers/T/ACTION?QUERY`: its name, the target made from an action
 * and a query (`logs`, `stdout=1` reads the logs; `rename`, `name=NEW` renames), why it is refused, and
 * whether dockerd serves the logs for it when asked directly. A string stands for a target with no action.
 */
type Form = readonly [what: string, raw: string | ((action: string, query: string) => string), reason: string | ((action: string) => string), daemonServesIt: boolean]

const READS: readonly Form[] = [
  ['percent-encoded letters (%6c = l)', (a, q) => `/v1.41/containers/${T}/%${a.charCodeAt(0).toString(16)}${a.slice(1)}?${q}`, (a) => `percent-encoding (%) in path: %${a.charCodeAt(0).toString(16)} is '${a[0] ?? ''}', which needs no encoding; send it as it is`, true],
  ['encoded slashes (%2F), which Go decodes into separators', (a, q) => `/v1.41/containers%2F${T}%2F${a}?${q}`, "percent-encoding (%) in path: %2F is '/', which no name may hold", true],
  ['a version prefix with an encoded digit (/v%31.41, Tecnativa #1)', (a, q) => `/v%31.41/containers/${T}/${a}?${q}`, "percent-encoding (%) in path: %31 is '1', which needs no encoding; send it as it is", true],
  ['an encoded dot-dot segment (%2e%2e)', (a, q) => `/v1.41/containers/x/%2e%2e/${T}/${a}?${q}`, "percent-encoding (%) in path: %2e is '.', which needs no encoding; send it as it is", false],
  ['an encoded dot segment (%2e)', (a, q) => `/v1.41/containers/${T}/%2e/${a}?${q}`, "percent-encoding (%) in path: %2e is '.', which needs no encoding; send it as it is", false],
  ['an encoded NUL (%00)', (a, q) => `/v1.41/containers/${T}%00/${a}?${q}`, 'percent-encoding (%) in path: %00, which no name may hold', false],
  ['a dot-dot segment', (a, q) => `/v1.41/containers/x/../${T}/${a}?${q}`, "dot segment '..' in path", false],
  ['a dot segment', (a, q) => `/v1.41/containers/${T}/./${a}?${q}`, "dot segment '.' in path", false],
  ['a doubled slash', (a, q) => `/v1.41/containers//${T}/${a}?${q}`, 'doubled slash in path', false],
  ['a leading doubled slash', (a, q) => `//v1.41/containers/${T}/${a}?${q}`, 'doubled slash in path', false],
  ['a trailing slash', (a, q) => `/v1.41/containers/${T}/${a}/?${q}`, 'trailing slash in path', false],
  ['backslashes', (a, q) => `/v1.41/containers\\${T}\\${a}?${q}`, 'backslash in path', false],
  ['a ; parameter', (a, q) => `/v1.41/containers/${T}/${a};x=1?${q}`, 'semicolon in path', false],
  ['an absolute-form target (Go routes by its path)', (a, q) => `http://docker/v1.41/containers/${T}/${a}?${q}`, 'absolute-form target (a full URL); send only the path', true],
  ['an absolute-form target without a version', (a, q) => `https://docker:2376/containers/${T}/${a}?${q}`, 'absolute-form target (a full URL); send only the path', true],
  ['a fragment after the query (Go keeps it in the query and serves the logs)', (a, q) => `/v1.41/containers/${T}/${a}?${q}#x`, 'fragment (#) in request target', true],
  ['a loose version prefix (/v1)', (a, q) => `/v1/containers/${T}/${a}?${q}`, "malformed API version prefix 'v1'", false],
  ['a three-part version prefix (/v1.41.0, which dockerd accepts)', (a, q) => `/v1.41.0/containers/${T}/${a}?${q}`, "malformed API version prefix 'v1.41.0'", true],
  ['a doubled version prefix', (a, q) => `/v1.41/v1.41/containers/${T}/${a}?${q}`, 'doubled API version prefix', false],
  ['a container name spanning segments', (a, q) => `/v1.41/containers/${T}/x/${a}?${q}`,
    `container name with a slash in /containers/${T}/x/logs (dockerd would read one name where rules see several segments); address the container by its own name or ID`, false],
  ['a version prefix alone', '/v1.41', 'API version prefix with no path after it', false],
  ['the asterisk form', '*', 'asterisk-form target (*) is not an API path', false]
]

describe.skipIf(socket === '')('request targets and methods', () => {
  let gw: TestGateway
  let renames = 0
  const send = async (who: string, bytes: string | string[], responses = 1): Promise<{ answers: readonly WireResponse[]; closed: boolean }> => {
    const result = await wire(gw.port, gw.pki.bundle(who), bytes, { responses })
    return { answers: result.responses, closed: result.closedByServer }
  }
  const recordOf = (answer: WireResponse | undefined): ReturnType<TestGateway['records']>[number] | undefined =>
    gw.records().find((r) => r.auditID === answer?.headers['x-dockgate-request-id']?.[0])
  const refusedNonCanonical = (answer: WireResponse | undefined, raw: string, reason: string): void => {
    expect(answer?.status).toBe(400)
    expect(answer?.message).toBe(`dockgate: request target is not canonical: ${reason}`)
    expect(recordOf(answer)).toMatchObject({ stage: 'Refused', code: 'DG_NON_CANONICAL', request: { target: raw, path: null } })
  }
  const stillNamed = async (to: string): Promise<void> => {
    expect(await containerExists(socket, to)).toBe(false)
    expect(await containerExists(socket, target)).toBe(true)
  }

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS })
    await startContainer(socket, target, ['sh', '-c', `echo ${SECRET}; exec sleep 3600`])
    // The marker is in the logs before any test reads them.
    await waitUntil(async () => (await daemonRequest(socket, 'GET', `/v1.41${LOGS}`)).body.includes(SECRET), 10_000, 'the marker in the logs')
  })
  afterAll(async () => {
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag)))
    await gw?.close()
  })

  it('(control) the viewer may not read the logs in the canonical form, and the daemon serves them to anyone on its socket', async () => {
    const { answers } = await send('viewer', request('GET', `/v1.41${LOGS}`))
    expect(answers[0]?.message).toBe(`dockgate: viewer may not GET /containers/${T}/logs`)
    expect((await daemonRequest(socket, 'GET', `/v1.41${LOGS}`)).body).toContain(SECRET)
  })

  for (const [what, form, reason, daemonServesIt] of READS) {
    const raw = typeof form === 'string' ? form : form('logs', 'stdout=1')
    it(`refuses ${what}: 400, nothing read${daemonServesIt ? ' (dockerd itself would serve the logs)' : ''}`, async () => {
      const { answers } = await send('viewer', request('GET', raw))
      refusedNonCanonical(answers[0], raw, typeof reason === 'function' ? reason('logs') : reason)
      expect(answers[0]?.body).not.toContain(SECRET)
      expect((await daemonRequest(socket, 'GET', raw)).body.includes(SECRET)).toBe(daemonServesIt)
    })
    if (typeof form !== 'string') {
      it(`refuses ${what} on a rename, even for the team allowed everything: nothing renamed`, async () => {
        const to = `${tag}-renamed-${++renames}`
        const rename = form('rename', `name=${to}`)
        const { answers } = await send('alice', request('POST', rename))
        refusedNonCanonical(answers[0], rename, typeof reason === 'function' ? reason('rename') : reason.replace('/logs', '/rename'))
        await stillNamed(to)
      })
    }
  }

  it('refuses a path longer than limits.headerBytes with 431, not truncated and forwarded', async () => {
    const raw = `/v1.41/containers/${T}${'/a'.repeat(20_000)}/logs?stdout=1`
    // Reads on (for a second answer that never comes) until the gateway closes.
    const { answers, closed } = await send('viewer', request('GET', raw), 2)
    expect(answers[0]).toMatchObject({ status: 431, message: 'dockgate: request headers are too large' })
    expect(answers[0]?.body).not.toContain(SECRET)
    expect(closed).toBe(true)
    expect(recordOf(answers[0])).toMatchObject({ stage: 'Refused', code: 'DG_HEADERS_TOO_LARGE', status: 431 })
  })

  it('a long but acceptable path is judged whole and forwarded whole: the rules see all of it, and so does dockerd', async () => {
    const name = 'n'.repeat(20_000)
    const refused = await send('viewer', request('GET', `/v1.41/containers/${name}/logs?stdout=1`))
    expect(refused.answers[0]?.message).toBe(`dockgate: viewer may not GET /containers/${name}/logs`)
    const allowed = await send('viewer', request('GET', `/v1.41/containers/${name}/json`))
    expect(allowed.answers[0]).toMatchObject({ status: 404, message: `No such container: ${name}` })
  })

  describe('case variants: dockerd routes case-sensitively, and so do the rules', () => {
    const variants: Array<[string, string]> = [
      [`/v1.41/Containers/${T}/logs?stdout=1`, `/Containers/${T}/logs`],
      [`/v1.41/containers/${T}/LOGS?stdout=1`, `/containers/${T}/LOGS`],
      [`/V1.41/containers/${T}/logs?stdout=1`, `/V1.41/containers/${T}/logs`],
      ['/v1.41/Containers/json', '/Containers/json'],
      // Not a version prefix for dockerd either (its versions are [0-9.]+): a path rules never allow.
      [`/v1.41a/containers/${T}/logs?stdout=1`, `/v1.41a/containers/${T}/logs`]
    ]
    for (const [raw, path] of variants) {
      it(`${raw}: the viewer is refused by its rules; the team allowed everything gets dockerd's 404`, async () => {
        const viewer = await send('viewer', request('GET', raw))
        expect(viewer.answers[0]?.message).toBe(`dockgate: viewer may not GET ${path}`)
        const alice = await send('alice', request('GET', raw))
        expect(alice.answers[0]).toMatchObject({ status: 404, message: 'page not found' })
        expect(recordOf(alice.answers[0])).toMatchObject({ stage: 'ResponseComplete', decision: 'allow', upstreamStatus: 404, request: { path } })
        for (const answer of [viewer.answers[0], alice.answers[0]]) expect(answer?.body).not.toMatch(new RegExp(`${SECRET}|"Names"`))
      })
    }
  })

  it('a version dockerd does not serve (/v99.0) is forwarded as judged and answered by dockerd: nothing read', async () => {
    const { answers } = await send('alice', request('GET', `/v99.0${LOGS}`))
    expect(answers[0]).toMatchObject({ status: 400, message: 'client version 99.0 is too new. Maximum supported API version is 1.41' })
    expect(answers[0]?.body).not.toContain(SECRET)
    expect(recordOf(answers[0])).toMatchObject({ request: { path: `/containers/${T}/logs`, apiVersion: '99.0' }, upstreamStatus: 400 })
  })

  it('(control) with no prefix and with /v1.41 the viewer gets what it may read and nothing else', async () => {
    for (const prefix of ['', '/v1.41']) {
      const { answers } = await send('viewer', [request('GET', `${prefix}/containers/json`), request('GET', `${prefix}${LOGS}`)], 2)
      expect(answers.map((a) => a.status)).toEqual([200, 403])
      expect(answers[0]?.body).toContain(`/${T}`)
      expect(answers[1]?.body).not.toContain(SECRET)
    }
  })

  describe('methods', () => {
    it('HEAD where a team is allowed GET only: refused, GET does not imply HEAD', async () => {
      const answer = await rawRequest(gw.port, gw.pki.bundle('viewer'), 'HEAD', `/v1.41/containers/${T}/json`)
      expect([answer.status, answer.body]).toEqual([403, ''])
      expect(gw.records().find((r) => r.auditID === answer.headers['x-dockgate-request-id'])).toMatchObject({ stage: 'Refused', code: 'DG_DENIED', reason: `dockgate: viewer may not HEAD /containers/${T}/json`, request: { method: 'HEAD' } })
    })

    const malformed: Array<[string, string]> = [['lower-case post', 'post'], ['an unknown method FOO', 'FOO'], ['Post in mixed case', 'Post']]
    for (const [what, method] of malformed) {
      it(`${what}: 400 from the HTTP parser, nothing renamed, the connection closed`, async () => {
        const to = `${tag}-renamed-${++renames}`
        const { answers, closed } = await send('alice', [request(method, `/v1.41/containers/${T}/rename?name=${to}`), request('GET', '/v1.41/_ping')], 2)
        expect(answers).toHaveLength(1)
        expect(answers[0]).toMatchObject({ status: 400, message: 'dockgate: malformed HTTP request (HPE_INVALID_METHOD)' })
        expect(recordOf(answers[0])).toMatchObject({ code: 'DG_BAD_REQUEST', status: 400 })
        expect(closed).toBe(true)
        await stillNamed(to)
      })
    }

    it('a method the HTTP parser knows but Docker does not (PROPFIND, PURGE) is no method of * in the rules', async () => {
      for (const method of ['PROPFIND', 'PURGE', 'MKCOL']) {
        const { answers } = await send('alice', request(method, `/v1.41/containers/${T}/rename?name=${tag}-x`))
        expect(answers[0]).toMatchObject({ status: 403, message: `dockgate: platform may not ${method} /containers/${T}/rename` })
      }
      await stillNamed(`${tag}-x`)
    })

    it('a method override header is not a method: X-HTTP-Method-Override: DELETE is judged and served as the GET it is', async () => {
      const { answers } = await send('viewer', request('GET', `/v1.41/containers/${T}/json`, { headers: ['X-HTTP-Method-Override: DELETE', 'X-Method-Override: DELETE'] }))
      expect(answers[0]?.status).toBe(200)
      expect(await containerExists(socket, target)).toBe(true)
    })
  })
})
