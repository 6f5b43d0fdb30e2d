/**
 * How the owner index resolves references, scoped and unscoped: dockerd's
 * order (full id, exact name, id prefix) per kind, and the isolation rule:
 * a step that matches any object the caller may not see is "missing", so
 * name reuse and id prefixes never reach another team's object. Also
 * image references parsed as dockerd parses them.
 */
import { describe, expect, it } from 'vitest'
import { OwnerStore, parseImageRef, type OwnershipScope, type Resolution } from '../../../src/ownership/index.js'

const WEB: OwnershipScope = { owner: 'web', visible: ['web'] }
const DATA: OwnershipScope = { owner: 'data', visible: ['data'] }
const BOTH: OwnershipScope = { owner: 'web', visible: ['web', 'data'] }

const id = (prefix: string): string => prefix.padEnd(64, '0')

const show = (r: Resolution): string => r.kind === 'found' ? `found ${r.id.slice(0, 6)} ${r.owner ?? '-'}` : r.kind

function containers (): OwnerStore {
  const store = new OwnerStore()
  store.put('container', { id: id('abc1'), names: ['/web-app'], owner: 'web' })
  store.put('container', { id: id('abc2'), names: ['/data-db', '/web-app/db'], owner: 'data' })
  store.put('container', { id: id('ff01'), names: ['/orphan'], owner: null })
  store.put('container', { id: id('e5e5'), names: ['/e5'], owner: 'web' })
  store.put('container', { id: id('e511'), names: ['/other'], owner: 'web' })
  // A container named like a prefix of another's id.
  store.put('container', { id: id('d0d0'), names: ['/abc1'], owner: 'data' })
  return store
}

describe('container resolution', () => {
  const store = containers()
  const cases: Array<[string, string, OwnershipScope | null, string]> = [
    ['full id, own', id('abc1'), WEB, 'found abc100 web'],
    ['full id, another team\'s', id('abc2'), WEB, 'missing'],
    ['full id, admin', id('abc2'), null, 'found abc200 data'],
    ['name', 'web-app', WEB, 'found abc100 web'],
    ['name with a leading /', '/web-app', WEB, 'found abc100 web'],
    ['another team\'s name', 'data-db', WEB, 'missing'],
    ['a legacy link name', 'web-app/db', DATA, 'found abc200 data'],
    ['an unowned container is an admin\'s only', 'orphan', WEB, 'missing'],
    ['an unowned container, admin', 'orphan', null, 'found ff0100 -'],
    ['a name beats an id prefix: abc1 is data\'s name, not web\'s prefix', 'abc1', WEB, 'missing'],
    ['the same name, for data', 'abc1', DATA, 'found d0d000 data'],
    ['a unique prefix', 'ff', null, 'found ff0100 -'],
    ['a prefix that matches another team\'s object too is missing', 'abc', WEB, 'missing'],
    ['... for either team', 'abc', DATA, 'missing'],
    ['... and ambiguous for an admin (the daemon\'s own error)', 'abc', null, 'ambiguous'],
    ['... and ambiguous for a scope seeing both', 'abc', BOTH, 'ambiguous'],
    ['a prefix matching only own objects, several', 'e5', WEB, 'found e5e500 web'],
    ['... (e5 is a name first)', 'e51', WEB, 'found e51100 web'],
    ['own objects only, ambiguous prefix', 'e', WEB, 'ambiguous'],
    ['no such object', 'nothing', WEB, 'missing'],
    ['empty', '', null, 'missing']
  ]
  for (const [name, ref, scope, expected] of cases) {
    it(name, () => { expect(show(store.resolve('container', ref, scope))).toBe(expected) })
  }

  it('follows renames, removals and name reuse', () => {
    const s = containers()
    s.rename('container', id('abc1'), ['/web-renamed'])
    expect(show(s.resolve('container', 'web-app', WEB))).toBe('missing')
    expect(show(s.resolve('container', 'web-renamed', WEB))).toBe('found abc100 web')
    s.remove('container', id('abc2'))
    s.put('container', { id: id('9999'), names: ['/data-db'], owner: 'web' })
    expect(show(s.resolve('container', 'data-db', WEB))).toBe('found 999900 web')
    expect(show(s.resolve('container', 'data-db', DATA))).toBe('missing')
    expect(s.ownerOf('container', id('abc2'))).toBe('data')
    expect(s.ownerOf('container', id('7777'))).toBeUndefined()
    // After the removal, abc matches only web's container and data's named abc1 does not count as a prefix.
    expect(show(s.resolve('container', 'abc', WEB))).toBe('found abc100 web')
  })

  it('takes a container\'s exec instances with it', () => {
    const s = containers()
    s.put('exec', { id: id('ee01'), names: [], owner: 'web', container: id('abc1') })
    expect(show(s.resolve('exec', id('ee01'), WEB))).toBe('found ee0100 web')
    expect(show(s.resolve('exec', 'ee01', WEB))).toBe('missing')
    expect(show(s.resolve('exec', id('ee01'), DATA))).toBe('missing')
    s.remove('container', id('abc1'))
    expect(show(s.resolve('exec', id('ee01'), WEB))).toBe('missing')
  })

  it('lists the holders of an exact name, for claims', () => {
    const s = containers()
    expect(s.holders('container', 'web-app').map((o) => o.owner)).toEqual(['web'])
    expect(s.holders('container', '/data-db').map((o) => o.owner)).toEqual(['data'])
    expect(s.holders('container', 'abc')).toEqual([])
  })
})

