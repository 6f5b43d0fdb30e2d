/**
 * The ready-made policies for local tools (policies/local-*.yaml), each
 * loaded as shipped into a gateway whose only listener is a socket with
 * that policy's identity, in front of the real daemon. For each: the
 * calls its tool makes (raw HTTP as the tool sends it, or the docker CLI)
 * reach the daemon and succeed, and representative dangerous calls are
 * refused by dockgate in Docker's error shape, with nothing of them on
 * the daemon (asked directly on its own socket).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { dockerOn, type CliResult } from '../support/clients.js'
import { json, unixRequest, watchtowerUpdate, type Inspected, type UnixResponse } from '../support/unix-http.js'

const socket = inject('dockerSocket')
const registry = inject('registry')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const policy = (name: string): string => readFileSync(resolve(import.meta.dirname, '..', '..', 'policies', name), 'utf8')

/** The operator, straight on the daemon's socket. */
const daemon = async (args: string[]): Promise<CliResult> => await dockerOn(socket, args)
const exists = async (name: string): Promise<boolean> => (await daemon(['container', 'inspect', name])).code === 0
const running = async (name: string): Promise<string> => (await daemon(['container', 'inspect', '--format', '{{.State.Running}}', name])).stdout.trim()

/** A gateway serving `policyText` on one socket listener with `identity`; resolves with it and the socket's path. */
async function onSocket (policyText: string, identity: string): Promise<{ gw: TestGateway; path: string }> {
  const gw = await startGateway({ socket, policy: policyText, sockets: [{ path: `${identity}.sock`, identity }], noTls: true })
  return { gw, path: gw.sockets[0] ?? '' }
}

/** dockgate's refusal: 403 and exactly `{"message":"dockgate: ..."}`. */
function refused (res: UnixResponse, message: string): void {
  expect(res.status, res.body).toBe(403)
  expect(JSON.parse(res.body)).toEqual({ message })
}

