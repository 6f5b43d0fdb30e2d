/**
 * Which objects a request names, and the daemon's exact answer when one is
 * missing. The answers were taken from dockerd 20.10.24 (API 1.41) with
 * curl on its socket (see the integration test for the live check).
 */
import { describe, expect, it } from 'vitest'
import { bodyMissingAnswer, missingAnswer, notFoundMessage, routeObjects } from '../../../src/ownership/index.js'

/** `kind ref` for each named object and `claim kind name` for each claim, or the refusal. */
function named (method: string, target: string): string[] {
  const [path = '', query = ''] = target.split('?')
  const result = routeObjects(method, path.slice(1).split('/'), query)
  if (!result.ok) return [`${result.refusal.code} ${result.refusal.message}`]
  return [
    ...result.named.map((n) => `${n.kind} ${n.ref}${n.repository === true ? ' (repository)' : ''}`),
    ...result.claims.map((c) => `claim ${c.kind} ${c.name}${c.repository === true ? ' (repository)' : ''}`)
  ]
}

describe('routeObjects', () => {
  const cases: Array<[string, string, string[]]> = [
    ['GET', '/containers/web/json', ['container web']],
    ['GET', '/containers/json', []],
    ['GET', '/containers/json/json', ['container json']],
    ['DELETE', '/containers/prune', ['container prune']],
    ['POST', '/containers/prune', []],
    ['POST', '/containers/create?name=web', ['claim container web']],
    ['POST', '/containers/create', []],
    ...['top', 'logs', 'changes', 'export', 'stats', 'archive'].map((a): [string, string, string[]] => ['GET', `/containers/abc/${a}`, ['container abc']]),
    ['HEAD', '/containers/abc/archive', ['container abc']],
    ['PUT', '/containers/abc/archive?path=/', ['container abc']],
    ...['resize', 'start', 'stop', 'restart', 'kill', 'update', 'pause', 'unpause', 'attach', 'wait', 'exec'].map((a): [string, string, string[]] => ['POST', `/containers/abc/${a}`, ['container abc']]),
    ['POST', '/containers/abc/rename?name=new', ['container abc', 'claim container new']],
    ['DELETE', '/containers/abc?force=1', ['container abc']],
    ['GET', '/containers/abc/attach/ws', ['container abc']],
    ['GET', '/containers/abc/unknown', []],
    ['POST', '/containers/abc/json', []],
    ['GET', '/exec/e1/json', ['exec e1']],
    ['POST', '/exec/e1/start', ['exec e1']],
    ['POST', '/exec/e1/resize', ['exec e1']],
    ['GET', '/volumes', []],
    ['GET', '/volumes/data', ['volume data']],
    ['DELETE', '/volumes/data', ['volume data']],
    ['PUT', '/volumes/data', ['volume data']],
    ['POST', '/volumes/create', []],
    ['GET', '/networks', []],
    ['GET', '/networks/front', ['network front']],
    ['DELETE', '/networks/front', ['network front']],
    ['POST', '/networks/front/connect', ['network front']],
    ['POST', '/networks/front/disconnect', ['network front']],
    ['POST', '/networks/create', []],
    ['POST', '/networks/prune', []],
    ['GET', '/images/json', []],
    ['GET', '/images/busybox/json', ['image busybox']],
    ['GET', '/images/docker.io/library/busybox:latest/json', ['image docker.io/library/busybox:latest']],
    ['GET', '/images/localhost:5000/a/b:1/history', ['image localhost:5000/a/b:1']],
    ['GET', '/images/app/get', ['image app']],
    ['GET', '/images/get?names=a&names=b%2Fc', ['image a', 'image b/c']],
    ['DELETE', '/images/busybox', ['image busybox']],
    ['DELETE', '/images/json', ['image json']],
    ['DELETE', '/images/reg.io/x/y:2', ['image reg.io/x/y:2']],
    ['POST', '/images/app:1/tag?repo=other&tag=2', ['image app:1', 'claim image other:2']],
    ['POST', '/images/app:1/tag?repo=other', ['image app:1', 'claim image other']],
    ['POST', '/images/app/push?tag=1', ['image app:1']],
    ['POST', '/images/app:2/push?tag=1', ['image app:1']],
    ['POST', '/images/localhost:5000/app:2/push?tag=1', ['image localhost:5000/app:1']],
    ['POST', '/images/app:1/push', ['image app:1']],
    ['POST', '/images/localhost:5000/app/push', ['image localhost:5000/app (repository)']],
    ['POST', '/images/create?fromImage=busybox&tag=1.36', ['claim image busybox:1.36']],
    ['POST', '/images/create?fromImage=busybox&tag=sha256:abc', ['claim image busybox@sha256:abc']],
    ['POST', '/images/create?fromImage=busybox', ['claim image busybox (repository)']],
    ['POST', '/images/create?fromImage=busybox:1', ['claim image busybox:1']],
    ['POST', '/images/create?fromSrc=-&repo=imp&tag=2', ['claim image imp:2']],
    ['POST', '/images/create?fromSrc=-', []],
    ['POST', '/images/load', []],
    ['GET', '/images/search?term=x', []],
    ['POST', '/commit?container=web&repo=snap&tag=1', ['container web', 'claim image snap:1']],
    ['POST', '/commit?container=web', ['container web']],
    ['POST', '/build?t=app:1&t=app:latest&t=', ['claim image app:1', 'claim image app:latest']],
    ['GET', '/distribution/busybox/json', []],
    ['GET', '/info', []],
    ['POST', '/commit?container=a;b', ['DG_BAD_REQUEST dockgate: POST /commit: the query has a semicolon, which the daemon would drop a parameter for']]
  ]
  for (const [method, target, expected] of cases) {
    it(`${method} ${target}`, () => { expect(named(method, target)).toEqual(expected) })
  }

  it('says where each reference is, to replace it with the resolved id', () => {
    const result = routeObjects('GET', ['images', 'reg.io', 'x', 'json'], '')
    expect(result.ok && result.named[0]?.at).toEqual({ segments: [1, 2] })
    const commit = routeObjects('POST', ['commit'], 'container=web')
    expect(commit.ok && commit.named[0]?.at).toEqual({ query: 'container' })
  })
})

