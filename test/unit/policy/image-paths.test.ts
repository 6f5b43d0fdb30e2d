/**
 * Issue 10: how each path an image enters by is judged (services, pulls,
 * imports, tags, commits, loads, builds) and what `policy explain` shows.
 */
import { describe, expect, it } from 'vitest'
import { canonicalize, explain, type Verdict } from '../../../src/policy/index.js'
import { formatExplanation } from '../../../src/cli/explain-format.js'
import { IMAGES_POLICY } from '../../support/images-policy.js'
import { judgeAll, member, policyFrom, show as shown } from '../../support/judge.js'

const D = `sha256:${'d'.repeat(64)}`
const ID = 'f'.repeat(64)
const policy = policyFrom(IMAGES_POLICY)

/** A verdict as one line, without the `dockgate: ` every refusal message starts with. */
const show = (verdict: Verdict): string => shown(verdict).replace(' dockgate: ', ' ')
const post = (target: string, who = 'ci', body?: unknown): string => show(judgeAll(policy, member(who), 'POST', target, body))

describe('services', () => {
  const spec = (image: string, limits: Record<string, unknown> | null): unknown =>
    ({ TaskTemplate: { ContainerSpec: { Image: image }, ...(limits === null ? {} : { Resources: { Limits: limits } }) } })
  const LIM = { MemoryBytes: 1024 ** 3, NanoCPUs: 1e9, Pids: 10 }
  it.each([
    [spec('alpine:3.19', LIM), 'allow'],
    [spec(`registry.example.com/ci/app:1@${D}`, LIM), 'allow'],
    [spec('ubuntu', LIM), 'deny DG_IMAGE_DENIED ci may not use image docker.io/library/ubuntu:latest (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)'],
    [spec('alpine:3.19', null), 'deny DG_BODY_DENIED ci must set a memory limit (resources.memory: 2g)'],
    [spec('alpine:3.19', { ...LIM, NanoCPUs: 3e9 }), 'deny DG_BODY_DENIED ci may not set cpus 3 (resources.cpus: at most 2)'],
    [spec('cafe', LIM), 'deny DG_IMAGE_DENIED ci may not use image cafe for a service: it may be a short image id, which each node resolves on its own; use a full id or a name (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)']
  ])('service %j: %s', (body, expected) => {
    expect(post('/services/create', 'ci', body)).toBe(expected)
    expect(post('/services/x/update', 'ci', body)).toBe(expected)
  })
})

describe('a service by full image id', () => {
  it('is resolved like a create', () => {
    const verdict = judgeAll(policy, member('ci'), 'POST', '/services/create', { TaskTemplate: { ContainerSpec: { Image: ID }, Resources: { Limits: { MemoryBytes: 1, NanoCPUs: 1, Pids: 1 } } } })
    expect(verdict.images?.refs).toEqual([ID])
  })
})

describe('a create without an image', () => {
  it('is refused to a team with images, allowed to others', () => {
    expect(post('/containers/create', 'ci', { Cmd: ['/srv/x'], HostConfig: { Memory: 1, NanoCpus: 1, PidsLimit: 1 } })).toBe(
      'deny DG_IMAGE_DENIED ci may not create a container without an image (Image is empty): its programs would come from its mounts, not from an allowed image (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)')
    expect(post('/containers/create', 'open', { Cmd: ['/srv/x'] })).toBe('allow')
    expect(post('/containers/create', 'pin', { Cmd: ['/srv/x'] })).toBe('allow')
  })
})