describe('volume and network resolution', () => {
  const store = new OwnerStore()
  store.put('volume', { id: 'shared-name', names: ['shared-name'], owner: 'data' })
  store.put('volume', { id: 'mine', names: ['mine'], owner: 'web' })
  store.put('network', { id: id('a1a1'), names: ['front'], owner: 'web' })
  store.put('network', { id: id('a1b2'), names: ['back'], owner: 'data' })
  store.put('network', { id: id('c3c3'), names: ['dup'], owner: 'web' })
  store.put('network', { id: id('c4c4'), names: ['dup'], owner: 'web' })
  store.put('network', { id: id('d5d5'), names: ['twice'], owner: 'web' })
  store.put('network', { id: id('d6d6'), names: ['twice'], owner: 'data' })
  const cases: Array<[string, 'volume' | 'network', string, OwnershipScope | null, string]> = [
    ['a volume by name', 'volume', 'mine', WEB, 'found mine web'],
    ['another team\'s volume', 'volume', 'shared-name', WEB, 'missing'],
    ['volumes have no prefixes', 'volume', 'mi', WEB, 'missing'],
    ['a network by id', 'network', id('a1a1'), WEB, 'found a1a100 web'],
    ['a network by name', 'network', 'front', WEB, 'found a1a100 web'],
    ['a network by unique prefix', 'network', 'a1a', WEB, 'found a1a100 web'],
    ['a prefix shared with another team\'s network', 'network', 'a1', WEB, 'missing'],
    ['the same prefix, admin', 'network', 'a1', null, 'ambiguous'],
    ['a name two of own networks share', 'network', 'dup', WEB, 'ambiguous'],
    ['a name shared with another team\'s network', 'network', 'twice', WEB, 'missing'],
    ['... admin', 'network', 'twice', null, 'ambiguous']
  ]
  for (const [name, kind, ref, scope, expected] of cases) {
    it(name, () => { expect(show(store.resolve(kind, ref, scope))).toBe(expected) })
  }
})