describe('missing answers, as dockerd 20.10 gives them', () => {
  const body = (target: [string, string]): string => {
    const [method, path] = target
    const result = routeObjects(method, path.slice(1).split('?')[0]?.split('/') ?? [], path.split('?')[1] ?? '')
    const first = result.ok ? result.named[0] : undefined
    if (first === undefined) throw new Error(`no object in ${path}`)
    return `${first.missing.status} ${first.missing.contentType} ${first.missing.body}`
  }
  const cases: Array<[[string, string], string]> = [
    [['GET', '/containers/nosuch/json'], '404 application/json {"message":"No such container: nosuch"}\n'],
    [['POST', '/containers/nosuch/kill'], '404 application/json {"message":"Cannot kill container: nosuch: No such container: nosuch"}\n'],
    [['POST', '/containers/nosuch/attach'], '404 application/vnd.docker.raw-stream No such container: nosuch\r\n'],
    [['GET', '/containers/nosuch/attach/ws'], '404 application/json {"message":"No such container: nosuch"}\n'],
    [['POST', '/commit?container=nosuch'], '404 application/json {"message":"No such container: nosuch"}\n'],
    [['GET', '/exec/nosuch/json'], '404 application/json {"message":"No such exec instance: nosuch"}\n'],
    [['GET', '/volumes/nosuch'], '404 application/json {"message":"get nosuch: no such volume"}\n'],
    [['DELETE', '/networks/nosuch'], '404 application/json {"message":"network nosuch not found"}\n'],
    [['GET', '/images/nosuch/json'], '404 application/json {"message":"no such image: nosuch: No such image: nosuch:latest"}\n'],
    [['GET', '/images/docker.io/library/nosuch/json'], '404 application/json {"message":"no such image: docker.io/library/nosuch: No such image: nosuch:latest"}\n'],
    [['GET', `/images/${'0123'.repeat(16)}/json`], `404 application/json {"message":"no such image: ${'0123'.repeat(16)}: No such image: sha256:${'0123'.repeat(16)}"}\n`],
    [['DELETE', '/images/nosuch'], '404 application/json {"message":"No such image: nosuch:latest"}\n'],
    [['GET', '/images/foo/bar:2/history'], '404 application/json {"message":"No such image: foo/bar:2"}\n'],
    [['POST', '/images/sha256:0123/tag?repo=a'], '404 application/json {"message":"No such image: sha256:0123"}\n'],
    [['GET', '/images/nosuch/get'], '404 application/json {"message":"No such image: nosuch"}\n'],
    [['GET', '/images/get?names=nosuch'], '404 application/json {"message":"No such image: nosuch"}\n'],
    [['POST', '/images/nosuch:1/push?tag=1'], '200 application/json {"status":"The push refers to repository [docker.io/library/nosuch]"}\r\n{"errorDetail":{"message":"An image does not exist locally with the tag: nosuch"},"error":"An image does not exist locally with the tag: nosuch"}\r\n']
  ]
  for (const [target, expected] of cases) {
    it(target.join(' '), () => { expect(body(target)).toBe(expected) })
  }

  it('words references in bodies as the daemon does', () => {
    expect(bodyMissingAnswer('container', 'x', { status: 400, says: 'no-such-container' }).body).toBe('{"message":"No such container: x"}\n')
    expect(bodyMissingAnswer('container', 'x', { status: 400, says: 'link' })).toEqual({ status: 400, contentType: 'application/json', body: '{"message":"could not get container for x: No such container: x"}\n' })
    expect(bodyMissingAnswer('image', 'nosuchimage', { status: 404, says: 'no-such-image' }).body).toBe('{"message":"No such image: nosuchimage:latest"}\n')
    expect(bodyMissingAnswer('network', 'n', { status: 404, says: 'network-not-found' }).body).toBe('{"message":"network n not found"}\n')
  })

  it('has one message per kind', () => {
    expect(['container', 'exec', 'volume', 'network', 'image'].map((k) => notFoundMessage(k as 'container', 'x'))).toEqual([
      'No such container: x', 'No such exec instance: x', 'get x: no such volume', 'network x not found', 'No such image: x:latest'
    ])
    expect(missingAnswer('image', 'x').body).toBe('{"message":"No such image: x:latest"}\n')
  })
})