describe.skipIf(socket === '')('policies/local-discovery.yaml on a socket: Traefik and Homepage', () => {
  let gw: TestGateway
  let path = ''
  const web = `dg-sp-web-${tag}`
  let since = 0
  const get = async (target: string): Promise<UnixResponse> => await unixRequest(path, 'GET', target)

  beforeAll(async () => {
    ({ gw, path } = await onSocket(policy('local-discovery.yaml'), 'traefik'))
    since = Math.floor(Date.now() / 1000) - 1
    expect((await daemon(['run', '-d', '--name', web, '--network', 'none', '--label', 'traefik.enable=true', IMAGE, 'sleep', '600'])).code).toBe(0)
  })
  afterAll(async () => {
    await daemon(['rm', '-f', web])
    await gw?.close()
  })

  it("Traefik's calls: ping (HEAD and GET), version, then the list, inspect and container events under the negotiated version", async () => {
    expect((await unixRequest(path, 'HEAD', '/_ping')).status).toBe(200)
    expect((await get('/_ping')).body).toBe('OK')
    const version = json<{ ApiVersion: string }>(await get('/version')).ApiVersion
    const list = json<{ Names: string[]; Labels: Record<string, string> }[]>(await get(`/v${version}/containers/json?all=1`))
    expect(list.find((c) => c.Names.includes(`/${web}`))?.Labels).toEqual({ 'traefik.enable': 'true' })
    const inspected = json<Inspected>(await get(`/v${version}/containers/${web}/json`))
    expect(inspected.State.Running).toBe(true)
    const until = Math.ceil(Date.now() / 1000)
    const events = await get(`/v${version}/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"type":["container"]}')}`)
    expect(events.status).toBe(200)
    const started = events.body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { Action: string; Actor: { ID: string } })
    expect(started.some((e) => e.Action === 'start' && e.Actor.ID === inspected.Id)).toBe(true)
  })

  it("Homepage's calls: the list and one-shot stats; and the networks Traefik's swarm mode reads", async () => {
    expect((await get('/containers/json?all=true')).status).toBe(200)
    const stats = json<{ memory_stats: unknown; cpu_stats: unknown }>(await get(`/containers/${web}/stats?stream=false`))
    expect(stats.cpu_stats).toBeDefined()
    expect(json<{ Name: string }[]>(await get('/networks')).map((n) => n.Name)).toContain('none')
    expect(json<{ Name: string }>(await get('/networks/none')).Name).toBe('none')
  })

  it('the docker CLI on the socket lists and inspects, and cannot run, stop, exec, read logs or copy files out', async () => {
    expect((await dockerOn(path, ['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n')).toContain(web)
    expect((await dockerOn(path, ['inspect', '--format', '{{.Config.Labels}}', web])).stdout).toContain('traefik.enable:true')
    const run = await dockerOn(path, ['run', '--rm', '--name', `dg-sp-nope-${tag}`, '--network', 'none', IMAGE, 'true'])
    expect(run.stderr).toContain('Error response from daemon: dockgate: discovery may not POST /containers/create')
    expect(await exists(`dg-sp-nope-${tag}`)).toBe(false)
    expect((await dockerOn(path, ['stop', web])).stderr).toContain(`dockgate: discovery may not POST /containers/${web}/stop`)
    expect((await dockerOn(path, ['exec', web, 'true'])).stderr).toContain(`dockgate: discovery may not POST /containers/${web}/exec`)
    // docker logs asks by id, after an inspect by name.
    expect((await dockerOn(path, ['logs', web])).stderr).toMatch(/dockgate: discovery may not GET \/containers\/[0-9a-f]{64}\/logs/)
    expect((await dockerOn(path, ['cp', `${web}:/etc/passwd`, '-'])).stderr).toContain(`dockgate: discovery may not GET /containers/${web}/archive`)
    expect(await running(web)).toBe('true')
  })

  it('refuses every write in raw HTTP too, before the daemon sees it', async () => {
    refused(await unixRequest(path, 'POST', `/containers/create?name=dg-sp-raw-${tag}`, { Image: IMAGE, HostConfig: { NetworkMode: 'none' } }),
      'dockgate: discovery may not POST /containers/create')
    expect(await exists(`dg-sp-raw-${tag}`)).toBe(false)
    refused(await unixRequest(path, 'POST', `/containers/${web}/kill`), `dockgate: discovery may not POST /containers/${web}/kill`)
    refused(await unixRequest(path, 'DELETE', `/containers/${web}?force=1`), `dockgate: discovery may not DELETE /containers/${web}`)
    refused(await unixRequest(path, 'POST', '/networks/create', { Name: `dg-sp-net-${tag}` }), 'dockgate: discovery may not POST /networks/create')
    refused(await unixRequest(path, 'GET', '/images/json'), 'dockgate: discovery may not GET /images/json')
    expect(await running(web)).toBe('true')
    const record = gw.records().find((r) => r.stage === 'Refused' && r.request?.path === '/containers/create')
    expect(record?.identity).toMatchObject({ socket: 'traefik', teams: ['discovery'] })
    expect(record?.client).toEqual({ transport: 'unix', socket: path })
  })
})

describe.skipIf(socket === '')('policies/local-updater.yaml on a socket: Watchtower', () => {
  let gw: TestGateway
  let path = ''
  const app = `dg-sp-app-${tag}`
  const watched = ['--network', 'none', '--label', 'com.centurylinklabs.watchtower.enable=true']
  // A service that stops on SIGTERM, as Watchtower's kill expects (sleep as PID 1 ignores it).
  const service = [IMAGE, 'sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait']
  const names: string[] = [app]

  beforeAll(async () => {
    ({ gw, path } = await onSocket(policy('local-updater.yaml'), 'watchtower'))
    expect((await daemon(['run', '-d', '--name', app, '--cgroupns', 'private', ...watched, ...service])).code).toBe(0)
  })
  afterAll(async () => {
    await daemon(['rm', '-f', ...names])
    await gw?.close()
  })

  it.skipIf(registry === '')('pulls a newer image from a registry (POST /images/create), as Watchtower does when the digest changed', async () => {
    const repo = `${registry}/dg-sp-${tag}/app`
    for (const args of [['tag', IMAGE, `${repo}:1`], ['push', `${repo}:1`], ['rmi', `${repo}:1`]]) expect((await daemon(args)).code).toBe(0)
    const pulled = await unixRequest(path, 'POST', `/images/create?fromImage=${encodeURIComponent(repo)}&tag=1`)
    expect(pulled.status).toBe(200)
    expect(pulled.body).not.toContain('errorDetail')
    expect((await daemon(['image', 'inspect', `${repo}:1`])).code).toBe(0)
    await daemon(['rmi', `${repo}:1`])
  })

  it('recreates a watched container call by call as Watchtower does: same name, new container, running, same settings', async () => {
    const before = (await daemon(['container', 'inspect', '--format', '{{.Id}}', app])).stdout.trim()
    const { exchanges, created } = await watchtowerUpdate(path, app)
    expect(exchanges.filter((e) => e.res.status > 299).map((e) => `${e.call} ${e.res.status} ${e.res.body}`)).toEqual([])
    expect(exchanges.map((e) => e.call)).toContain(`GET /images/${IMAGE}/json`)
    expect(created).not.toBeNull()
    expect(created).not.toBe(before)
    expect((await daemon(['container', 'inspect', '--format', '{{.Id}} {{.State.Running}} {{.HostConfig.NetworkMode}} {{.HostConfig.CgroupnsMode}}', app])).stdout.trim())
      .toBe(`${created ?? ''} true none private`)
  })

  it('renames a container (its own self-update) and removes a replaced image by id (--cleanup)', async () => {
    const old = `dg-sp-old-${tag}`
    names.push(old, `${old}-renamed`)
    expect((await daemon(['create', '--name', old, '--network', 'none', IMAGE, 'true'])).code).toBe(0)
    expect((await unixRequest(path, 'POST', `/containers/${old}/rename?name=${old}-renamed`)).status).toBe(204)
    expect(await exists(`${old}-renamed`)).toBe(true)
    expect((await daemon(['commit', `${old}-renamed`, `dg-sp-old-${tag}:1`])).code).toBe(0)
    const id = (await daemon(['image', 'inspect', '--format', '{{.Id}}', `dg-sp-old-${tag}:1`])).stdout.trim()
    expect((await unixRequest(path, 'DELETE', `/images/${id}?force=1`)).status).toBe(200)
    expect((await daemon(['image', 'inspect', id])).code).not.toBe(0)
  })

  it('refuses containers that take from the host, and what Watchtower never calls; none reaches the daemon', async () => {
    const cases: [string[], string][] = [
      [['--privileged'], 'dockgate: updater may not create a privileged container'],
      [['-v', '/etc:/host-etc'], 'dockgate: updater may not bind-mount /etc (HostConfig.Binds[0]) (containers.bindMounts allows no host path)'],
      [['--network', 'host'], 'dockgate: updater may not use a host namespace (HostConfig.NetworkMode=host)'],
      [['--pid', 'host'], 'dockgate: updater may not use a host namespace (HostConfig.PidMode=host)']
    ]
    for (const [i, [flags, message]] of cases.entries()) {
      const name = `dg-sp-bad-${tag}-${i}`
      expect((await dockerOn(path, ['create', '--name', name, ...flags, IMAGE, 'true'])).stderr).toContain(`Error response from daemon: ${message}`)
      expect(await exists(name)).toBe(false)
    }
    refused(await unixRequest(path, 'POST', `/containers/${app}/exec`, { Cmd: ['true'] }), `dockgate: updater may not POST /containers/${app}/exec`)
    refused(await unixRequest(path, 'GET', `/containers/${app}/logs?stdout=1`), `dockgate: updater may not GET /containers/${app}/logs`)
    refused(await unixRequest(path, 'POST', '/build?t=x'), 'dockgate: updater may not POST /build')
    expect(await running(app)).toBe('true')
  })

  it('a watched container in the host cgroup namespace is refused at the create, after Watchtower removed it', async () => {
    const legacy = `dg-sp-legacy-${tag}`
    names.push(legacy)
    expect((await daemon(['run', '-d', '--name', legacy, '--cgroupns', 'host', ...watched, ...service])).code).toBe(0)
    const { exchanges, created } = await watchtowerUpdate(path, legacy)
    expect(created).toBeNull()
    const create = exchanges.at(-1)
    expect(create?.call).toBe(`POST /containers/create?name=${legacy}`)
    refused(create?.res ?? { status: 0, headers: {}, body: '' }, 'dockgate: updater may not use a host namespace (HostConfig.CgroupnsMode=host)')
    expect(await exists(legacy)).toBe(false)
  })

  it('refuses to recreate a watched container that runs unconfined, at the create, after Watchtower removed it', async () => {
    const loose = `dg-sp-loose-${tag}`
    names.push(loose)
    expect((await daemon(['run', '-d', '--name', loose, '--cgroupns', 'private', '--security-opt', 'seccomp=unconfined', ...watched, ...service])).code).toBe(0)
    const { exchanges, created } = await watchtowerUpdate(path, loose)
    expect(created).toBeNull()
    expect(exchanges.at(-1)?.call).toBe(`POST /containers/create?name=${loose}`)
    refused(exchanges.at(-1)?.res ?? { status: 0, headers: {}, body: '' }, 'dockgate: updater may not run unconfined (HostConfig.SecurityOpt seccomp=unconfined)')
    expect(await exists(loose)).toBe(false)
  })
})

describe.skipIf(socket === '')('policies/local-ci-runner.yaml on a socket: a CI runner', () => {
  let gw: TestGateway
  let path = ''
  const work = mkdtempSync(join(tmpdir(), 'dg-srv-ci-'))
  const svc = `dg-sp-svc-${tag}`
  const names: string[] = [svc]
  const ci = async (args: string[], input?: string): Promise<CliResult> => await dockerOn(path, args, input === undefined ? {} : { input })

  beforeAll(async () => {
    ({ gw, path } = await onSocket(policy('local-ci-runner.yaml').replaceAll('/srv/ci', work), 'ci'))
    expect((await daemon(['run', '-d', '--name', svc, '--network', 'none', IMAGE, 'sleep', '600'])).code).toBe(0)
  })
  afterAll(async () => {
    await daemon(['rm', '-f', ...names])
    await gw?.close()
    rmSync(work, { recursive: true, force: true })
  })

  it('docker run --rm -i --network none IMAGE cat: stdin through the socket and back', async () => {
    const run = await ci(['run', '--rm', '-i', '--network', 'none', IMAGE, 'cat'], 'through the ci socket\n')
    expect(run.stderr).toBe('')
    expect(run.stdout).toBe('through the ci socket\n')
  })

  it('its own container: docker exec -i, logs, stop, wait, rm', async () => {
    const job = `dg-sp-job-${tag}`
    names.push(job)
    expect((await ci(['run', '-d', '--name', job, '--network', 'none', IMAGE, 'sh', '-c', 'echo job started; exec sleep 600'])).code).toBe(0)
    expect((await ci(['exec', '-i', job, 'tr', 'a-z', 'A-Z'], 'exec input\n')).stdout).toBe('EXEC INPUT\n')
    expect((await ci(['logs', job])).stdout).toBe('job started\n')
    expect((await ci(['stop', '-t', '1', job])).code).toBe(0)
    expect((await ci(['wait', job])).stdout.trim()).toMatch(/^\d+$/)
    expect((await ci(['rm', job])).code).toBe(0)
    expect(await exists(job)).toBe(false)
  })

  it(`binds a folder under the allowed one and nothing outside it, even through ..`, async () => {
    mkdirSync(join(work, 'cache'))
    const wrote = await ci(['run', '--rm', '--network', 'none', '-v', `${work}/cache:/cache`, IMAGE, 'sh', '-c', 'echo built > /cache/out'])
    expect(wrote.stderr).toBe('')
    expect(readFileSync(join(work, 'cache', 'out'), 'utf8')).toBe('built\n')
    for (const [i, bind] of ['/etc:/x', `${work}/../../etc:/x`].entries()) {
      const name = `dg-sp-bind-${tag}-${i}`
      const run = await ci(['run', '--rm', '--name', name, '--network', 'none', '-v', bind, IMAGE, 'true'])
      expect(run.stderr).toContain(`dockgate: ci may not bind-mount /etc (HostConfig.Binds[0]) (allowed: ${work}/**)`)
      expect(await exists(name)).toBe(false)
    }
  })

  it('refuses --privileged, the host network and capabilities beyond NET_ADMIN; none reaches the daemon', async () => {
    const cases: [string[], string][] = [
      [['--privileged'], 'dockgate: ci may not create a privileged container'],
      [['--network', 'host'], 'dockgate: ci may not use a host namespace (HostConfig.NetworkMode=host)'],
      [['--cap-add', 'SYS_ADMIN'], 'dockgate: ci may not add capability SYS_ADMIN (HostConfig.CapAdd) (allowed: NET_ADMIN)']
    ]
    for (const [i, [flags, message]] of cases.entries()) {
      const name = `dg-sp-priv-${tag}-${i}`
      const run = await ci(['run', '--rm', '--name', name, ...(flags.includes('host') ? [] : ['--network', 'none']), ...flags, IMAGE, 'true'])
      expect(run.stderr).toContain(`Error response from daemon: ${message}`)
      expect(await exists(name)).toBe(false)
    }
  })

  it("sees and touches only its own containers: the host's services answer as missing ones do", async () => {
    expect((await ci(['ps', '-a', '--format', '{{.Names}}'])).stdout.split('\n')).not.toContain(svc)
    expect((await ci(['exec', svc, 'true'])).stderr).toContain(`No such container: ${svc}`)
    expect((await ci(['stop', svc])).code).not.toBe(0)
    expect(await running(svc)).toBe('true')
  })

  it('builds an image with the classic builder (no network), runs it and removes it', async () => {
    const context = mkdtempSync(join(tmpdir(), 'dg-sp-build-'))
    writeFileSync(join(context, 'Dockerfile'), `FROM ${IMAGE}\nRUN echo built-by-ci > /built\n`)
    const image = `dg-sp-built-${tag}:1`
    const built = await ci(['build', '--network', 'none', '-t', image, context])
    expect(built.code, built.stderr).toBe(0)
    expect((await ci(['run', '--rm', '--network', 'none', image, 'cat', '/built'])).stdout).toBe('built-by-ci\n')
    expect((await ci(['rmi', image])).code).toBe(0)
    expect((await daemon(['image', 'inspect', image])).code).not.toBe(0)
    rmSync(context, { recursive: true, force: true })
  })
})
