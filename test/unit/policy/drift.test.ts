import { describe, expect, it } from 'vitest'
import { imageDrift, judgeExisting, loadPolicy, quotaDrifts, type Policy } from '../../../src/policy/index.js'

function policyOf (text: string): Policy {
  const result = loadPolicy({ file: 'p.yaml', text })
  if (!result.ok) throw new Error(JSON.stringify(result.diagnostics))
  return result.value
}

const POLICY = policyOf(`version: 1
identities:
  - match: { ou: web }
    teams: [web]
teams:
  web:
    ownership: true
    allow: ["@containers-run", "POST /volumes/create"]
    quota: { containers: 2, memory: 1g }
    containers:
      images: ["registry.example.com/web/**"]
      bindMounts: ["/srv/web/**"]
      resources: { memory: 512m }
  readers:
    allow: ["@read-only"]
`)

const body = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value))
const messages = (j: { drifts: ReadonlyArray<{ message: string }> }): string[] => j.drifts.map((d) => d.message)

describe('drift: an existing object judged as its create', () => {
  it('reports every setting the owner team no longer allows, not only the first', () => {
    const judged = judgeExisting(POLICY, 'web', 'container', body({
      Image: 'docker.io/library/alpine:3.20',
      HostConfig: { Privileged: true, Binds: ['/etc:/host-etc'], Memory: 1024 * 1024 * 1024 }
    }))
    expect(messages(judged)).toEqual([
      'web may not create a privileged container',
      'web may not bind-mount /etc (HostConfig.Binds[0]) (allowed: /srv/web/**)',
      expect.stringMatching(/^web may not use image docker.io\/library\/alpine:3.20/),
      expect.stringMatching(/^web may not set memory .*512m/)
    ])
    expect(judged.drifts.map((d) => d.code)).toEqual(['DG_BODY_DENIED', 'DG_BODY_DENIED', 'DG_IMAGE_DENIED', expect.any(String)])
    expect(judged.drifts[1]?.rule?.line).toBe(12)
  })

  it('passes a container the policy still allows', () => {
    const judged = judgeExisting(POLICY, 'web', 'container', body({ Image: 'registry.example.com/web/app:1', HostConfig: { Binds: ['/srv/web/data:/data'], Memory: 256 * 1024 * 1024 } }))
    expect(judged).toEqual({ drifts: [], unresolved: [] })
  })

  it('hands image ids back to be resolved on the daemon, and judges what they resolve to', () => {
    const id = 'sha256:' + 'a'.repeat(64)
    const judged = judgeExisting(POLICY, 'web', 'container', body({ Image: id, HostConfig: { Memory: 1024 } }))
    expect(judged).toEqual({ drifts: [], unresolved: [id] })
    expect(imageDrift(POLICY, 'web', id, ['registry.example.com/web/app:1'])).toBeNull()
    expect(imageDrift(POLICY, 'web', id, ['alpine:3.20'])?.message).toBe(`web may not use image ${id}: the image is alpine:3.20`)
    expect(imageDrift(POLICY, 'web', id, null)?.code).toBe('DG_IMAGE_DENIED')
  })

  it('finds a team that may no longer create such objects at all, and an owner team the policy no longer has', () => {
    expect(messages(judgeExisting(POLICY, 'readers', 'network', body({})))).toEqual(['readers may not POST /networks/create any more (no rule allows it)'])
    expect(messages(judgeExisting(POLICY, 'gone', 'volume', body({ Name: 'v' })))).toEqual(['its owner team gone is not in the policy (teams: web, readers)'])
  })

  it('judges a volume by its driver options, and an object nobody owns against the defaults', () => {
    const bound = judgeExisting(POLICY, 'web', 'volume', body({ Name: 'v', Driver: 'local', DriverOpts: { type: 'none', o: 'bind', device: '/etc' } }))
    expect(messages(bound)).toEqual([expect.stringMatching(/^web may not bind-mount \/etc/)])
    expect(messages(judgeExisting(POLICY, null, 'container', body({ Image: 'x', HostConfig: { PidMode: 'host' } })))).toEqual(['a team without containers: settings may not use a host namespace (HostConfig.PidMode=host)'])
  })

  it('counts a quota oldest first: the containers past it are the newest', () => {
    const mb = 1024 * 1024
    const found = quotaDrifts(POLICY, 'web', [
      { id: 'c3', created: 3, memory: 100 * mb },
      { id: 'c1', created: 1, memory: 100 * mb },
      { id: 'c2', created: 2, memory: 100 * mb }
    ])
    expect([...found.keys()]).toEqual(['c3'])
    expect(found.get('c3')?.message).toBe('web may not create another container: quota containers 2 reached (2 in use)')
    expect(quotaDrifts(POLICY, 'web', [{ id: 'c1', created: 1, memory: 0 }]).get('c1')?.message).toMatch(/^web must set a memory limit/)
    expect(quotaDrifts(POLICY, 'readers', [{ id: 'c1', created: 1, memory: 0 }]).size).toBe(0)
  })
})