describe('image endpoints judged by query', () => {
  const allowed = '(allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)'
  it.each([
    ['/images/create?fromImage=alpine&tag=3.19', 'allow'],
    ['/images/create?fromImage=alpine:3.19', 'allow'],
    ['/images/create?fromImage=registry.example.com%2Fci%2Fapp&tag=1', 'allow'],
    [`/images/create?fromImage=alpine&tag=${D}`, `deny DG_IMAGE_DENIED ci may not pull image docker.io/library/alpine@${D} ${allowed}`],
    [`/images/create?fromImage=busybox&tag=${D}`, 'allow'],
    ['/images/create?fromImage=alpine', `deny DG_IMAGE_DENIED ci may not pull image docker.io/library/alpine (every tag) ${allowed}`],
    ['/images/create?fromImage=busybox', 'allow'],
    ['/images/create?fromImage=alpine:', `deny DG_IMAGE_DENIED ci may not pull image docker.io/library/alpine (every tag) ${allowed}`],
    ['/images/create?fromImage=alpine:3.19&tag=edge', `deny DG_IMAGE_DENIED ci may not pull image docker.io/library/alpine:edge ${allowed}`],
    ['/images/create?fromImage=evil.example.com%2Fci%2Fapp&tag=1', `deny DG_IMAGE_DENIED ci may not pull image evil.example.com/ci/app:1 ${allowed}`],
    ['/images/create?fromimage=ubuntu&fromImage=alpine&tag=3.1&fromImage=ubuntu', 'allow'],
    ['/images/create?fromSrc=-&repo=alpine&tag=3.1', `deny DG_IMAGE_DENIED ci may not import an image (docker import): an imported image cannot be judged by name, its content is whatever the tarball holds ${allowed}`],
    ['/images/load', `deny DG_IMAGE_DENIED ci may not load images (docker load): docker load cannot be judged, its tags come from the tarball ${allowed}`],
    ['/build?t=alpine:3.1', `deny DG_IMAGE_DENIED ci may not build images: builds are not judged by their FROM lines yet (the base images come from the streamed build context) ${allowed}`],
    ['/images/alpine:3.1/tag?repo=registry.example.com/ci/app&tag=2', 'allow'],
    ['/images/ubuntu/tag?repo=registry.example.com/ci/app&tag=2', `deny DG_IMAGE_DENIED ci may not tag image docker.io/library/ubuntu:latest ${allowed}`],
    ['/images/registry.example.com/ci/app/tag?repo=ubuntu&tag=2', `deny DG_IMAGE_DENIED ci may not name an image docker.io/library/ubuntu:2 ${allowed}`],
    ['/images/alpine:3.1/tag?repo=alpine', `deny DG_IMAGE_DENIED ci may not name an image docker.io/library/alpine:latest ${allowed}`],
    ['/commit?container=c&repo=registry.example.com/ci/app&tag=x', 'allow'],
    ['/commit?container=c&repo=ubuntu&tag=x', `deny DG_IMAGE_DENIED ci may not name an image docker.io/library/ubuntu:x ${allowed}`],
    ['/commit?container=c', 'allow']
  ])('%s: %s', (target, expected) => {
    expect(post(target)).toBe(expected)
  })

  it('a tag source that is an id is allowed pending resolution; the new name is still judged', () => {
    const verdict = judgeAll(policy, member('ci'), 'POST', `/images/${ID}/tag?repo=registry.example.com/ci/app&tag=1`)
    expect(verdict.outcome).toBe('allow')
    expect(verdict.images?.refs).toEqual([ID])
    expect(post(`/images/${ID}/tag?repo=ubuntu&tag=1`)).toMatch(/^deny DG_IMAGE_DENIED ci may not name an image docker.io\/library\/ubuntu:1/)
  })

  it('a team without image rules may use every path', () => {
    for (const target of ['/images/load', '/images/create?fromSrc=-', '/build', '/images/create?fromImage=ubuntu']) expect(post(target, 'open')).toBe('allow')
    expect(post('/images/create?fromImage=ubuntu', 'pin')).toMatch(/^deny DG_IMAGE_DENIED pin may not pull image docker.io\/library\/ubuntu \(every tag\)/)
    expect(post('/images/load', 'pin')).toBe('allow')
  })

  it('refuses a form-encoded body, whose parameters the daemon would read too', () => {
    const verdict = judgeAll(policy, member('ci'), 'POST', '/images/create?fromImage=alpine&tag=3.1', 'fromImage=ubuntu', { contentTypes: ['application/x-www-form-urlencoded'] })
    expect(show(verdict)).toMatch(/^deny DG_BODY_MEDIA_TYPE/)
  })
})

describe('policy explain', () => {
  const explainOf = (target: string, body: unknown, who = 'ci'): readonly string[] => {
    const canonical = canonicalize(target)
    if (!canonical.ok) throw new Error(canonical.reason)
    const request = { principal: member(who), method: 'POST', target: canonical.target, contentTypes: body === undefined ? [] : ['application/json'] }
    return explain(policy, request, body === undefined ? null : new TextEncoder().encode(JSON.stringify(body))).containerDecisions
  }

  it('shows each image and limit decision of the deciding team, and the quota at create', () => {
    expect(explainOf('/containers/create', { Image: 'alpine:3.19', HostConfig: { Memory: 4 * 1024 ** 3, NanoCpus: 1e9 } })).toEqual([
      'image docker.io/library/alpine:3.19 (Image, run): allowed by containers.images: [registry.example.com/ci/**, alpine:3.*, docker.io/library/busybox]',
      'memory 4g (HostConfig.Memory): refused by containers.resources.memory: 2g: ci may not set memory 4g (resources.memory: at most 2g)',
      'cpus 1 (HostConfig.NanoCpus): allowed by containers.resources.cpus: 2',
      'pids no limit (HostConfig.PidsLimit): refused by containers.resources.pids: 1024: ci must set a pids limit (resources.pids: 1024)',
      'quota containers 20, memory 16g of team ci: counted and enforced by the gateway at create, not by explain'
    ])
    expect(explainOf(`/images/${ID}/tag?repo=ubuntu`, undefined)[0]).toBe(
      `image sha256:${ID} (the image to tag, source): allowed only if the image the daemon resolves it to is (an image id or possible id prefix: the gateway inspects it), by containers.images: [registry.example.com/ci/**, alpine:3.*, docker.io/library/busybox]`)
    expect(explainOf('/images/create?fromImage=ubuntu', undefined, 'open')).toEqual([
      'image docker.io/library/ubuntu:latest (every tag) (fromImage, pull): allowed by no containers.images or requireDigest (any image)'
    ])
  })
})

describe('policy explain output', () => {
  it('prints the checks and the images to resolve', () => {
    const canonical = canonicalize(`/images/${ID}/tag?repo=registry.example.com/ci/app&tag=1`)
    if (!canonical.ok) throw new Error(canonical.reason)
    const explanation = explain(policy, { principal: member('ci'), method: 'POST', target: canonical.target, contentTypes: [] }, null)
    const text = formatExplanation(policy, explanation, 'CN=ci-1,OU=ci')
    expect(text).toContain('checks:   image registry.example.com/ci/app:1 (repo and tag, name): allowed by containers.images: [registry.example.com/ci/**, alpine:3.*, docker.io/library/busybox]\n')
    expect(text).toContain(`images:   ${ID} must be resolved on the daemon; allowed only if the image's own names match the rules of ci\n`)
  })
})
