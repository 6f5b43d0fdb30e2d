/**
 * Per-team image allowlists, resource caps and quotas, with the stock
 * docker CLI against a real daemon: an image outside the allowlist cannot
 * be run by name, full id or short id, retagged into an allowed name,
 * pulled from another registry, loaded, imported or built; limits must be
 * set and within the caps, on run and on update; a quota is reached, freed
 * by removal, and never exceeded by parallel creates.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, type CliResult } from '../support/clients.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const FORBIDDEN = `dg-forbidden-${tag}/app:1`
const LIMITS = ['-m', '32m', '--cpus', '0.5', '--pids-limit', '50']

const POLICY = `version: 1
defaults: { ownership: true }
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ci }
    teams: [ci]
teams:
  platform:
    ownership: false
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow: ["* /**"]
    containers:
      images: ["docker.io/dockgate-test/busybox:*"]
      resources: { memory: 64m, cpus: 1, pids: 100 }
    quota: { containers: 2, memory: 128m }
`

describe.skipIf(socket === '')('images, resources and quotas through the docker CLI, real daemon', () => {
  let gw: TestGateway
  let forbiddenId = ''
  const admin = async (args: string[]): Promise<CliResult> => await docker(gw.port, gw.pki.bundle('admin'), args)
  const ci = async (args: string[]): Promise<CliResult> => await docker(gw.port, gw.pki.bundle('ci'), args)
  const refused = async (args: string[], message: string | RegExp): Promise<void> => {
    const result = await ci(args)
    expect(result.code, `ci ${args.join(' ')}`).not.toBe(0)
    expect(result.stderr, `ci ${args.join(' ')}`).toMatch(message)
  }
  const ciContainers = async (): Promise<string[]> => (await admin(['ps', '-a', '--filter', 'label=dockgate.owner=ci', '--format', '{{.Names}}'])).stdout.split('\n').filter((n) => n !== '')

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: POLICY, clients: [{ name: 'admin', ous: ['platform'] }, { name: 'ci', ous: ['ci'] }] })
    // An image with content of its own (so its id is its own), outside ci's allowlist.
    await admin(['run', '--name', `dg-${tag}-src`, '--network', 'none', IMAGE, 'sh', '-c', 'echo other > /other'])
    await admin(['commit', `dg-${tag}-src`, FORBIDDEN])
    await admin(['rm', `dg-${tag}-src`])
    forbiddenId = (await admin(['image', 'inspect', '--format', '{{.Id}}', FORBIDDEN])).stdout.trim()
    expect(forbiddenId).toMatch(/^sha256:[0-9a-f]{64}$/)
  })
  afterAll(async () => {
    const names = await ciContainers()
    if (names.length > 0) await admin(['rm', '-f', ...names])
    await admin(['rmi', '-f', FORBIDDEN])
    await gw?.close()
  })

  it('runs an allowed image with limits within the caps', async () => {
    const result = await ci(['run', '--rm', '--network', 'none', ...LIMITS, IMAGE, 'echo', 'allowed'])
    expect(result.stdout).toBe('allowed\n')
    expect(result.code).toBe(0)
  })

  it('refuses an image outside the allowlist by name, full id and short id, naming the image and the patterns', async () => {
    await refused(['run', '--rm', '--network', 'none', ...LIMITS, FORBIDDEN, 'true'], /dockgate: ci may not use image docker\.io\/dg-forbidden-\w+\/app:1.*docker\.io\/dockgate-test\/busybox:\*/)
    await refused(['run', '--rm', '--network', 'none', ...LIMITS, forbiddenId, 'true'], /dockgate: .*ci may not use image/)
    await refused(['run', '--rm', '--network', 'none', ...LIMITS, forbiddenId.slice(7, 19), 'true'], /dockgate: .*ci may not use image/)
    expect(await ciContainers()).toEqual([])
  })

  it('refuses retagging a forbidden image into an allowed name, by name and by id, and leaves no tag behind', async () => {
    await refused(['tag', FORBIDDEN, `dockgate-test/busybox:stolen-${tag}`], /dockgate: ci may not tag image docker\.io\/dg-forbidden-\w+\/app:1 \(allowed: /)
    await refused(['tag', forbiddenId, `dockgate-test/busybox:stolen-${tag}`], /dockgate: ci may not (tag|use) image/)
    expect((await admin(['image', 'inspect', `dockgate-test/busybox:stolen-${tag}`])).code).not.toBe(0)
  })

  it('refuses a pull from another registry host without reaching it, and load, import and build, saying why', async () => {
    await refused(['pull', '127.0.0.1:5999/other/app:1'], /dockgate: ci may not pull image 127\.0\.0\.1:5999\/other\/app:1 \(allowed: docker\.io\/dockgate-test\/busybox:\*\)/)
    const tarball = join(gw.dir, 'empty.tar')
    writeFileSync(tarball, Buffer.alloc(1024))
    await refused(['load', '-i', tarball], /dockgate: .*docker load/)
    await refused(['import', tarball, `dockgate-test/busybox:imported-${tag}`], /dockgate: .*import/)
    writeFileSync(join(gw.dir, 'Dockerfile'), `FROM ${FORBIDDEN}\n`)
    await refused(['build', '-t', `dockgate-test/busybox:built-${tag}`, gw.dir], /dockgate: .*build/)
    expect((await admin(['image', 'inspect', `dockgate-test/busybox:built-${tag}`])).code).not.toBe(0)
  })

  it('requires memory, cpus and pids limits within the caps, on run and on update', async () => {
    await refused(['run', '--rm', '--network', 'none', IMAGE, 'true'], /dockgate: ci must set a memory limit/)
    await refused(['run', '--rm', '--network', 'none', '-m', '1g', '--cpus', '0.5', '--pids-limit', '50', IMAGE, 'true'], /dockgate: ci may not set memory/)
    await refused(['run', '--rm', '--network', 'none', '-m', '32m', '--cpus', '2', '--pids-limit', '50', IMAGE, 'true'], /dockgate: ci may not set cpus/)
    await refused(['run', '--rm', '--network', 'none', '-m', '32m', '--cpus', '0.5', IMAGE, 'true'], /dockgate: ci must set a pids limit/)
    const created = await ci(['create', '--name', `dg-${tag}-upd`, '--network', 'none', ...LIMITS, IMAGE, 'true'])
    expect(created.code).toBe(0)
    await refused(['update', '--memory', '1g', '--memory-swap', '2g', `dg-${tag}-upd`], /dockgate: ci may not set memory/)
    await ci(['rm', `dg-${tag}-upd`])
  })

  it('a quota is reached, says so with the limit and the use, and is freed by removal', async () => {
    for (const n of [1, 2]) expect((await ci(['create', '--name', `dg-${tag}-q${n}`, '--network', 'none', ...LIMITS, IMAGE, 'true'])).code).toBe(0)
    await refused(['create', '--name', `dg-${tag}-q3`, '--network', 'none', ...LIMITS, IMAGE, 'true'], /dockgate: ci may not create another container: quota containers 2 reached \(2 in use\)/)
    expect((await ci(['rm', `dg-${tag}-q1`])).code).toBe(0)
    expect((await ci(['create', '--name', `dg-${tag}-q3`, '--network', 'none', ...LIMITS, IMAGE, 'true'])).code).toBe(0)
    await ci(['rm', `dg-${tag}-q2`, `dg-${tag}-q3`])
  })

  it('parallel creates never exceed the quota', async () => {
    const results = await Promise.all([1, 2, 3, 4, 5].map(async (n) => await ci(['create', '--name', `dg-${tag}-p${n}`, '--network', 'none', ...LIMITS, IMAGE, 'true'])))
    expect(results.filter((r) => r.code === 0)).toHaveLength(2)
    for (const failed of results.filter((r) => r.code !== 0)) expect(failed.stderr).toMatch(/quota containers 2 reached/)
    expect(await ciContainers()).toHaveLength(2)
  })
})
