/**
 * Response filters: JSON array lists filtered as they stream (whatever
 * the chunking), the volume list and disk usage filtered whole, and the
 * events stream filtered per event with the owner index's help.
 */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { eventVisible, filterSystemDf, filterVolumeList, responseFilter, type ObjectKind, type OwnerLookup, type OwnershipScope, type ResponseFilterKind } from '../../../src/ownership/index.js'

const WEB: OwnershipScope = { owner: 'web', visible: ['web'] }
const BOTH: OwnershipScope = { owner: 'web', visible: ['web', 'data'] }

const noLookup: OwnerLookup = { ownerOf: () => undefined, lookupOwner: async () => await Promise.resolve(undefined) }

async function pipe (kind: ResponseFilterKind, chunks: readonly (string | Buffer)[], scope: OwnershipScope = WEB, lookup: OwnerLookup = noLookup): Promise<string> {
  const out: Buffer[] = []
  const filter = responseFilter(kind, scope, lookup)
  await new Promise<void>((resolve, reject) => {
    Readable.from(chunks.map((c) => Buffer.from(c))).pipe(filter)
    filter.on('data', (chunk: Buffer) => out.push(chunk))
    filter.on('end', resolve)
    filter.on('error', reject)
  })
  return Buffer.concat(out).toString('utf8')
}

/** Splits `text` into chunks of `size` bytes (splitting multi-byte characters too). */
const chunked = (text: string, size: number): Buffer[] => {
  const bytes = Buffer.from(text)
  const out: Buffer[] = []
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size))
  return out
}

const ids = (text: string): string[] => (JSON.parse(text) as Array<{ Id: string }>).map((c) => c.Id)

const LIST = JSON.stringify([
  { Id: 'a', Names: ['/web-1'], Labels: { 'dockgate.owner': 'web', note: 'has ] and } and \\" and , in it' } },
  { Id: 'b', Names: ['/data-1'], Labels: { 'dockgate.owner': 'data' } },
  { Id: 'c', Names: ['/orphan'], Labels: {} },
  { Id: 'd', Names: ['/nolabels'], Labels: null },
  { Id: 'e', Names: ['/web-ü'], Labels: { 'dockgate.owner': 'web' }, Nested: [[{ x: [] }]] }
], null, 1)

describe('JSON array lists', () => {
  it('keeps only visible containers, for every chunking', async () => {
    for (const size of [1, 2, 3, 7, 64, 100_000]) {
      const out = await pipe('containers', chunked(LIST, size))
      expect(ids(out), `chunks of ${size}`).toEqual(['a', 'e'])
    }
  })

  it('keeps the kept elements byte for byte', async () => {
    const out = await pipe('containers', [LIST])
    const parsed = JSON.parse(LIST) as unknown[]
    expect(JSON.parse(out)).toEqual([parsed[0], parsed[4]])
  })

  it('shows several owners\' objects to a scope that sees them', async () => {
    expect(ids(await pipe('networks', [LIST], BOTH))).toEqual(['a', 'b', 'e'])
  })

  it('shows shared images (no owner) with the team\'s own', async () => {
    expect(ids(await pipe('images', chunked(LIST, 5)))).toEqual(['a', 'c', 'd', 'e'])
  })

  it('handles empty lists and whitespace', async () => {
    expect(await pipe('containers', ['[]\n'])).toBe('[]')
    expect(await pipe('containers', [' [ \n ] '])).toBe('[]')
  })

  it('fails rather than pass through what it cannot filter', async () => {
    await expect(pipe('containers', ['{"message":"x"}'])).rejects.toThrow('not a JSON array')
    await expect(pipe('containers', ['[{"Id":"a"'])).rejects.toThrow('ended before its array did')
    await expect(pipe('containers', ['[] []'])).rejects.toThrow('data after its array')
    await expect(pipe('containers', ['[{"Id":}]'])).rejects.toThrow()
  })
})

