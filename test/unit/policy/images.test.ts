/**
 * Issue 10, the pure side: image allowlists (`containers.images`,
 * `requireDigest`), resource caps (`containers.resources`) and the team
 * `quota:` key; how each path an image enters by is judged; and the
 * resolution of image ids the gateway completes with resolveImages.
 */
import { describe, expect, it } from 'vitest'
import { imageAllowed, loadPolicy, resolveImages, type Verdict } from '../../../src/policy/index.js'
import { compileImagePattern, formatMemory, parseCpus, parseMemory, patternMatches } from '../../../src/policy/images.js'
import { normalizeImageRef } from '../../../src/shared/image-ref.js'
import { IMAGES_POLICY } from '../../support/images-policy.js'
import { judgeAll, member, policyFrom, show as shown } from '../../support/judge.js'

/** A verdict as one line, without the `dockgate: ` every refusal message starts with. */
const show = (verdict: Verdict): string => shown(verdict).replace(' dockgate: ', ' ')

const D = `sha256:${'d'.repeat(64)}`
const ID = 'f'.repeat(64)

const problems = (text: string): string[] => {
  const result = loadPolicy({ file: 'p.yaml', text })
  return result.ok ? [] : result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}

const policy = policyFrom(IMAGES_POLICY)
const LIMITS = { Memory: 1024 ** 3, NanoCpus: 1e9, PidsLimit: 100 }
const create = (image: string, host: Record<string, unknown> = LIMITS, who = 'ci'): string =>
  show(judgeAll(policy, member(who), 'POST', '/containers/create', { Image: image, HostConfig: host }))
const post = (target: string, who = 'ci', body?: unknown): string => show(judgeAll(policy, member(who), 'POST', target, body))

describe('image patterns', () => {
  it.each([
    ['alpine:3.*', 'docker.io/library/alpine:3.*'],
    ['registry.example.com/ci/**', 'registry.example.com/ci/**'],
    ['busybox', 'docker.io/library/busybox'],
    ['index.docker.io/team/*', 'docker.io/team/*'],
    ['localhost:5000/x', 'localhost:5000/x'],
    [`x@${D}`, `docker.io/library/x@${D}`]
  ])('%s is normalised to %s', (text, normalized) => {
    const pattern = compileImagePattern(text)
    expect(typeof pattern === 'string' ? pattern : pattern.normalized).toBe(normalized)
  })

  it.each([
    ['registry.example.com/ci/**', 'registry.example.com/ci/app:1', true],
    ['registry.example.com/ci/**', `registry.example.com/ci/a/b@${D}`, true],
    ['registry.example.com/ci/**', 'registry.example.com/ci:1', false],
    ['registry.example.com/ci/**', 'registry.example.com/cix/app', false],
    ['registry.example.com/ci/**', 'evil.example.com/ci/app', false],
    ['registry.example.com/ci/*', 'registry.example.com/ci/a/b', false],
    ['alpine:3.*', 'alpine:3.19', true],
    ['alpine:3.*', 'alpine', false],
    ['alpine:3.*', 'alpine:edge', false],
    ['alpine:3.*', `alpine:3.19@${D}`, false],
    ['alpine:3.*', 'docker.io/library/alpine:3.1', true],
    ['alpine:3.*', 'other/alpine:3.1', false],
    ['busybox', 'busybox', true],
    ['busybox', `busybox@${D}`, true],
    ['busybox', 'busybox:1.36', true],
    ['busybox', 'busybox/x', false],
    [`busybox@${D}`, `busybox@${D}`, true],
    [`busybox@${D}`, 'busybox:latest', false],
    ['docker.io/*/*', 'library/ubuntu', true],
    ['docker.io/*/*', 'ubuntu', true],
    ['*.example.com/ci/**', 'a.example.com/ci/x', true],
    ['*.example.com/ci/**', 'example.com/ci/x', false],
    ['*.example.com/ci/**', 'a.example.com:5000/ci/x', false]
  ])('%s matches %s: %s', (pattern, text, expected) => {
    const compiled = compileImagePattern(pattern)
    const ref = normalizeImageRef(text)
    if (typeof compiled === 'string' || ref.kind !== 'named') throw new Error('bad row')
    expect(patternMatches(compiled, ref)).toBe(expected)
  })

  it('reports every bad pattern at its place, with what would be valid', () => {
    const text = 'version: 1\nidentities: []\nteams:\n  t:\n    containers:\n      images: ["*/app", "Registry/x", "a/**b", "x@sha256:*", "' + ID + '", "ok/**"]\n'
    const hint = 'patterns are like registry.example.com/ci/**, docker.io/library/alpine:3.* or alpine'
    expect(problems(text)).toEqual([
      `6:16 DG_BAD_VALUE image pattern "*/app" starts with a glob that is not clearly a registry host: write the registry out (docker.io/..., registry.example.com/..., *.example.com/...) so it is clear which registry it means; ${hint}`,
      `6:25 DG_BAD_VALUE image pattern "Registry/x" is not an image reference (lowercase path segments like registry.example.com/team/app, an optional :tag or @sha256:digest); ${hint}`,
      `6:39 DG_BAD_VALUE image pattern "a/**b" has '**' inside a path segment; '**' must be a whole segment; ${hint}`,
      `6:48 DG_BAD_VALUE image pattern "x@sha256:*" must name one exact digest, without a tag or globs (write repository@sha256:HEX, or the repository alone for any digest); ${hint}`,
      `6:62 DG_BAD_VALUE image pattern "${ID}" is an image id, not a name: allow the image by its name or digest; ${hint}`
    ])
  })
})