describe('image resolution', () => {
  const store = new OwnerStore()
  const shared = `sha256:${id('fbaa')}`
  const built = `sha256:${id('fb11')}`
  const theirs = `sha256:${id('7e7e')}`
  store.put('image', { id: shared, names: ['docker.io/library/busybox:latest', 'docker.io/library/busybox@sha256:' + id('d1')], owner: null })
  store.put('image', { id: built, names: ['docker.io/web/app:1', 'localhost:5000/app:1'], owner: 'web' })
  store.put('image', { id: theirs, names: ['docker.io/data/app:1', 'docker.io/library/fb11:latest'], owner: 'data' })
  const cases: Array<[string, string, OwnershipScope | null, string]> = [
    ['a shared image by familiar name', 'busybox', WEB, 'found sha256 -'],
    ['... with its tag', 'busybox:latest', DATA, 'found sha256 -'],
    ['... fully qualified', 'docker.io/library/busybox:latest', WEB, 'found sha256 -'],
    ['... index.docker.io', 'index.docker.io/library/busybox', WEB, 'found sha256 -'],
    ['... by repo digest', `busybox@sha256:${id('d1')}`, WEB, 'found sha256 -'],
    ['an own image', 'web/app:1', WEB, 'found sha256 web'],
    ['... on a registry with a port', 'localhost:5000/app:1', WEB, 'found sha256 web'],
    ['another team\'s image by name', 'data/app:1', WEB, 'missing'],
    ['another team\'s image by id', theirs, WEB, 'missing'],
    ['another team\'s image by bare hex id', theirs.slice(7), WEB, 'missing'],
    ['an image by id, admin', theirs, null, 'found sha256 data'],
    ['a name first: fb11 is data\'s tag, not web\'s id prefix', 'fb11', WEB, 'missing'],
    ['an id prefix', 'fbaa', WEB, 'found sha256 -'],
    ['an id prefix with its algorithm', 'sha256:fbaa', WEB, 'found sha256 -'],
    ['an ambiguous prefix is no such image (as the daemon says)', 'fb', null, 'missing'],
    ['a missing tag', 'busybox:1', WEB, 'missing'],
    ['capitals are not a reference', 'BusyBox', null, 'missing']
  ]
  for (const [name, ref, scope, expected] of cases) {
    it(name, () => { expect(show(store.resolve('image', ref, scope)).replace(/^found sha256:\w{6}/, 'found sha256')).toBe(expected.replace(/^found sha256/, 'found sha256')) })
  }
})

describe('parseImageRef', () => {
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36 busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest busybox:latest'],
    ['docker.io/library/busybox', 'docker.io/library/busybox:latest busybox:latest'],
    ['me/app', 'docker.io/me/app:latest me/app:latest'],
    ['docker.io/me/app:2', 'docker.io/me/app:2 me/app:2'],
    ['localhost/app', 'localhost/app:latest localhost/app:latest'],
    ['localhost:5000/a/b:c', 'localhost:5000/a/b:c localhost:5000/a/b:c'],
    ['reg.example.com/x', 'reg.example.com/x:latest reg.example.com/x:latest'],
    ['Example.com/x', 'Example.com/x:latest Example.com/x:latest'],
    [`app@sha256:${id('ab')}`, `docker.io/library/app@sha256:${id('ab')} app@sha256:${id('ab')}`],
    [`app:1@sha256:${id('ab')}`, `docker.io/library/app@sha256:${id('ab')} app:1@sha256:${id('ab')}`],
    ['sha256:0123', 'docker.io/library/sha256:0123 sha256:0123'],
    [id('ab'), `id sha256:${id('ab')}`],
    [`sha256:${id('ab')}`, `id sha256:${id('ab')}`],
    ['NoSuch', 'invalid'],
    ['a//b', 'invalid'],
    ['a:b:c', 'invalid'],
    [`app@sha256:${id('ab').slice(1)}`, 'invalid'],
    ['', 'invalid']
  ]
  for (const [text, expected] of cases) {
    it(text === '' ? '(empty)' : text, () => {
      const ref = parseImageRef(text)
      expect(ref.kind === 'named' ? `${ref.key} ${ref.familiar}` : ref.kind === 'id' ? `id ${ref.id}` : 'invalid').toBe(expected)
    })
  }
})