describe('whole-body filters', () => {
  it('filters the volume list', async () => {
    const body = JSON.stringify({ Volumes: [{ Name: 'w', Labels: { 'dockgate.owner': 'web' } }, { Name: 'd', Labels: { 'dockgate.owner': 'data' } }, { Name: 'o', Labels: null }], Warnings: null })
    expect(JSON.parse(await pipe('volumes', chunked(body, 3)))).toEqual({ Volumes: [{ Name: 'w', Labels: { 'dockgate.owner': 'web' } }], Warnings: null })
    expect(JSON.parse(filterVolumeList('{"Volumes":null,"Warnings":null}', WEB))).toEqual({ Volumes: null, Warnings: null })
  })

  it('filters disk usage: own containers and volumes, usable images recounted, no build cache', () => {
    const df = {
      LayersSize: 100,
      Images: [
        { Id: 'sha256:shared', Containers: 3, Labels: null },
        { Id: 'sha256:web', Containers: 1, Labels: { 'dockgate.owner': 'web' } },
        { Id: 'sha256:data', Containers: 1, Labels: { 'dockgate.owner': 'data' } }
      ],
      Containers: [
        { Id: 'c1', ImageID: 'sha256:shared', Labels: { 'dockgate.owner': 'web' } },
        { Id: 'c2', ImageID: 'sha256:shared', Labels: { 'dockgate.owner': 'data' } },
        { Id: 'c3', ImageID: 'sha256:data', Labels: { 'dockgate.owner': 'data' } },
        { Id: 'c4', ImageID: 'sha256:shared', Labels: {} }
      ],
      Volumes: [{ Name: 'v1', Labels: { 'dockgate.owner': 'web' } }, { Name: 'v2', Labels: { 'dockgate.owner': 'data' } }],
      BuildCache: [{ ID: 'x' }],
      BuilderSize: 5
    }
    expect(JSON.parse(filterSystemDf(JSON.stringify(df), WEB))).toEqual({
      LayersSize: 100,
      Images: [{ Id: 'sha256:shared', Containers: 1, Labels: null }, { Id: 'sha256:web', Containers: 0, Labels: { 'dockgate.owner': 'web' } }],
      Containers: [{ Id: 'c1', ImageID: 'sha256:shared', Labels: { 'dockgate.owner': 'web' } }],
      Volumes: [{ Name: 'v1', Labels: { 'dockgate.owner': 'web' } }],
      BuildCache: [],
      BuilderSize: 0
    })
    const empty: unknown = JSON.parse(filterSystemDf('{"LayersSize":0,"Images":[],"Containers":[],"Volumes":[],"BuildCache":null,"BuilderSize":0}', WEB))
    expect(empty).toEqual({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: null, BuilderSize: 0 })
  })
})

describe('events', () => {
  const event = (Type: string, ID: string, Attributes: Record<string, string> = {}, Action = 'create'): string => JSON.stringify({ Type, Action, Actor: { ID, Attributes }, time: 1 })
  const owners = new Map<string, string | null>([['volume:wv', 'web'], ['volume:dv', 'data'], ['network:wn', 'web'], ['image:sha256:gone', 'data']])
  const lookedUp: string[] = []
  const lookup: OwnerLookup = {
    ownerOf: (kind: ObjectKind, id: string) => owners.has(`${kind}:${id}`) ? owners.get(`${kind}:${id}`) : undefined,
    lookupOwner: async (kind: ObjectKind, id: string) => {
      lookedUp.push(`${kind}:${id}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
      return id === 'late' ? 'web' : undefined
    }
  }
  const stream = [
    event('container', 'c1', { 'dockgate.owner': 'web', name: 'x' }),
    event('container', 'c2', { 'dockgate.owner': 'data' }),
    event('container', 'c3', { name: 'orphan' }),
    event('container', 'c1', { 'dockgate.owner': 'web', execID: 'e' }, 'exec_create: sh'),
    event('volume', 'wv'),
    event('volume', 'dv'),
    event('volume', 'late'),
    event('volume', 'unknown', {}, 'destroy'),
    event('network', 'wn', { name: 'front', container: 'c2' }, 'connect'),
    event('image', 'sha256:shared', { name: 'busybox:latest' }, 'tag'),
    event('image', 'sha256:mine', { 'dockgate.owner': 'web' }, 'tag'),
    event('image', 'sha256:gone', {}, 'delete'),
    event('daemon', 'd', {}, 'reload'),
    event('plugin', 'p', {}, 'enable')
  ].join('\n') + '\n'

  it('passes the team\'s events, in order, asking the index for volumes and networks', async () => {
    const out = await pipe('events', chunked(stream, 13), WEB, lookup)
    expect(out.split('\n').filter((l) => l !== '').map((l) => { const e = JSON.parse(l) as { Type: string; Actor: { ID: string } }; return `${e.Type} ${e.Actor.ID}` })).toEqual([
      'container c1', 'container c1', 'volume wv', 'volume late', 'network wn', 'image sha256:shared', 'image sha256:mine'
    ])
    expect(lookedUp).toEqual(['volume:late', 'volume:unknown'])
  })

  it('decides synchronously when it can', () => {
    expect(eventVisible(JSON.parse(event('container', 'c', { 'dockgate.owner': 'data' })), BOTH, noLookup)).toBe(true)
    expect(eventVisible({ Type: 'volume', Actor: { ID: 'wv' } }, WEB, lookup)).toBe(true)
    expect(eventVisible({ Type: 'volume', Actor: { ID: 'dv' } }, WEB, lookup)).toBe(false)
    expect(() => eventVisible([], WEB, lookup)).toThrow('not a JSON object')
  })

  it('fails on a line that is not JSON', async () => {
    await expect(pipe('events', ['{"Type":"container"}\nnot json\n'], WEB, lookup)).rejects.toThrow()
  })
})