describe('resource values', () => {
  it.each([
    ['2g', 2 * 1024 ** 3], ['512m', 512 * 1024 ** 2], ['512MiB', 512 * 1024 ** 2], ['1.5G', 1.5 * 1024 ** 3], ['100', 100], ['64 kb', 65536], [1048576, 1048576],
    ['2x', null], ['-1g', null], ['', null], [0, null], ['g', null]
  ])('memory %s is %s bytes', (text, bytes) => {
    expect(parseMemory(text)).toBe(bytes)
  })

  it.each([[2, 2e9], ['1.5', 1.5e9], [0.001, 1e6], ['0.0000000001', null], [0, null], [-1, null], ['two', null]])('cpus %s is %s nano-CPUs', (value, nano) => {
    expect(parseCpus(value)).toBe(nano)
  })

  it('formats sizes as a policy writes them', () => {
    expect([2 * 1024 ** 3, 1536 * 1024, 100].map(formatMemory)).toEqual(['2g', '1536k', '100b'])
  })

  it('compiles caps and the quota onto the team', () => {
    const ci = policy.compiledTeams.find((t) => t.name === 'ci')
    expect(ci?.containers.resources).toEqual({ memory: 2 * 1024 ** 3, nanoCpus: 2e9, pids: 1024 })
    expect(ci?.quota).toEqual({ containers: 20, memory: 16 * 1024 ** 3 })
    expect(policy.compiledTeams.find((t) => t.name === 'open')?.quota).toBeNull()
    expect(ci?.containers.refs['resources.memory'].text).toBe('containers.resources.memory: 2g')
    expect(ci?.containers.refs['resources.memory'].line).toBe(19)
  })

  it('reports bad values, unknown keys and a quota without ownership, all at once', () => {
    const text = [
      'version: 1', 'identities: []', 'teams:', '  t:', '    containers:', '      requireDigest: yes',
      '      resources: { memory: 2x, cpus: -1, pids: 1.5, disk: 1 }', '    quota: { containers: 0, memory: 16g, cpu: 1 }', '  u:', '    ownership: true', '    quota: { memory: 1g }'
    ].join('\n')
    expect(problems(text)).toEqual([
      "6:22 DG_WRONG_TYPE 'teams.t.containers.requireDigest' must be true or false (only name@sha256:... image references), got a string",
      '7:28 DG_BAD_VALUE resources.memory must be a size like 512m or 2g (b, k, m, g, t, p: binary multiples, as docker run -m) or a number of bytes, got "2x"',
      '7:38 DG_BAD_VALUE resources.cpus must be a positive number of CPUs like 2 or 1.5 (as docker run --cpus, at most 9 decimal places), got -1',
      '7:48 DG_BAD_VALUE resources.pids must be a positive whole number like 1024, got 1.5',
      "7:53 DG_UNKNOWN_KEY unknown key 'disk' in teams.t.containers.resources; valid keys: memory, cpus, pids",
      "8:5 DG_BAD_VALUE team t has a quota but not ownership: a quota counts the team's own containers by their owner label; set ownership: true on the team (or defaults: { ownership: true })",
      '8:26 DG_BAD_VALUE quota.containers must be a positive whole number of containers like 20, got 0',
      "8:42 DG_UNKNOWN_KEY unknown key 'cpu' in teams.t.quota; valid keys: containers, memory"
    ])
    expect(problems('version: 1\ndefaults: { ownership: true }\nidentities: []\nteams:\n  t:\n    quota: { containers: 2 }\n')).toEqual([])
    expect(problems('version: 1\ndefaults: { ownership: true }\nidentities: []\nteams:\n  t:\n    ownership: false\n    quota: { containers: 2 }\n')).toHaveLength(1)
  })
})

