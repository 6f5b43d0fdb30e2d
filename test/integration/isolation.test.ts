/**
 * Two ownership teams and an admin team share one real daemon through one
 * dockgate, each with the stock docker CLI: each team sees and touches only
 * its own containers, volumes and networks, and another team's objects
 * answer exactly as missing ones do; the admin sees everything.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, rawRequest, type CliResult } from '../support/clients.js'
import { ISOLATION_POLICY } from '../support/isolation.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const name = (what: string): string => `dg-${tag}-${what}`

describe.skipIf(socket === '')('team isolation through the docker CLI, real daemon', () => {
  let gw: TestGateway
  const as = (who: 'admin' | 'alpha' | 'beta') => async (args: string[], input?: string): Promise<CliResult> =>
    await docker(gw.port, gw.pki.bundle(who), args, input === undefined ? {} : { input })
  const admin = as('admin')
  const alpha = as('alpha')
  const beta = as('beta')
  const ok = async (result: Promise<CliResult>): Promise<string> => {
    const done = await result
    expect(done.stderr.replace(/DEPRECATED[\s\S]*?variable\.\n\n?/, ''), done.stderr).toBe('')
    expect(done.code).toBe(0)
    return done.stdout
  }
  let alphaId = ''

  beforeAll(async () => {
    gw = await startGateway({
      socket,
      policy: ISOLATION_POLICY,
      clients: [{ name: 'admin', ous: ['platform'] }, { name: 'alpha', ous: ['alpha'] }, { name: 'beta', ous: ['beta'] }]
    })
    alphaId = (await ok(alpha(['run', '-d', '--name', name('a'), '--network', 'none', '-l', 'app=web', IMAGE, 'sleep', '600']))).trim()
    await ok(beta(['run', '-d', '--name', name('b'), '--network', 'none', IMAGE, 'sleep', '600']))
    await ok(alpha(['volume', 'create', name('va')]))
    await ok(beta(['volume', 'create', name('vb')]))
    await ok(alpha(['network', 'create', '--internal', name('na')]))
  })
  afterAll(async () => {
    await admin(['rm', '-f', name('a'), name('b'), name('a2'), name('pruned')])
    await admin(['volume', 'rm', '-f', name('va'), name('vb'), name('auto')])
    await admin(['network', 'rm', name('na')])
    await gw?.close()
  })

  it('labels what a team creates with its owner, keeping its own labels', async () => {
    const labels = JSON.parse(await ok(admin(['inspect', '--format', '{{json .Config.Labels}}', name('a')]))) as Record<string, string>
    expect(labels).toEqual({ app: 'web', 'dockgate.owner': 'alpha' })
    expect((await ok(admin(['volume', 'inspect', '--format', '{{index .Labels "dockgate.owner"}}', name('vb')]))).trim()).toBe('beta')
    expect((await ok(admin(['network', 'inspect', '--format', '{{index .Labels "dockgate.owner"}}', name('na')]))).trim()).toBe('alpha')
  })

  it('a team uses its own containers as if the host were its own: run -i with stdin, exec -i, logs', async () => {
    expect(await ok(alpha(['run', '-i', '--rm', '--network', 'none', IMAGE, 'cat'], 'hi\n'))).toBe('hi\n')
    expect(await ok(alpha(['exec', '-i', name('a'), 'wc', '-c'], 'twelve bytes'))).toBe('12\n')
    expect(await ok(alpha(['exec', alphaId.slice(0, 8), 'echo', 'by prefix']))).toBe('by prefix\n')
    expect(await ok(alpha(['logs', name('a')]))).toBe('')
  })

  it('docker ps -a, volume ls and network ls show each team only its own; the admin sees both', async () => {
    const alphaPs = await ok(alpha(['ps', '-a', '--format', '{{.Names}}']))
    expect(alphaPs).toContain(name('a'))
    expect(alphaPs).not.toContain(name('b'))
    const betaPs = await ok(beta(['ps', '-a', '--format', '{{.Names}}']))
    expect(betaPs).toContain(name('b'))
    expect(betaPs).not.toContain(name('a'))
    const adminPs = await ok(admin(['ps', '-a', '--format', '{{.Names}}']))
    expect(adminPs).toContain(name('a'))
    expect(adminPs).toContain(name('b'))
    const volumes = await ok(alpha(['volume', 'ls', '--format', '{{.Name}}']))
    expect(volumes).toContain(name('va'))
    expect(volumes).not.toContain(name('vb'))
    const networks = await ok(beta(['network', 'ls', '--format', '{{.Name}}']))
    expect(networks).not.toContain(name('na'))
  })

  it('another team\'s container is "No such container" by name, id and id prefix, for logs, exec, inspect, stop and rm', async () => {
    for (const ref of [name('a'), alphaId, alphaId.slice(0, 6)]) {
      for (const args of [['logs', ref], ['exec', ref, 'true'], ['inspect', ref], ['stop', '-t', '0', ref], ['rm', ref]]) {
        const result = await beta(args)
        expect(result.code, `beta ${args.join(' ')}`).not.toBe(0)
        expect(result.stderr, `beta ${args.join(' ')}`).toMatch(new RegExp(`No such (container|object): ${ref}`))
      }
    }
    // rm -f succeeds for a missing container, so it does for a hidden one: and removes nothing.
    expect((await beta(['rm', '-f', name('a')])).code).toBe(0)
    expect((await ok(alpha(['inspect', '--format', '{{.State.Running}}', name('a')]))).trim()).toBe('true')
  })

  it('the hidden container answers byte for byte as a container that does not exist', async () => {
    const hidden = await rawRequest(gw.port, gw.pki.bundle('beta'), 'GET', `/v1.41/containers/${name('a')}/json`)
    const missing = await rawRequest(gw.port, gw.pki.bundle('beta'), 'GET', `/v1.41/containers/${name('none')}/json`)
    expect(hidden.status).toBe(404)
    expect(hidden.headers['content-type']).toBe(missing.headers['content-type'])
    expect(hidden.body).toBe(missing.body.replace(name('none'), name('a')))
  })

  it('volume rm and inspect of another team\'s volume say it does not exist', async () => {
    const result = await beta(['volume', 'rm', name('va')])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain(`get ${name('va')}: no such volume`)
    expect((await ok(admin(['volume', 'ls', '--format', '{{.Name}}'])))).toContain(name('va'))
  })

  it('refuses --volumes-from, --network container: and a named volume of another team', async () => {
    const from = await beta(['run', '--rm', '--network', 'none', '--volumes-from', name('a'), IMAGE, 'true'])
    expect(from.code).not.toBe(0)
    expect(from.stderr).toContain(`No such container: ${name('a')}`)
    const netns = await beta(['run', '--rm', '--network', `container:${name('a')}`, IMAGE, 'true'])
    expect(netns.code).not.toBe(0)
    expect(netns.stderr).toContain(`No such container: ${name('a')}`)
    const mount = await beta(['run', '--rm', '--network', 'none', '-v', `${name('va')}:/data`, IMAGE, 'true'])
    expect(mount.code).not.toBe(0)
    expect(mount.stderr).toContain('dockgate:')
    // The admin's view: alpha's volume was not taken over, nothing of beta's mounts it.
    expect((await ok(admin(['volume', 'inspect', '--format', '{{index .Labels "dockgate.owner"}}', name('va')]))).trim()).toBe('alpha')
  })

  it('a named volume a team mounts before creating it is created as its own', async () => {
    expect(await ok(alpha(['run', '--rm', '--network', 'none', '-v', `${name('auto')}:/data`, IMAGE, 'sh', '-c', 'echo kept > /data/f']))).toBe('')
    expect((await ok(admin(['volume', 'inspect', '--format', '{{index .Labels "dockgate.owner"}}', name('auto')]))).trim()).toBe('alpha')
    expect(await ok(alpha(['volume', 'ls', '--format', '{{.Name}}']))).toContain(name('auto'))
  })

  it('refuses a forged owner label with a message that says why', async () => {
    const forged = await beta(['run', '--rm', '--network', 'none', '-l', 'dockgate.owner=alpha', IMAGE, 'true'])
    expect(forged.code).not.toBe(0)
    expect(forged.stderr).toMatch(/dockgate: .*dockgate\.owner/)
    const volume = await beta(['volume', 'create', '--label', 'dockgate.owner=alpha', name('forged')])
    expect(volume.code).not.toBe(0)
    expect(volume.stderr).toMatch(/dockgate: .*dockgate\.owner/)
  })

  it('refuses to create a volume under a name another team\'s volume holds (the daemon would return that volume)', async () => {
    const taken = await beta(['volume', 'create', name('va')])
    expect(taken.code).not.toBe(0)
    expect(taken.stderr).toContain(`dockgate: the volume name ${name('va')} is held by another team's volume`)
  })

  it('container prune removes only the team\'s own stopped containers', async () => {
    await ok(alpha(['create', '--name', name('pruned'), '--network', 'none', IMAGE, 'true']))
    await ok(beta(['create', '--name', name('a2'), '--network', 'none', IMAGE, 'true']))
    const pruned = await ok(beta(['container', 'prune', '-f']))
    expect(pruned).not.toContain(alphaId)
    const all = await ok(admin(['ps', '-a', '--format', '{{.Names}}']))
    expect(all).toContain(name('pruned'))
    expect(all).not.toContain(name('a2'))
  })

  it('docker events shows a team only its own containers', async () => {
    const now = Math.floor(Date.now() / 1000)
    const events = beta(['events', '--since', String(now), '--until', String(now + 8), '--format', '{{.Actor.Attributes.name}}'])
    await ok(alpha(['run', '--rm', '--network', 'none', '--name', name('ev-a'), IMAGE, 'true']))
    await ok(beta(['run', '--rm', '--network', 'none', '--name', name('ev-b'), IMAGE, 'true']))
    const seen = await ok(events)
    expect(seen).toContain(name('ev-b'))
    expect(seen).not.toContain(name('ev-a'))
  })
})
