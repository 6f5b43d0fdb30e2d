/**
 * An image allowlist over a real registry (the loopback registry the test
 * run starts): a team limited to one repository of the registry pulls from
 * it by tag and by digest, and runs what it pulled; a pull of another
 * repository of the same registry is refused before it reaches the
 * registry, and nothing of it lands on the daemon.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, type CliResult } from '../support/clients.js'

const socket = inject('dockerSocket')
const registry = inject('registry')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)

describe.skipIf(socket === '' || registry === '')('an image allowlist against a real registry', () => {
  let gw: TestGateway
  let digest = ''
  const allowed = `${registry}/dg-allowed-${tag}/app`
  const other = `${registry}/dg-other-${tag}/app`
  const admin = async (args: string[]): Promise<CliResult> => await docker(gw.port, gw.pki.bundle('admin'), args)
  const ci = async (args: string[]): Promise<CliResult> => await docker(gw.port, gw.pki.bundle('ci'), args)

  beforeAll(async () => {
    const policy = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ci }
    teams: [ci]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow: ["* /**"]
    containers:
      images: ["${registry}/dg-allowed-${tag}/**"]
`
    gw = await startGateway({ socket, policy, clients: [{ name: 'admin', ous: ['platform'] }, { name: 'ci', ous: ['ci'] }] })
    for (const ref of [`${allowed}:1`, `${other}:1`]) {
      expect((await admin(['tag', IMAGE, ref])).code).toBe(0)
      expect((await admin(['push', ref])).code).toBe(0)
      expect((await admin(['rmi', ref])).code).toBe(0)
    }
    await admin(['pull', `${allowed}:1`])
    digest = (await admin(['image', 'inspect', '--format', '{{index .RepoDigests 0}}', `${allowed}:1`])).stdout.trim()
    expect(digest).toMatch(/@sha256:[0-9a-f]{64}$/)
    await admin(['rmi', `${allowed}:1`])
  })
  afterAll(async () => {
    await admin(['rmi', '-f', `${allowed}:1`, digest, `${other}:1`])
    await gw?.close()
  })

  it('pulls the allowed repository by tag and by digest, and runs it', async () => {
    expect((await ci(['pull', digest])).code).toBe(0)
    expect((await ci(['pull', `${allowed}:1`])).code).toBe(0)
    const ran = await ci(['run', '--rm', '--network', 'none', digest, 'echo', 'pulled'])
    expect(ran.stdout).toBe('pulled\n')
  })

  it('refuses another repository of the same registry, naming the image and the pattern, and it never lands', async () => {
    const pulled = await ci(['pull', `${other}:1`])
    expect(pulled.code).not.toBe(0)
    expect(pulled.stderr).toContain(`dockgate: ci may not pull image ${other}:1 (allowed: ${registry}/dg-allowed-${tag}/**)`)
    expect((await admin(['image', 'inspect', `${other}:1`])).code).not.toBe(0)
  })
})