describe('container create: images', () => {
  it.each([
    ['registry.example.com/ci/app:1', 'allow'],
    [`registry.example.com/ci/app@${D}`, 'allow'],
    ['alpine:3.19', 'allow'],
    ['busybox', 'allow'],
    ['ubuntu:22.04', 'deny DG_IMAGE_DENIED ci may not use image docker.io/library/ubuntu:22.04 (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)'],
    [`alpine:3.19@${D}`, `deny DG_IMAGE_DENIED ci may not use image docker.io/library/alpine:3.19@${D} (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)`],
    ['registry.example.com:5000/ci/app', 'deny DG_IMAGE_DENIED ci may not use image registry.example.com:5000/ci/app:latest (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)'],
    ['UPPER', 'deny DG_IMAGE_DENIED ci may not use image "UPPER": it is not a valid image reference (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)']
  ])('%s: %s', (image, expected) => {
    expect(create(image)).toBe(expected)
  })

  it('reads Image case-insensitively, as dockerd does', () => {
    expect(show(judgeAll(policy, member('ci'), 'POST', '/containers/create', { image: 'ubuntu', HostConfig: LIMITS }))).toMatch(/^deny DG_IMAGE_DENIED/)
    expect(show(judgeAll(policy, member('ci'), 'POST', '/containers/create', { Image: 'alpine:3.1', image: 'ubuntu', HostConfig: LIMITS }))).toMatch(/^deny DG_BODY_AMBIGUOUS/)
  })

  it('requireDigest takes only name@digest references', () => {
    expect(create(`ubuntu@${D}`, {}, 'pin')).toBe('allow')
    expect(create('ubuntu:22.04', {}, 'pin')).toBe('deny DG_IMAGE_DENIED pin may not use image docker.io/library/ubuntu:22.04 (allowed: name@sha256:... references only (requireDigest))')
  })

  it('an id, or a name the daemon may take as an id prefix, is allowed pending resolution, with the teams that may still allow it', () => {
    for (const image of [ID, `sha256:${ID}`, 'fbaa', '0123456789ab', 'sha256:fbaa']) {
      const verdict = judgeAll(policy, member('ci'), 'POST', '/containers/create', { Image: image, HostConfig: LIMITS })
      expect(verdict.outcome).toBe('allow')
      expect(verdict.images?.refs).toEqual([image])
      expect(verdict.images?.teams.map((t) => t.team)).toEqual(['ci'])
      expect(verdict.images?.dryRun).toBe(false)
    }
    expect(judgeAll(policy, member('open'), 'POST', '/containers/create', { Image: ID }).images).toBeUndefined()
  })

  it('a team that allows outright decides before one that needs resolution', () => {
    const verdict = judgeAll(policy, member('both'), 'POST', '/containers/create', { Image: ID })
    expect(verdict.team).toBe('open')
    expect(verdict.images).toBeUndefined()
  })
})

