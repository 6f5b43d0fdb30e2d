/**
 * Security regression: names dockerd reads across path segments. dockerd
 * routes `DELETE /containers/{name:.*}` and `GET|DELETE /networks/{id:.*}`,
 * so `/containers/web/db` names ONE container, `web/db` (the legacy link
 * alias web's link `db` creates: another container), and `/networks/a/b`
 * the network named `a/b`, while rules and team isolation see two
 * segments. Each attack is sent as raw bytes over mTLS and the daemon is
 * asked directly afterwards whether the victim is still there.
 *
 * These were real bypasses before the canonical form took the method into
 * account: one team removed another team's container through that team's
 * own link alias, and read and removed its network named with a slash.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { containerExists, containerNames, daemonRequest, removeContainers, TEST_IMAGE } from '../support/daemon.js'
import { jsonRequest, request, wire, type WireResponse } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-span-${process.pid}`
const POLICY = `version: 1
defaults: { ownership: true }
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: alpha }
    teams: [alpha]
  - match: { ou: beta }
    teams: [beta]
  - match: { ou: guarded }
    teams: [guarded]
teams:
  platform:
    ownership: false
    allow: ["* /**"]
  alpha:
    allow: ["* /**"]
  beta:
    allow: ["* /**"]
  guarded:
    ownership: false
    allow: ["* /**"]
    deny: ["DELETE /containers/{id}", "DELETE /networks/{id}", "GET /networks/{id}"]
`
const CLIENTS = [{ name: 'admin', ous: ['platform'] }, { name: 'alpha', ous: ['alpha'] }, { name: 'beta', ous: ['beta'] }, { name: 'guard', ous: ['guarded'] }]

describe.skipIf(socket === '')('names dockerd reads across segments (link aliases, networks named with a slash)', () => {
  let gw: TestGateway
  const send = async (who: string, bytes: string): Promise<WireResponse> => {
    const result = await wire(gw.port, gw.pki.bundle(who), bytes, { responses: 1 })
    const answer = result.responses[0]
    if (answer === undefined) throw new Error(`no answer to ${bytes.split('\r\n')[0] ?? ''}: ${result.raw}`)
    return answer
  }
  const refusedAsSpan = (answer: WireResponse, noun: string, path: string): void => {
    expect(answer.status).toBe(400)
    expect(answer.message).toBe(`dockgate: request target is not canonical: ${noun} name with a slash in ${path} ` +
      `(dockerd would read one name where rules see several segments); address the ${noun} by its own name or ID`)
    expect(gw.records().find((r) => r.auditID === answer.headers['x-dockgate-request-id']?.[0])).toMatchObject({ stage: 'Refused', code: 'DG_NON_CANONICAL', request: { path: null } })
  }
  /** beta's victim and beta's container `web` whose link `db` names it: the alias `web/db` is the victim. */
  const linked = async (what: string): Promise<{ victim: string; web: string }> => {
    const victim = `${tag}-${what}-db`
    const web = `${tag}-${what}-web`
    for (const [name, links] of [[victim, []], [web, [`${victim}:db`]]] as const) {
      const created = await send('beta', jsonRequest('POST', `/v1.41/containers/create?name=${name}`, { Image: TEST_IMAGE, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none', Links: links } }))
      expect(created.status).toBe(201)
    }
    // Straight to the daemon: the alias really is the victim, which the attacks below would remove.
    const direct = await daemonRequest(socket, 'GET', `/v1.41/containers/${web}/db/json`)
    expect(direct.status).toBe(200)
    expect((JSON.parse(direct.body) as { Name: string }).Name).toBe(`/${victim}`)
    return { victim, web }
  }

  /** The links container `name` holds, as the daemon reports them. */
  const linksOf = async (name: string): Promise<string[]> => {
    const inspect = await daemonRequest(socket, 'GET', `/v1.41/containers/${name}/json`)
    return (JSON.parse(inspect.body) as { HostConfig: { Links: string[] | null } }).HostConfig.Links ?? []
  }

  beforeAll(async () => { gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS }) })
  afterAll(async () => {
    // Link aliases (web/db) are names too; removing the containers removes them.
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag) && !n.includes('/')))
    for (const name of ['beta', 'guard']) await daemonRequest(socket, 'DELETE', `/networks/${tag}-${name}/net`)
    await gw?.close()
  })

  it('removing another team\'s container through that team\'s own link alias (DELETE /containers/web/db)', async () => {
    const { victim, web } = await linked('iso')
    // Isolation hides the victim from alpha by its own name...
    expect((await send('alpha', request('DELETE', `/v1.41/containers/${victim}?force=1`))).status).toBe(404)
    // ...and the alias must not reach it either.
    refusedAsSpan(await send('alpha', request('DELETE', `/v1.41/containers/${web}/db?force=1`)), 'container', `/containers/${web}/db`)
    refusedAsSpan(await send('alpha', request('DELETE', `/containers/${web}/db?force=1&link=0`)), 'container', `/containers/${web}/db`)
    // A link removal (link=1) acts on the parent found by name, which no owner check can pin: refused for ownership teams.
    const linkRemoval = await send('alpha', request('DELETE', `/containers/${web}/db?force=1&link=1`))
    expect(linkRemoval.status).toBe(403)
    expect(linkRemoval.message).toContain(`dockgate: removing the legacy link ${web}/db is not available to an ownership team`)
    expect(gw.records().find((r) => r.auditID === linkRemoval.headers['x-dockgate-request-id']?.[0])).toMatchObject({ stage: 'Refused', code: 'DG_OWNER_CONFLICT' })
    expect(await containerExists(socket, victim)).toBe(true)
    expect(await linksOf(web)).toEqual([`/${victim}:/${web}/db`])
  })

  it('removing a container through a link alias past a team\'s deny DELETE /containers/{id}', async () => {
    const { victim, web } = await linked('deny')
    expect((await send('guard', request('DELETE', `/v1.41/containers/${victim}?force=1`))).message).toBe(`dockgate: guarded may not DELETE /containers/${victim}`)
    refusedAsSpan(await send('guard', request('DELETE', `/v1.41/containers/${web}/db?force=1`)), 'container', `/containers/${web}/db`)
    expect(await containerExists(socket, victim)).toBe(true)
    // The same path with an action after it was already refused (POST /containers/web/db/stop).
    refusedAsSpan(await send('guard', request('POST', `/v1.41/containers/${web}/db/stop`)), 'container', `/containers/${web}/db/stop`)
    // With link=1 (docker rm --link) the daemon removes the alias only, whatever force says: the victim stays.
    expect((await send('guard', request('DELETE', `/v1.41/containers/${web}/db?v=False&link=True&force=True`))).status).toBe(204)
    expect(await containerExists(socket, victim)).toBe(true)
    expect(await linksOf(web)).toEqual([])
  })

  it('reading and removing another team\'s network named with a slash (GET|DELETE /networks/a/b)', async () => {
    const network = `${tag}-beta/net`
    expect((await send('beta', jsonRequest('POST', '/v1.41/networks/create', { Name: network, Internal: true }))).status).toBe(201)
    expect((await daemonRequest(socket, 'GET', `/v1.41/networks/${network}`)).status).toBe(200)
    for (const method of ['GET', 'DELETE']) {
      const answer = await send('alpha', request(method, `/v1.41/networks/${network}`))
      refusedAsSpan(answer, 'network', `/networks/${network}`)
      expect(answer.body).not.toContain('"Driver"')
    }
    expect((await daemonRequest(socket, 'GET', `/v1.41/networks/${network}`)).status).toBe(200)
  })

  it('reading and removing a network named with a slash past a team\'s deny rules', async () => {
    const network = `${tag}-guard/net`
    expect((await send('admin', jsonRequest('POST', '/v1.41/networks/create', { Name: network, Internal: true }))).status).toBe(201)
    for (const method of ['GET', 'DELETE']) refusedAsSpan(await send('guard', request(method, `/networks/${network}`)), 'network', `/networks/${network}`)
    expect((await daemonRequest(socket, 'GET', `/networks/${network}`)).status).toBe(200)
  })

  it('still serves what those routes mean with one segment, and the actions of a named container', async () => {
    const { victim } = await linked('ok')
    expect((await send('beta', request('POST', `/v1.41/containers/${victim}/start`))).status).toBe(204)
    expect((await send('beta', request('DELETE', `/v1.41/containers/${victim}?force=1`))).status).toBe(204)
    expect(await containerExists(socket, victim)).toBe(false)
    expect((await send('admin', request('GET', '/v1.41/networks/none'))).status).toBe(200)
  })
})
