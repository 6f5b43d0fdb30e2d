/**
 * Each team is refused, with a message the docker CLI prints, wherever its
 * policy says no; certificates that match no identity are refused; targets
 * that are not canonical never reach the daemon. Real daemon, real CLI.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, rawExchange, rawRequest } from '../support/clients.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)

describe.skipIf(socket === '')('refusals through the docker CLI', () => {
  let gw: TestGateway
  const as = async (client: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    await docker(gw.port, gw.pki.bundle(client), args)

  beforeAll(async () => {
    gw = await startGateway({ socket })
    const made = await as('alice', ['run', '-d', '--name', `dg-${tag}-target`, '--network', 'none', IMAGE, 'sleep', '600'])
    expect(made.code).toBe(0)
  })
  afterAll(async () => {
    await as('alice', ['rm', '-f', `dg-${tag}-target`])
    await gw?.close()
  })

  it('ci may list containers and read the version', async () => {
    const ps = await as('ci-runner-7', ['ps', '--format', '{{.Names}}'])
    expect(ps.code).toBe(0)
    expect(ps.stdout).toContain(`dg-${tag}-target`)
  })

  it('ci is refused docker exec by its deny rule, and the CLI prints why', async () => {
    // The CLI inspects the container first; ci may not, so the refusal names that request.
    const result = await as('ci-runner-7', ['exec', `dg-${tag}-target`, 'id'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(`Error response from daemon: dockgate: ci may not GET /containers/dg-${tag}-target/json`)
  })

  it('ci is refused the exec endpoint itself by the deny rule, recorded with that rule', async () => {
    const res = await rawRequest(gw.port, gw.pki.bundle('ci-runner-7'), 'POST', `/v1.41/containers/dg-${tag}-target/exec`, {
      headers: { 'content-type': 'application/json' }, body: '{"Cmd":["id"]}'
    })
    expect(res.status).toBe(403)
    expect(res.headers['content-type']).toBe('application/json')
    expect(JSON.parse(res.body)).toEqual({ message: `dockgate: ci may not POST /containers/dg-${tag}-target/exec` })
    const record = gw.records().find((r) => r.auditID === res.headers['x-dockgate-request-id'])
    expect(record).toMatchObject({ stage: 'Refused', decision: 'deny', code: 'DG_DENIED', rule: { text: 'POST /containers/{id}/exec', team: 'ci' } })
  })

  it('ci is refused docker run (no create rule): default deny, with the reason', async () => {
    const result = await as('ci-runner-7', ['run', '--rm', '--network', 'none', IMAGE, 'true'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('dockgate: ci may not POST /containers/create')
  })

  it('readonly may inspect but not remove', async () => {
    expect((await as('viewer', ['inspect', '--format', '{{.State.Running}}', `dg-${tag}-target`])).stdout).toBe('true\n')
    const rm = await as('viewer', ['rm', '-f', `dg-${tag}-target`])
    expect(rm.stderr).toContain(`dockgate: readonly may not DELETE /containers/dg-${tag}-target`)
  })

  it('a verified certificate that matches no identity is refused with 403', async () => {
    const result = await as('stranger', ['ps'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('dockgate: certificate CN=stranger,OU=nobody matches no identity in the policy')
  })

  it('a refused hijack (attach) gets the 403 and nothing is relayed after it', async () => {
    const bytes = `POST /v1.41/containers/dg-${tag}-target/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n` +
      'Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\necho smuggled\n'
    const answer = await rawExchange(gw.port, gw.pki.bundle('viewer'), bytes)
    expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
    expect(answer).toContain(`dockgate: readonly may not POST /containers/dg-${tag}-target/attach`)
    expect(answer.split('HTTP/1.1').length).toBe(2)
  })

  it('websocket attach passes the same decision: 101 from the daemon for platform, 403 for readonly', async () => {
    const handshake = `GET /v1.41/containers/dg-${tag}-target/attach/ws?stream=1&stdout=1 HTTP/1.1\r\nHost: docker\r\n` +
      'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
    const granted = await rawExchange(gw.port, gw.pki.bundle('alice'), handshake, 1500)
    expect(granted).toMatch(/^HTTP\/1\.1 101 /)
    expect(granted).toContain('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
    const refused = await rawExchange(gw.port, gw.pki.bundle('viewer'), handshake)
    expect(refused).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/)
    expect(refused).toContain(`dockgate: readonly may not GET /containers/dg-${tag}-target/attach/ws`)
  })

  it('an upgrade the daemon does not grant (no such container) is relayed as that answer and closed', async () => {
    const bytes = 'POST /v1.41/containers/no-such-container-xyz/attach?stream=1&stdout=1 HTTP/1.1\r\n' +
      'Host: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n'
    const answer = await rawExchange(gw.port, gw.pki.bundle('alice'), bytes)
    expect(answer).toMatch(/^HTTP\/1\.1 404 /)
    expect(answer).toContain('No such container')
  })
})

describe.skipIf(socket === '')('non-canonical targets are refused with 400 and never forwarded', () => {
  let gw: TestGateway
  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => { await gw?.close() })

  const attacks: Array<[string, string]> = [
    ['percent-encoded path (Tecnativa %31 bypass class)', '/v1.41/containers/%6a%73%6f%6e'],
    ['encoded slash', '/v1.41/containers%2Fjson'],
    ['dot-dot traversal', '/v1.41/containers/x/../../exec'],
    ['doubled slash', '/v1.41/containers//json'],
    ['loose version prefix dockerd would accept', '/v1/containers/json'],
    ['double version prefix', '/v1.41/v1.40/containers/json'],
    ['semicolon parameter', '/v1.41/containers/json;x=1'],
    ['backslash', '/v1.41/containers\\json'],
    ['absolute-form target', 'http://docker/v1.41/containers/json'],
    ['trailing slash', '/v1.41/containers/json/']
  ]
  for (const [name, target] of attacks) {
    it(`refuses ${name}: ${target}`, async () => {
      const res = await rawRequest(gw.port, gw.pki.bundle('alice'), 'GET', target)
      expect(res.status).toBe(400)
      expect((JSON.parse(res.body) as { message: string }).message).toMatch(/^dockgate: request target is not canonical: /)
      const record = gw.records().find((r) => r.auditID === res.headers['x-dockgate-request-id'])
      expect(record).toMatchObject({ stage: 'Refused', code: 'DG_NON_CANONICAL', request: { target, path: null } })
      expect(gw.records().some((r) => r.stage === 'ResponseComplete' && r.request?.target === target)).toBe(false)
    })
  }
})