describe('resolveImages and imageAllowed', () => {
  const pending = (image: string, who = 'ci'): Verdict => judgeAll(policy, member(who), 'POST', '/containers/create', { Image: image, HostConfig: LIMITS })
  const rules = policy.compiledTeams.find((t) => t.name === 'ci')?.containers.images
  if (rules === undefined) throw new Error('no ci')

  it('allows an image iff one of its own references is allowed', () => {
    expect(imageAllowed(rules, ['ubuntu:22.04', 'registry.example.com/ci/app:1'])).toBe(true)
    expect(imageAllowed(rules, [`alpine@${D}`])).toBe(false)
    expect(imageAllowed(rules, ['alpine:3.19', `alpine@${D}`])).toBe(true)
    expect(imageAllowed(rules, [])).toBe(false)
    expect(imageAllowed({ patterns: null, requireDigest: false }, [])).toBe(true)
    expect(imageAllowed({ patterns: null, requireDigest: true }, ['ubuntu:1', `ubuntu@${D}`])).toBe(true)
  })

  it('completes the verdict: allowed, refused naming the image, or unknown to the daemon', () => {
    expect(show(resolveImages(pending(ID), new Map([[ID, ['alpine:3.19', `alpine@${D}`]]])))).toBe('allow')
    const done = resolveImages(pending(ID), new Map([[ID, ['alpine:3.19']]]))
    expect(done.images).toBeUndefined()
    expect(done.team).toBe('ci')
    const refused = resolveImages(pending(ID), new Map([[ID, ['ubuntu:22.04']]]))
    expect(show(refused)).toBe(`deny DG_IMAGE_DENIED ci may not use image ${ID}: the image is ubuntu:22.04 (allowed: registry.example.com/ci/**, docker.io/library/alpine:3.*, docker.io/library/busybox)`)
    expect(refused.rule?.text).toBe('containers.images: [registry.example.com/ci/**, alpine:3.*, docker.io/library/busybox]')
    expect(show(resolveImages(pending(ID), new Map([[ID, []]])))).toMatch(/the image has no name or digest/)
    expect(show(resolveImages(pending(ID), new Map([[ID, null]])))).toMatch(/the daemon has no such image, so it cannot be judged/)
    expect(show(resolveImages(pending('cafe'), new Map([['cafe', null]])))).toMatch(/^deny/)
  })

  it('records would-deny in dry-run', () => {
    const verdict = judgeAll(policy, member('dry'), 'POST', '/containers/create', { Image: 'cafe' })
    expect(verdict.images?.dryRun).toBe(true)
    expect(resolveImages(verdict, new Map([['cafe', ['ubuntu:1']]])).outcome).toBe('would-deny')
    expect(show(judgeAll(policy, member('dry'), 'POST', '/containers/create', { Image: 'ubuntu' }))).toMatch(/^would-deny DG_IMAGE_DENIED dry may not use image docker.io\/library\/ubuntu:latest/)
  })

  it('leaves verdicts without images alone', () => {
    const verdict = pending('alpine:3.1')
    expect(resolveImages(verdict, new Map())).toBe(verdict)
  })
})

