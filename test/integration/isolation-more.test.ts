/**
 * Team isolation beyond containers, volumes and networks, with the stock
 * docker CLI against a real daemon: a team's own images (commit) and exec
 * instances, disk usage, a dockgate restart that changes nothing (the
 * labels on the daemon are the truth), and dry-run.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, rawRequest, type CliResult } from '../support/clients.js'
import { ISOLATION_POLICY } from '../support/isolation.js'
import { CLI } from '../support/live.js'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const name = (what: string): string => `dg-${tag}-${what}`
const CLIENTS = [{ name: 'admin', ous: ['platform'] }, { name: 'alpha', ous: ['alpha'] }, { name: 'beta', ous: ['beta'] }]

type Who = 'admin' | 'alpha' | 'beta'

describe.skipIf(socket === '')('team isolation of images, exec, disk usage, restarts and dry-run', () => {
  let gw: TestGateway
  const on = (gateway: () => TestGateway, who: Who) => async (args: string[]): Promise<CliResult> => await docker(gateway().port, gateway().pki.bundle(who), args)
  const admin = on(() => gw, 'admin')
  const alpha = on(() => gw, 'alpha')
  const beta = on(() => gw, 'beta')
  const ok = async (result: Promise<CliResult>): Promise<string> => {
    const done = await result
    expect(done.stderr.replace(/DEPRECATED[\s\S]*?variable\.\n\n?/, ''), done.stderr).toBe('')
    expect(done.code).toBe(0)
    return done.stdout
  }

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: ISOLATION_POLICY, clients: CLIENTS })
    await ok(alpha(['run', '-d', '--name', name('a'), '--network', 'none', IMAGE, 'sleep', '600']))
    await ok(alpha(['commit', name('a'), `dg-${tag}/alpha-image:1`]))
  })
  afterAll(async () => {
    await admin(['rm', '-f', name('a'), name('b'), name('direct')])
    await admin(['rmi', '-f', `dg-${tag}/alpha-image:1`])
    await gw?.close()
  })

  it('an image a team commits is its own: the other team cannot run, tag, inspect or remove it, and does not list it', async () => {
    const image = `dg-${tag}/alpha-image:1`
    expect((await ok(admin(['image', 'inspect', '--format', '{{index .Config.Labels "dockgate.owner"}}', image]))).trim()).toBe('alpha')
    expect(await ok(alpha(['images', '--format', '{{.Repository}}:{{.Tag}}']))).toContain(image)
    const betaImages = await ok(beta(['images', '--format', '{{.Repository}}:{{.Tag}}']))
    expect(betaImages).not.toContain(image)
    expect(betaImages).toContain(IMAGE)
    for (const args of [['image', 'inspect', image], ['rmi', image], ['tag', image, `dg-${tag}/stolen:1`]]) {
      const result = await beta(args)
      expect(result.code, args.join(' ')).not.toBe(0)
      expect(result.stderr, args.join(' ')).toMatch(/No such image/i)
    }
    const run = await beta(['run', '--rm', '--network', 'none', '--pull', 'never', image, 'true'])
    expect(run.code).not.toBe(0)
    expect(run.stderr).toMatch(/No such image/i)
    // The shared image stays usable by both.
    expect(await ok(beta(['run', '--rm', '--network', 'none', IMAGE, 'echo', 'shared']))).toBe('shared\n')
  })

  it('an exec instance belongs to its container\'s team', async () => {
    const created = await rawRequest(gw.port, gw.pki.bundle('alpha'), 'POST', `/v1.41/containers/${name('a')}/exec`,
      { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Cmd: ['true'] }) })
    expect(created.status).toBe(201)
    const { Id: execId } = JSON.parse(created.body) as { Id: string }
    expect((await rawRequest(gw.port, gw.pki.bundle('alpha'), 'GET', `/v1.41/exec/${execId}/json`)).status).toBe(200)
    const hidden = await rawRequest(gw.port, gw.pki.bundle('beta'), 'GET', `/v1.41/exec/${execId}/json`)
    expect(hidden.status).toBe(404)
    expect(JSON.parse(hidden.body)).toEqual({ message: `No such exec instance: ${execId}` })
  })

  it('docker system df counts only the team\'s own containers', async () => {
    await ok(beta(['run', '-d', '--name', name('b'), '--network', 'none', IMAGE, 'sleep', '600']))
    const names = async (who: (args: string[]) => Promise<CliResult>): Promise<string> =>
      await ok(who(['system', 'df', '-v', '--format', '{{range .Containers}}{{.Names}} {{end}}']))
    const betaSees = await names(beta)
    expect(betaSees).toContain(name('b'))
    expect(betaSees).not.toContain(name('a'))
    expect(await names(admin)).toContain(name('a'))
  })

  it('a restarted dockgate decides exactly as before: ownership lives in the labels on the daemon', async () => {
    const second = await startGateway({ socket, policy: ISOLATION_POLICY, clients: CLIENTS })
    try {
      expect(await ok(on(() => second, 'alpha')(['ps', '--format', '{{.Names}}']))).toContain(name('a'))
      expect(await ok(on(() => second, 'beta')(['ps', '--format', '{{.Names}}']))).not.toContain(name('a'))
      const hidden = await on(() => second, 'beta')(['inspect', name('a')])
      expect(hidden.stderr).toContain(`No such object: ${name('a')}`)
    } finally {
      await second.close()
    }
  })

  it('in dry-run (mode: audit) a team still sees and touches everything, and the trail says what isolation would refuse', async () => {
    const dry = await startGateway({ socket, policy: ISOLATION_POLICY.replace('  beta:\n    allow', '  beta:\n    mode: audit\n    allow'), clients: CLIENTS })
    try {
      expect(await ok(on(() => dry, 'beta')(['ps', '--format', '{{.Names}}']))).toContain(name('a'))
      expect(await ok(on(() => dry, 'beta')(['inspect', '--format', '{{.Name}}', name('a')]))).toBe(`/${name('a')}\n`)
      const record = dry.records().find((r) => r.stage === 'ResponseComplete' && r.request?.path === `/containers/${name('a')}/json`)
      expect(record?.decision).toBe('would-deny')
      expect(record?.code).toBe('DG_OWNER_HIDDEN')
      expect(record?.status).toBe(200)
    } finally {
      await dry.close()
    }
  })

  it('records the refusal of a hidden object with the real reason, and answers the client as the daemon would', async () => {
    await beta(['inspect', name('a')])
    const refused = gw.records().filter((r) => r.stage === 'Refused' && r.code === 'DG_OWNER_HIDDEN')
    const record = refused.find((r) => r.request?.path === `/containers/${name('a')}/json`)
    expect(record?.reason).toBe(`container ${name('a')} is not visible to beta`)
    expect(record?.identity?.teams).toEqual(['beta'])
  })

  it('dockgate owners list names each object\'s team, and orphans finds one made directly on the socket', async () => {
    const owners = async (...args: string[]): Promise<{ code: number; stdout: string }> => {
      try {
        return { code: 0, stdout: (await run(process.execPath, [CLI, 'owners', ...args, '--upstream', `unix://${socket}`])).stdout }
      } catch (err) {
        const failed = err as { code: number; stdout: string }
        return { code: failed.code, stdout: failed.stdout }
      }
    }
    const list = JSON.parse((await owners('list', '--json')).stdout) as Array<{ kind: string; name: string; owner: string | null }>
    expect(list).toContainEqual(expect.objectContaining({ kind: 'container', name: name('a'), owner: 'alpha' }))
    await run('docker', ['-H', `unix://${socket}`, 'create', '--name', name('direct'), '--network', 'none', IMAGE, 'true'])
    const orphans = await owners('orphans')
    expect(orphans.code).toBe(1)
    expect(orphans.stdout).toMatch(new RegExp(`^container +[0-9a-f]{12} +${name('direct')} +-$`, 'm'))
    expect(orphans.stdout).not.toContain(name('a'))
  })
})
