/**
 * Body rules against the real daemon, driven by the stock docker CLI: a
 * restricted team cannot get a privileged or host-reaching container by any
 * of the usual flags and sees why; it can still run containers and bind its
 * allowed paths; an unrestricted team can do all of it; audit mode forwards
 * and records would-deny; and the old-API start-body escalation, which the
 * real daemon honours, is refused.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, rawRequest, type CliResult } from '../support/clients.js'
import { STANDARD_CLIENTS } from '../support/pki.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const hostDir = mkdtempSync(join(tmpdir(), 'dockgate-binds-'))
const allowed = join(hostDir, 'allowed')

const policy = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { cn: "ci-runner-*" }
    teams: [ci]
  - match: { ou: trial }
    teams: [trial]
  - match: { ou: wide }
    teams: [wide]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow: ["@containers-run"]
    containers:
      bindMounts: ["${allowed}/**"]
  trial:
    mode: audit
    allow: ["@containers-run"]
  wide:
    allow: ["* /**"]
    deny: ["POST /containers/{id}/exec"]
`

describe.skipIf(socket === '')('body rules with the real daemon and the docker CLI', () => {
  let gw: TestGateway
  const as = async (client: string, args: string[]): Promise<CliResult> => await docker(gw.port, gw.pki.bundle(client), args)
  const ciRun = async (...flags: string[]): Promise<CliResult> => await as('ci-runner-7', ['run', '--rm', ...flags, IMAGE, 'true'])

  beforeAll(async () => {
    mkdirSync(join(allowed, 'work'), { recursive: true })
    gw = await startGateway({ socket, policy, clients: [...STANDARD_CLIENTS, { name: 'trial-1', ous: ['trial'] }, { name: 'wide-1', ous: ['wide'] }] })
  })
  afterAll(async () => {
    await as('alice', ['rm', '-f', `dg-${tag}-priv`, `dg-${tag}-start`, `dg-${tag}-linker`, `dg-${tag}-target`])
    await gw?.close()
    rmSync(hostDir, { recursive: true, force: true })
  })

  it('a restricted team can still run an ordinary container (what @containers-run allows)', async () => {
    const result = await as('ci-runner-7', ['run', '--rm', '--network', 'none', IMAGE, 'echo', 'ordinary'])
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('ordinary\n')
  })

  const refusals: Array<[string, string[], string]> = [
    ['--privileged', ['--network', 'none', '--privileged'], 'dockgate: ci may not create a privileged container'],
    ['-v /:/host', ['--network', 'none', '-v', '/:/host'], `dockgate: ci may not bind-mount / (HostConfig.Binds[0]) (allowed: ${allowed}/**)`],
    ['--mount type=bind', ['--network', 'none', '--mount', 'type=bind,source=/etc,target=/x'], 'dockgate: ci may not bind-mount /etc (HostConfig.Mounts[0].Source)'],
    ['--network host', ['--network', 'host'], 'dockgate: ci may not use a host namespace (HostConfig.NetworkMode=host)'],
    ['--pid host', ['--network', 'none', '--pid', 'host'], 'dockgate: ci may not use a host namespace (HostConfig.PidMode=host)'],
    ['--cap-add', ['--network', 'none', '--cap-add', 'SYS_ADMIN'], 'dockgate: ci may not add capability SYS_ADMIN (HostConfig.CapAdd) (containers.capAdd allows none)'],
    ['--device', ['--network', 'none', '--device', '/dev/null:/dev/xnull'], 'dockgate: ci may not give a container host devices (HostConfig.Devices)'],
    ['--security-opt seccomp=unconfined', ['--network', 'none', '--security-opt', 'seccomp=unconfined'], 'dockgate: ci may not run unconfined (HostConfig.SecurityOpt seccomp=unconfined)'],
    ['--log-driver syslog', ['--network', 'none', '--log-driver', 'syslog', '--log-opt', 'syslog-address=tcp://127.0.0.1:9'],
      'dockgate: ci may not use log driver "syslog" (HostConfig.LogConfig.Type), which the daemon runs with the host\'s network and sockets (only containers: unrestricted allows it)']
  ]
  for (const [name, flags, reason] of refusals) {
    it(`refuses docker run ${name} for a restricted team, and the CLI prints why`, async () => {
      const result = await ciRun(...flags)
      expect(result.code).not.toBe(0)
      expect(result.stderr).toContain(`Error response from daemon: ${reason}`)
      const record = gw.records().findLast((r) => r.request?.path === '/containers/create')
      expect(record).toMatchObject({ stage: 'Refused', decision: 'deny', code: 'DG_BODY_DENIED', status: 403, identity: { teams: ['ci'] } })
    })
  }

  it('lets a restricted team bind a path under its allowed host directory', async () => {
    const result = await ciRun('--network', 'none', '-v', `${allowed}/work:/w`)
    expect(result.code).toBe(0)
    const wrote = await as('ci-runner-7', ['run', '--rm', '--network', 'none', '-v', `${allowed}/work:/w`, IMAGE, 'sh', '-c', 'echo from-container > /w/out'])
    expect(wrote.code).toBe(0)
    expect(readFileSync(join(allowed, 'work', 'out'), 'utf8')).toBe('from-container\n')
  })

  it('refuses a path that only looks allowed before cleaning (../)', async () => {
    const result = await ciRun('--network', 'none', '-v', `${allowed}/../../../etc:/x`)
    expect(result.stderr).toContain('dockgate: ci may not bind-mount /etc (HostConfig.Binds[0])')
  })

  it('lets an unrestricted team do all of it', async () => {
    const run = async (...flags: string[]): Promise<number | null> => (await as('alice', ['run', '--rm', ...flags, IMAGE, 'true'])).code
    expect(await run('--network', 'none', '-v', '/:/host:ro', '--mount', 'type=bind,source=/etc,target=/x,readonly', '--pid', 'host',
      '--cap-add', 'SYS_ADMIN', '--device', '/dev/null:/dev/xnull', '--security-opt', 'seccomp=unconfined')).toBe(0)
    expect(await run('--network', 'host')).toBe(0)
    // This sandbox cannot run privileged containers, so create one and check the daemon took it.
    const created = await as('alice', ['create', '--name', `dg-${tag}-priv`, '--network', 'none', '--privileged', IMAGE, 'true'])
    expect(created.code).toBe(0)
    expect((await as('alice', ['inspect', '--format', '{{.HostConfig.Privileged}}', `dg-${tag}-priv`])).stdout).toBe('true\n')
  })

  it('audit mode forwards what it would deny and records would-deny with the reason', async () => {
    const result = await as('trial-1', ['run', '--rm', '--network', 'none', '--cap-add', 'SYS_ADMIN', IMAGE, 'echo', 'forwarded'])
    expect(result.stdout).toBe('forwarded\n')
    const record = gw.records().findLast((r) => r.request?.path === '/containers/create' && r.identity?.teams[0] === 'trial')
    expect(record).toMatchObject({
      stage: 'ResponseComplete', decision: 'would-deny', status: 201, code: 'DG_BODY_DENIED',
      reason: 'dockgate: trial may not add capability SYS_ADMIN (HostConfig.CapAdd) (containers.capAdd allows none)',
      rule: { text: 'containers.capAdd: [] (default)', team: 'trial' }
    })
  })

  it('refuses the old-API start-body escalation that the real daemon would store (raw request)', async () => {
    const name = `dg-${tag}-start`
    const created = await rawRequest(gw.port, gw.pki.bundle('ci-runner-7'), 'POST', `/v1.41/containers/create?name=${name}`, {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Image: IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })
    })
    expect(created.status).toBe(201)
    const escalation = JSON.stringify({ Privileged: true, Binds: ['/:/host'] })
    const start = await rawRequest(gw.port, gw.pki.bundle('ci-runner-7'), 'POST', `/v1.23/containers/${name}/start`, {
      headers: { 'content-type': 'application/json' }, body: escalation
    })
    expect(start.status).toBe(403)
    expect(JSON.parse(start.body)).toEqual({ message: 'dockgate: ci may not start a container as privileged (a HostConfig in the start body)' })
    const nested = await rawRequest(gw.port, gw.pki.bundle('ci-runner-7'), 'POST', `/v1.23/containers/${name}/start`, {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ HostConfig: { Privileged: true } })
    })
    expect(nested.status).toBe(403)
    const inspect = async (): Promise<string> => (await as('alice', ['inspect', '--format', '{{.HostConfig.Privileged}} {{.HostConfig.Binds}}', name])).stdout
    expect(await inspect()).toBe('false []\n')
    // The same request from an unrestricted team shows the daemon really stores it.
    await rawRequest(gw.port, gw.pki.bundle('alice'), 'POST', `/v1.23/containers/${name}/start`, { headers: { 'content-type': 'application/json' }, body: escalation })
    expect(await inspect()).toBe('true [/:/host]\n')
  })

  // dockerd routes /containers/{name:.*}/start: a legacy link alias names a
  // container across two segments, which `{id}` rules and the body rules'
  // one-segment view would not see.
  it('refuses a container addressed through a link alias (web/db), which the daemon would resolve, even to a team allowed /**', async () => {
    const target = `dg-${tag}-target`
    const linker = `dg-${tag}-linker`
    expect((await as('alice', ['create', '--name', target, '--network', 'none', IMAGE, 'true'])).code).toBe(0)
    const created = await rawRequest(gw.port, gw.pki.bundle('alice'), 'POST', `/v1.41/containers/create?name=${linker}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Image: IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none', Links: [`${target}:db`] } })
    })
    expect(created.status).toBe(201)
    const alias = `${linker}/db`
    // Straight to the daemon: the alias really is the target container.
    const direct = await new Promise<number>((resolve, reject) => {
      http.get({ socketPath: socket, path: `/v1.41/containers/${alias}/json` }, (res) => { res.resume(); resolve(res.statusCode ?? 0) }).on('error', reject)
    })
    expect(direct).toBe(200)
    const start = await rawRequest(gw.port, gw.pki.bundle('wide-1'), 'POST', `/v1.23/containers/${alias}/start`, {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Privileged: true, Binds: ['/:/host'] })
    })
    expect(start.status).toBe(400)
    expect((JSON.parse(start.body) as { message: string }).message).toContain(`dockgate: request target is not canonical: container name with a slash in /containers/${alias}/start`)
    const exec = await rawRequest(gw.port, gw.pki.bundle('wide-1'), 'POST', `/v1.41/containers/${alias}/exec`, {
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Cmd: ['true'], Privileged: true })
    })
    expect(exec.status).toBe(400)
    expect((await as('alice', ['inspect', '--format', '{{.HostConfig.Privileged}} {{.HostConfig.Binds}} {{.State.Status}}', target])).stdout).toBe('false [] created\n')
  })
})