describe('container create and update: resources', () => {
  const ALPINE = 'alpine:3.19'
  it.each([
    [LIMITS, 'allow'],
    [{ Memory: 1024 ** 3, CpuQuota: 200000, PidsLimit: 1024 }, 'allow'],
    [{ Memory: 1024 ** 3, CpuQuota: 100000, CpuPeriod: 50000, PidsLimit: 1 }, 'allow'],
    [{ NanoCpus: 1e9, PidsLimit: 1 }, 'deny DG_BODY_DENIED ci must set a memory limit (resources.memory: 2g)'],
    [{ Memory: 4 * 1024 ** 3, NanoCpus: 1e9, PidsLimit: 1 }, 'deny DG_BODY_DENIED ci may not set memory 4g (resources.memory: at most 2g)'],
    [{ Memory: 1, NanoCpus: 4e9, PidsLimit: 1 }, 'deny DG_BODY_DENIED ci may not set cpus 4 (resources.cpus: at most 2)'],
    [{ Memory: 1, CpuQuota: 300000, PidsLimit: 1 }, 'deny DG_BODY_DENIED ci may not set cpus 3 (resources.cpus: at most 2)'],
    [{ Memory: 1, CpuQuota: -1, PidsLimit: 1 }, 'deny DG_BODY_DENIED ci must set a cpus limit (resources.cpus: 2)'],
    [{ Memory: 1, NanoCpus: 1, PidsLimit: 0 }, 'deny DG_BODY_DENIED ci must set a pids limit (resources.pids: 1024)'],
    [{ Memory: 1, NanoCpus: 1, PidsLimit: -1 }, 'deny DG_BODY_DENIED ci must set a pids limit (resources.pids: 1024)'],
    [{ Memory: 1, NanoCpus: 1, PidsLimit: 2048 }, 'deny DG_BODY_DENIED ci may not set pids 2048 (resources.pids: at most 1024)'],
    [{ Memory: 1.5, NanoCpus: 1, PidsLimit: 1 }, 'deny DG_BODY_INVALID POST /containers/create: request body field HostConfig.Memory must be a whole number']
  ])('HostConfig %j: %s', (host, expected) => {
    expect(create(ALPINE, host)).toBe(expected)
  })

  it('reads the HostConfig dockerd 20.10 uses: top-level fields without one, a top-level Memory when its own is 0', () => {
    const body = (extra: Record<string, unknown>): string => show(judgeAll(policy, member('ci'), 'POST', '/containers/create', { Image: ALPINE, ...extra }))
    expect(body(LIMITS)).toBe('allow')
    expect(body({ Memory: 1, HostConfig: { NanoCpus: 1, PidsLimit: 1 } })).toBe('allow')
    expect(body({ NanoCpus: 1, HostConfig: { Memory: 1, PidsLimit: 1 } })).toBe('deny DG_BODY_DENIED ci must set a cpus limit (resources.cpus: 2)')
  })

  it.each([
    [{}, 'allow'],
    [{ Memory: 0, NanoCpus: 0, CpuQuota: 0, CpuPeriod: 0, MemorySwap: 0 }, 'allow'],
    [{ Memory: 1024 ** 3 }, 'allow'],
    [{ NanoCpus: 15e8 }, 'allow'],
    [{ CpuQuota: 100000, CpuPeriod: 100000 }, 'allow'],
    [{ Memory: 3 * 1024 ** 3 }, 'deny DG_BODY_DENIED ci may not set memory 3g (resources.memory: at most 2g)'],
    [{ Memory: -1 }, 'deny DG_BODY_DENIED ci may not remove the memory limit (Memory=-1) (resources.memory: at most 2g)'],
    [{ CpuQuota: -1 }, 'deny DG_BODY_DENIED ci may not remove the cpus limit (CpuQuota=-1) (resources.cpus: at most 2)'],
    [{ PidsLimit: 0 }, 'deny DG_BODY_DENIED ci may not remove the pids limit (PidsLimit=0) (resources.pids: at most 1024)'],
    [{ PidsLimit: null }, 'allow'],
    [{ CpuQuota: 50000 }, "deny DG_BODY_DENIED ci may not set CpuQuota without CpuPeriod in an update: the container's current period is unknown, so the CPUs it gives cannot be judged (resources.cpus: at most 2)"],
    [{ CpuPeriod: 1000 }, "deny DG_BODY_DENIED ci may not set CpuPeriod without CpuQuota in an update: the container's current quota is unknown, so the CPUs it gives cannot be judged (resources.cpus: at most 2)"]
  ])('update %j: %s', (body, expected) => {
    expect(post('/containers/abc/update', 'ci', body)).toBe(expected)
  })

  it('a team without caps is not asked for limits', () => {
    expect(post('/containers/abc/update', 'open', { Memory: -1 })).toBe('allow')
    expect(create(ALPINE, {}, 'open')).toBe('allow')
  })

  it('an old-API start body with a HostConfig replaces the limits, so it is judged like a create', () => {
    expect(post('/v1.23/containers/abc/start', 'ci', { Privileged: false })).toBe('deny DG_BODY_DENIED ci must set a memory limit (resources.memory: 2g)')
    expect(post('/containers/abc/start', 'ci')).toBe('allow')
  })
})
