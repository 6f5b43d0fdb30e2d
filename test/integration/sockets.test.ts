/**
 * Socket listeners, real daemon: one dockgate serves two local tools on
 * sockets of their own and remote teams on its TLS port. Each socket has
 * its own identity, so its own permissions and its own name in the trail;
 * the stock docker CLI, docker-py and dockerode use a socket exactly as
 * they use the daemon's; the file's mode and group decide which local
 * users may connect; no certificate can take a socket's identity.
 */
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, statSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, dockerOn, type CliResult } from '../support/clients.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const name = (what: string): string => `dg-${tag}-${what}`
/** The group the reader's socket belongs to; a user outside it is refused by the kernel. */
const READER_GID = 4242

const POLICY = `version: 1
identities:
  - match: { socket: reader }
    teams: [discovery]
  - match: { socket: runner }
    teams: [runner]
  - match: { ou: platform }
    teams: [platform]
  - match: { cn: "*" }
    teams: [anyone]
teams:
  discovery:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /containers/json"
      - "GET /containers/{id}/json"
      - "GET /events"
  runner:
    ownership: true
    allow: ["@containers-run", "@exec", "GET /containers/json", "GET /version", "POST /containers/{id}/stop"]
  platform:
    allow: ["* /**"]
    containers: unrestricted
  anyone:
    allow: ["GET,HEAD /_ping"]
`

/** GET `path` on a Unix socket, the way any HTTP client of a Docker socket does. */
async function getOn (path: string, target: string): Promise<{ status: number; body: string }> {
  return await new Promise((resolve, reject) => {
    http.get({ socketPath: path, path: target }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    }).on('error', reject)
  })
}

