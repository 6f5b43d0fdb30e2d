/**
 * Names the daemon accepts that a path must percent-encode (a network
 * named `test 01`, as docker-py's own integration suite makes): the stock
 * docker CLI and docker-py create, inspect and remove them through
 * dockgate as they do directly, rules and team isolation see the decoded
 * name, and the audit record names the object as the daemon does. Also
 * the one path whose name spans segments that is accepted: `docker rm
 * --link web/db`.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, dockerOn, type CliResult } from '../support/clients.js'
import { ISOLATION_POLICY } from '../support/isolation.js'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const tag = Math.random().toString(36).slice(2, 8)

describe.skipIf(socket === '')('names with characters a path must encode, real daemon', () => {
  let gw: TestGateway
  const as = (who: 'admin' | 'alpha' | 'beta') => async (args: string[]): Promise<CliResult> => await docker(gw.port, gw.pki.bundle(who), args)
  const spaced = `dg ${tag} 01`

  beforeAll(async () => {
    gw = await startGateway({
      socket,
      policy: ISOLATION_POLICY.replace('identities:\n', 'identities:\n  - match: { socket: admin-tool }\n    teams: [platform]\n'),
      clients: [{ name: 'admin', ous: ['platform'] }, { name: 'alpha', ous: ['alpha'] }, { name: 'beta', ous: ['beta'] }],
      sockets: [{ path: join(mkdtempSync(join(tmpdir(), 'dg-enc-')), 'admin.sock'), identity: 'admin-tool' }]
    })
  })
  afterAll(async () => {
    await dockerOn(socket, ['network', 'rm', spaced, `${spaced} py`])
    await gw?.close()
  })

  it('creates, inspects and removes a network named with a space through the docker CLI, isolated by its decoded name', async () => {
    expect((await as('alpha')(['network', 'create', '--internal', spaced])).code).toBe(0)
    const inspected = await as('alpha')(['network', 'inspect', '--format', '{{.Name}} {{index .Labels "dockgate.owner"}}', spaced])
    expect(inspected.stdout).toBe(`${spaced} alpha\n`)
    const hidden = await as('beta')(['network', 'rm', spaced])
    expect(hidden.stderr).toContain(`network ${spaced} not found`)
    expect((await as('alpha')(['network', 'rm', spaced])).stdout).toBe(`${spaced}\n`)
    expect((await dockerOn(socket, ['network', 'inspect', spaced])).code).not.toBe(0)
    const removal = gw.records().find((r) => r.stage === 'ResponseComplete' && r.request?.method === 'DELETE' && r.upstreamStatus === 204)
    expect(removal).toMatchObject({ request: { path: `/networks/${encodeURIComponent(spaced)}` }, objectRef: { name: spaced } })
  })

  it('serves docker-py\'s test_create_remove_network_with_space_in_name', async () => {
    const name = `${spaced} py`
    // Over the gateway's socket listener (identity admin-tool, team platform): the same pipeline as TLS.
    const script = 'import docker, sys\nc = docker.DockerClient(base_url="unix://" + sys.argv[2])\n' +
      'n = c.networks.create(sys.argv[1], internal=True)\n' +
      'print(c.networks.get(n.id).name)\nc.api.remove_network(sys.argv[1])\nprint(len(c.networks.list(names=[sys.argv[1]])))\n'
    const { stdout } = await run('python3', ['-c', script, name, gw.sockets[0] ?? ''])
    expect(stdout).toBe(`${name}\n0\n`)
  })

  it('removes a legacy link alias with docker rm --link (docker-py\'s LinkTest.test_remove_link), and leaves both containers', async () => {
    const [db, web] = [`dg-${tag}-db`, `dg-${tag}-web`]
    try {
      expect((await as('admin')(['create', '--name', db, '--network', 'none', 'dockgate-test/busybox:latest', 'true'])).code).toBe(0)
      expect((await as('admin')(['create', '--name', web, '--network', 'none', '--link', `${db}:db`, 'dockgate-test/busybox:latest', 'true'])).code).toBe(0)
      const removed = await as('admin')(['rm', '--link', `${web}/db`])
      expect(removed).toMatchObject({ code: 0, stdout: `${web}/db\n` })
      const left = await dockerOn(socket, ['inspect', '--format', '{{.Name}} {{.HostConfig.Links}}', db, web])
      expect(left.stdout).toBe(`/${db} []\n/${web} []\n`)
      // An ownership team cannot: dockerd finds web by name only.
      expect((await as('alpha')(['rm', '--link', `${web}/db`])).stderr).toContain('is not available to an ownership team')
    } finally {
      await dockerOn(socket, ['rm', '-f', web, db])
    }
  })
})
