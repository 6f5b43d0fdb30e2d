/**
 * The owner index against the real daemon: objects made directly on the
 * socket, with and without the owner label, are seen from the start-up
 * lists, then from the event stream as they are created, renamed and
 * removed; a reference it does not know is looked up on the daemon; a
 * lost event stream (the daemon going away) is reconnected and re-listed;
 * a rebuilt index is the same. The daemon's not-found answers are checked
 * byte for byte against what not-found.ts says.
 */
import http from 'node:http'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { missingAnswer, OwnerIndex, routeObjects, type ObjectKind, type OwnershipScope, type Resolution } from '../../src/ownership/index.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const WEB: OwnershipScope = { owner: 'web', visible: ['web'] }
const DATA: OwnershipScope = { owner: 'data', visible: ['data'] }

interface Answer { status: number; contentType: string; body: string }

async function api (method: string, path: string, body?: unknown, socketPath = socket): Promise<Answer> {
  return await new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request({ socketPath, method, path, headers: text === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }) })
    })
    req.on('error', reject)
    req.end(text)
  })
}

async function ok (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const answer = await api(method, path, body)
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${answer.body}`)
  return answer.body === '' ? {} : JSON.parse(answer.body) as Record<string, unknown>
}

const labels = (owner: string | null): Record<string, string> => owner === null ? {} : { 'dockgate.owner': owner }

async function container (name: string, owner: string | null): Promise<string> {
  const created = await ok('POST', `/containers/create?name=${name}`, { Image: IMAGE, Cmd: ['sleep', '600'], Labels: labels(owner), HostConfig: { NetworkMode: 'none' } })
  return String(created.Id)
}

async function eventually (check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const show = (r: Resolution): string => r.kind === 'found' ? `found ${r.owner ?? '-'}` : r.kind

describe.skipIf(socket === '')('owner index with the real daemon', () => {
  const ids: Record<string, string> = {}
  const indexes: OwnerIndex[] = []
  let index: OwnerIndex
  // dockerd 20.10 sends no destroy event for a config-only network (the only
  // kind these tests make: they add no interfaces to the host), so its
  // removal is seen by the periodic re-list, made short here.
  const open = async (socketPath = socket): Promise<OwnerIndex> => {
    const opened = new OwnerIndex({ socketPath, relistMs: 1000 })
    indexes.push(opened)
    await opened.ready
    return opened
  }

  beforeAll(async () => {
    ids.web = await container(`web-${tag}`, 'web')
    ids.data = await container(`data-${tag}`, 'data')
    ids.orphan = await container(`orphan-${tag}`, null)
    for (const [name, owner] of [[`vw-${tag}`, 'web'], [`vd-${tag}`, 'data'], [`vo-${tag}`, null]] as const) {
      await ok('POST', '/volumes/create', { Name: name, Labels: labels(owner) })
    }
    ids.netWeb = String((await ok('POST', '/networks/create', { Name: `nw-${tag}`, ConfigOnly: true, Labels: labels('web') })).Id)
    ids.netData = String((await ok('POST', '/networks/create', { Name: `nd-${tag}`, ConfigOnly: true, Labels: labels('data') })).Id)
    await ok('POST', `/containers/${ids.web}/start`)
    ids.exec = String((await ok('POST', `/containers/${ids.web}/exec`, { Cmd: ['true'] })).Id)
    index = await open()
  })

  afterAll(async () => {
    for (const opened of indexes) await opened.close()
    for (const name of ['web', 'data', 'orphan', 'late', 'renamed']) await api('DELETE', `/containers/${name}-${tag}?force=1`)
    for (const name of ['vw', 'vd', 'vo', 'vlate', 'vdown']) await api('DELETE', `/volumes/${name}-${tag}`)
    for (const name of ['nw', 'nd', 'nlate']) await api('DELETE', `/networks/${name}-${tag}`)
    await api('DELETE', `/images/img-${tag}:1`)
  })

  it('is built from the daemon\'s lists: owners from labels, unlabelled objects an admin\'s only', async () => {
    const cases: Array<[OwnershipScope | null, ObjectKind, string, string]> = [
      [WEB, 'container', `web-${tag}`, 'found web'],
      [WEB, 'container', `/web-${tag}`, 'found web'],
      [WEB, 'container', ids.web ?? '', 'found web'],
      [WEB, 'container', (ids.web ?? '').slice(0, 20), 'found web'],
      [WEB, 'container', `data-${tag}`, 'missing'],
      [DATA, 'container', `data-${tag}`, 'found data'],
      [WEB, 'container', `orphan-${tag}`, 'missing'],
      [null, 'container', `orphan-${tag}`, 'found -'],
      [WEB, 'volume', `vw-${tag}`, 'found web'],
      [WEB, 'volume', `vd-${tag}`, 'missing'],
      [null, 'volume', `vo-${tag}`, 'found -'],
      [WEB, 'network', `nw-${tag}`, 'found web'],
      [WEB, 'network', ids.netWeb ?? '', 'found web'],
      [WEB, 'network', `nd-${tag}`, 'missing'],
      [DATA, 'network', (ids.netData ?? '').slice(0, 16), 'found data'],
      [WEB, 'image', IMAGE, 'found -'],
      [DATA, 'image', 'dockgate-test/busybox', 'found -']
    ]
    for (const [scope, kind, ref, expected] of cases) {
      expect(show(index.peek(scope, kind, ref)), `${kind} ${ref}`).toBe(expected)
      expect(show(await index.resolveFor(scope, kind, ref)), `${kind} ${ref}`).toBe(expected)
    }
  })

  it('looks up what it does not know on the daemon: an exec instance made before it started', async () => {
    expect(show(index.peek(WEB, 'exec', ids.exec ?? ''))).toBe('missing')
    expect(show(await index.resolveFor(DATA, 'exec', ids.exec ?? ''))).toBe('missing')
    expect(show(index.peek(WEB, 'exec', ids.exec ?? ''))).toBe('found web')
    expect(show(await index.resolveFor(WEB, 'exec', ids.exec ?? ''))).toBe('found web')
    expect(show(await index.resolveFor(WEB, 'container', `nothing-${tag}`))).toBe('missing')
  })

  it('follows creations, renames, new images and removals from the event stream', async () => {
    ids.late = await container(`late-${tag}`, 'web')
    await ok('POST', '/volumes/create', { Name: `vlate-${tag}`, Labels: labels('data') })
    await ok('POST', '/networks/create', { Name: `nlate-${tag}`, ConfigOnly: true, Labels: labels('web') })
    await eventually(() => index.peek(WEB, 'container', `late-${tag}`).kind === 'found', 'the new container')
    await eventually(() => index.peek(DATA, 'volume', `vlate-${tag}`).kind === 'found', 'the new volume')
    await eventually(() => index.peek(WEB, 'network', `nlate-${tag}`).kind === 'found', 'the new network')
    const exec = String((await ok('POST', `/containers/${ids.web}/exec`, { Cmd: ['true'] })).Id)
    await eventually(() => index.peek(WEB, 'exec', exec).kind === 'found', 'the new exec instance')

    await ok('POST', `/containers/late-${tag}/rename?name=renamed-${tag}`)
    await eventually(() => index.peek(WEB, 'container', `renamed-${tag}`).kind === 'found', 'the renamed container')
    expect(show(index.peek(WEB, 'container', `late-${tag}`))).toBe('missing')

    await ok('POST', `/commit?container=${ids.web}&repo=img-${tag}&tag=1&changes=${encodeURIComponent('LABEL dockgate.owner=web')}`)
    await eventually(() => index.peek(WEB, 'image', `img-${tag}:1`).kind === 'found', 'the committed image')
    expect(show(index.peek(DATA, 'image', `img-${tag}:1`))).toBe('missing')
    expect(await index.claimFor(DATA, { kind: 'image', name: `img-${tag}:1` }, 'data')).toBe('taken')
    expect(await index.claimFor(WEB, { kind: 'image', name: `img-${tag}:1` }, 'web')).toBe('allowed')
    expect(await index.claimFor(WEB, { kind: 'volume', name: `vd-${tag}` }, 'web')).toBe('taken')
    expect(await index.claimFor(WEB, { kind: 'volume', name: `vfree-${tag}` }, 'web')).toBe('free')

    await ok('DELETE', `/containers/renamed-${tag}?force=1`)
    await ok('DELETE', `/volumes/vlate-${tag}`)
    await ok('DELETE', `/networks/nlate-${tag}`)
    await eventually(() => index.peek(null, 'container', `renamed-${tag}`).kind === 'missing', 'the removed container')
    await eventually(() => index.peek(null, 'volume', `vlate-${tag}`).kind === 'missing', 'the removed volume')
    await eventually(() => index.peek(null, 'network', `nlate-${tag}`).kind === 'missing', 'the removed network (re-listed)')
    // The events filter still knows whose they were.
    expect(index.ownerOf('container', ids.late)).toBe('web')
    expect(index.ownerOf('volume', `vlate-${tag}`)).toBe('data')
    // A name freed by one team and taken by another resolves to the new owner only.
    ids.reused = await container(`renamed-${tag}`, 'data')
    await eventually(() => index.peek(DATA, 'container', `renamed-${tag}`).kind === 'found', 'the reused name')
    expect(show(index.peek(WEB, 'container', `renamed-${tag}`))).toBe('missing')
  })

  it('is the same when closed and built again: the labels on the daemon are the truth', async () => {
    const ours = (opened: OwnerIndex): string[] => (['container', 'volume', 'network', 'image'] as const).flatMap((kind) =>
      opened.objects(kind).filter((o) => o.names.some((n) => n.includes(tag))).map((o) => `${kind} ${o.id} ${[...o.names].sort().join(',')} ${o.owner ?? '-'}`)).sort()
    const before = ours(index)
    expect(before.length).toBeGreaterThanOrEqual(9)
    await index.close()
    index = await open()
    expect(ours(index)).toEqual(before)
  })

  it('reconnects and re-lists when the daemon goes away', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-owner-proxy-'))
    const front = join(dir, 'docker.sock')
    let down = false
    const open = new Set<net.Socket>()
    const proxy = net.createServer((client) => {
      if (down) {
        client.destroy()
        return
      }
      const upstream = net.connect(socket)
      open.add(client)
      open.add(upstream)
      client.pipe(upstream).pipe(client)
      const drop = (): void => { client.destroy(); upstream.destroy(); open.delete(client); open.delete(upstream) }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
    })
    await new Promise<void>((resolve) => proxy.listen(front, resolve))
    try {
      const followed = await (async () => {
        const opened = new OwnerIndex({ socketPath: front, retryMs: 100, relistMs: 0 })
        indexes.push(opened)
        await opened.ready
        return opened
      })()
      expect(show(followed.peek(WEB, 'container', `web-${tag}`))).toBe('found web')
      down = true
      for (const s of open) s.destroy()
      await ok('POST', '/volumes/create', { Name: `vdown-${tag}`, Labels: labels('web') })
      await ok('DELETE', `/containers/data-${tag}?force=1`)
      down = false
      await eventually(() => followed.peek(WEB, 'volume', `vdown-${tag}`).kind === 'found', 'the volume made while the stream was down')
      await eventually(() => followed.peek(null, 'container', `data-${tag}`).kind === 'missing', 'the container removed while the stream was down')
    } finally {
      await new Promise<void>((resolve) => { proxy.close(() => { resolve() }); for (const s of open) s.destroy() })
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('answers a missing object exactly as the daemon does', async () => {
    const targets: Array<[string, string]> = [
      ['GET', '/containers/nosuch/json'], ['POST', '/containers/nosuch/stop'], ['POST', '/containers/nosuch/kill'],
      ['POST', '/containers/nosuch/attach?stream=1&stdout=1'], ['GET', '/containers/nosuch/logs?stdout=1'],
      ['DELETE', '/containers/nosuch'], ['POST', '/commit?container=nosuch'],
      ['GET', '/exec/nosuch/json'], ['POST', '/exec/nosuch/resize?h=1&w=1'],
      ['GET', '/volumes/nosuch'], ['DELETE', '/volumes/nosuch'],
      ['GET', '/networks/nosuch'], ['DELETE', '/networks/nosuch'],
      ['GET', '/images/nosuch/json'], ['GET', '/images/nosuch:1/json'], ['DELETE', '/images/nosuch'],
      ['GET', '/images/docker.io/library/nosuch/history'], ['POST', '/images/nosuch/tag?repo=x'],
      ['GET', '/images/nosuch/get'], ['GET', '/images/get?names=nosuch'],
      ['GET', `/images/${'0123'.repeat(16)}/json`], ['DELETE', '/images/sha256:0123']
    ]
    for (const [method, target] of targets) {
      const [path = '', query = ''] = target.split('?')
      const route = routeObjects(method, path.slice(1).split('/'), query)
      const named = route.ok ? route.named[0] : undefined
      expect(named, target).toBeDefined()
      const live = await api(method, `/v1.41${target}`)
      expect({ status: live.status, contentType: live.contentType, body: live.body }, `${method} ${target}`).toEqual(named?.missing)
    }
    const pushed = await api('POST', '/v1.41/images/nosuch/push', undefined)
    expect(pushed.status).toBe(400)
    const push = await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ socketPath: socket, method: 'POST', path: '/v1.41/images/nosuch:1/push?tag=1', headers: { 'X-Registry-Auth': 'e30=' } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), body: Buffer.concat(chunks).toString() }) })
      })
      req.on('error', reject)
      req.end()
    })
    expect(push).toEqual(missingAnswer('image', 'nosuch:1', 'image-push'))
  })
})