describe.skipIf(socket === '')('socket listeners for local tools, real daemon', () => {
  let gw: TestGateway
  let reader = ''
  let runner = ''
  const ok = async (result: Promise<CliResult>): Promise<string> => {
    const done = await result
    expect(done.stderr, done.stderr).toBe('')
    expect(done.code).toBe(0)
    return done.stdout
  }
  const direct = async (args: string[]): Promise<CliResult> => await dockerOn(socket, args)

  beforeAll(async () => {
    // Other local users must be able to reach the folder; the socket's own mode decides.
    const folder = mkdtempSync(join(tmpdir(), 'dg-sock-'))
    chmodSync(folder, 0o755)
    gw = await startGateway({
      socket,
      policy: POLICY,
      clients: [{ name: 'alice', ous: ['platform'] }, { name: 'reader', ous: ['outsiders'] }, { name: 'runner', ous: ['outsiders'] }],
      sockets: [
        { path: join(folder, 'reader.sock'), identity: 'reader', mode: '0660', group: READER_GID },
        { path: join(folder, 'runner.sock'), identity: 'runner' }
      ]
    })
    ;[reader = '', runner = ''] = gw.sockets
  })
  afterAll(async () => {
    await direct(['rm', '-f', name('mine'), name('theirs')])
    await gw?.close()
  })

  it('gives each socket its own permissions with the stock docker CLI: the reader lists, and may not run', async () => {
    expect(await ok(dockerOn(reader, ['ps', '--format', '{{.ID}}']))).toBeTypeOf('string')
    const refused = await dockerOn(reader, ['run', '--rm', '--network', 'none', IMAGE, 'true'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain('dockgate: discovery may not POST /containers/create')
  })

  it('runs a container with stdin and execs into one on the runner socket, as on the daemon\'s own', async () => {
    expect(await ok(dockerOn(runner, ['run', '--rm', '-i', '--network', 'none', IMAGE, 'cat'], { input: 'through the socket\n' }))).toBe('through the socket\n')
    await ok(dockerOn(runner, ['run', '-d', '--name', name('mine'), '--network', 'none', IMAGE, 'sleep', '600']))
    expect(await ok(dockerOn(runner, ['exec', '-i', name('mine'), 'wc', '-c'], { input: 'twelve bytes' }))).toBe('12\n')
  })

  it('applies body rules and ownership on a socket as on TLS', async () => {
    const privileged = await dockerOn(runner, ['run', '--rm', '--privileged', '--name', name('priv'), '--network', 'none', IMAGE, 'true'])
    expect(privileged.stderr).toContain('dockgate: runner may not create a privileged container')
    expect((await direct(['inspect', name('priv')])).code).not.toBe(0)
    // Created on the socket: labelled with the socket's team; made elsewhere: not there for it.
    expect((await ok(direct(['inspect', '--format', '{{index .Config.Labels "dockgate.owner"}}', name('mine')]))).trim()).toBe('runner')
    await ok(direct(['run', '-d', '--name', name('theirs'), '--network', 'none', IMAGE, 'sleep', '600']))
    expect(await ok(dockerOn(runner, ['ps', '-a', '--format', '{{.Names}}']))).toBe(`${name('mine')}\n`)
    const hidden = await dockerOn(runner, ['stop', name('theirs')])
    expect(hidden.stderr).toContain(`No such container: ${name('theirs')}`)
  })

  it('serves docker-py unchanged over a socket', async () => {
    const script = 'import docker, sys\nc = docker.DockerClient(base_url="unix://" + sys.argv[1])\n' +
      'print(c.version()["ApiVersion"])\nprint(len(c.containers.list(all=True)) >= 0)\n' +
      'try:\n  c.containers.run("' + IMAGE + '", "true", network_mode="none", remove=True)\nexcept docker.errors.APIError as e:\n  print(e.explanation)\n'
    const { stdout } = await run('python3', ['-c', script, reader])
    expect(stdout.split('\n')).toEqual(['1.41', 'True', 'dockgate: discovery may not POST /containers/create', ''])
  })

  it('serves dockerode unchanged over a socket', async () => {
    const client = new Docker({ socketPath: runner })
    expect((await client.version()).ApiVersion).toBe('1.41')
    const names = (await client.listContainers({ all: true })).flatMap((c) => c.Names)
    expect(names).toEqual([`/${name('mine')}`])
    const refused = await new Docker({ socketPath: reader }).createContainer({ Image: IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
      .then(() => 'created', (err: { statusCode?: number; json?: { message?: string } }) => `${err.statusCode} ${err.json?.message}`)
    expect(refused).toBe('403 dockgate: discovery may not POST /containers/create')
  })

  it('creates each socket with its mode and group, before anyone can connect', () => {
    const stat = statSync(reader)
    expect(stat.isSocket()).toBe(true)
    expect(stat.mode & 0o777).toBe(0o660)
    expect(stat.gid).toBe(READER_GID)
    expect(statSync(runner).mode & 0o777).toBe(0o600)
  })

  it('refuses a local user outside the socket\'s group at the file ("permission denied"), and serves one inside it', async () => {
    const outside = await dockerOn(reader, ['version', '--format', '{{.Server.APIVersion}}'], { uid: 65534, gid: 65534 })
    expect(outside.code).not.toBe(0)
    expect(outside.stderr).toContain('permission denied')
    const inside = await dockerOn(reader, ['version', '--format', '{{.Server.APIVersion}}'], { uid: 65534, gid: READER_GID })
    expect(inside.stdout.trim()).toBe('1.41')
    // Mode 0600: only dockgate's own user, whatever the group.
    const runnerOutside = await dockerOn(runner, ['version'], { uid: 65534, gid: READER_GID })
    expect(runnerOutside.stderr).toContain('permission denied')
  })

  it('never gives a certificate a socket identity: a certificate with CN=reader gets only what certificates get', async () => {
    const asCert = await docker(gw.port, gw.pki.bundle('reader'), ['ps'])
    expect(asCert.stderr).toContain('dockgate: anyone may not GET /containers/json')
    // And no socket matches a certificate rule: cn "*" would have given the socket _ping only.
    expect((await getOn(reader, '/containers/json')).status).toBe(200)
    // The remote team on 2376 is served next to the sockets.
    expect(await ok(docker(gw.port, gw.pki.bundle('alice'), ['version', '--format', '{{.Server.APIVersion}}']))).toBe('1.41\n')
  })

  it('names the socket identity, its team and the transport in the audit trail', async () => {
    await getOn(reader, '/version')
    const records = gw.records().filter((r) => r.request?.path === '/version' && r.client !== undefined && 'socket' in r.client)
    expect(records.at(-1)).toMatchObject({
      stage: 'ResponseComplete',
      decision: 'allow',
      client: { transport: 'unix', socket: reader },
      identity: { socket: 'reader', teams: ['discovery'], entry: { index: 0 } },
      upstreamStatus: 200
    })
    const refused = gw.records().find((r) => r.stage === 'Refused' && r.client !== undefined && 'socket' in r.client && r.client.socket === reader)
    expect(refused).toMatchObject({ code: 'DG_DENIED', identity: { socket: 'reader', teams: ['discovery'] }, rule: null })
  })
})
