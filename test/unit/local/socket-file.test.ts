/**
 * Placing a socket file: with its mode before anyone can connect, over a
 * stale socket, never over anything else; and removing only what this
 * process placed.
 */
import { chmodSync, lstatSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs'
import { createServer, connect, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { placeSocket, SocketPlacementError } from '../../../src/local/socket-file.js'

const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (server) => await new Promise((resolve) => { server.close(resolve) })))
})

function server (): Server {
  // A probe hangs up at once; its answer may meet a reset.
  const made = createServer((socket) => { socket.on('error', () => {}); socket.end('ok') })
  servers.push(made)
  return made
}

async function answer (path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = connect(path)
    let text = ''
    socket.on('data', (chunk: Buffer) => { text += chunk.toString() })
    socket.on('end', () => { resolve(text) })
    socket.on('error', reject)
  })
}

const folder = (): string => mkdtempSync(join(tmpdir(), 'dg-place-'))

describe('placeSocket', () => {
  it('listens at the path with the mode asked for, and leaves no private folder behind', async () => {
    const dir = folder()
    const path = join(dir, 'tool.sock')
    const placed = await placeSocket(server(), { path, mode: 0o640, uid: null, gid: process.getgid?.() ?? null })
    expect(lstatSync(path).mode & 0o777).toBe(0o640)
    expect(await answer(path)).toBe('ok')
    expect(readdirSync(dir)).toEqual(['tool.sock'])
    await placed.remove()
    expect(readdirSync(dir)).toEqual([])
  })

  it('replaces a stale socket nobody answers on', async () => {
    const dir = folder()
    const path = join(dir, 'tool.sock')
    const old = createServer()
    await new Promise<void>((resolve) => { old.listen(join(dir, 'old.sock'), resolve) })
    // A socket file whose listener is gone: what a killed process leaves.
    renameSync(join(dir, 'old.sock'), path)
    await new Promise((resolve) => { old.close(resolve) })
    await placeSocket(server(), { path, mode: 0o600, uid: null, gid: null })
    expect(await answer(path)).toBe('ok')
  })

  it('refuses a regular file and leaves it as it was', async () => {
    const path = join(folder(), 'tool.sock')
    writeFileSync(path, 'keep me')
    const refused = placeSocket(server(), { path, mode: 0o600, uid: null, gid: null })
    await expect(refused).rejects.toBeInstanceOf(SocketPlacementError)
    await expect(refused).rejects.toThrow(`${path} exists and is not a socket (a regular file)`)
    expect(lstatSync(path).isFile()).toBe(true)
  })

  it('refuses a socket another process answers on', async () => {
    const path = join(folder(), 'tool.sock')
    await new Promise<void>((resolve) => { server().listen(path, resolve) })
    await expect(placeSocket(server(), { path, mode: 0o600, uid: null, gid: null })).rejects.toThrow(`another process is listening on ${path}`)
    expect(await answer(path)).toBe('ok')
  })

  it('says which folder is missing, and when it cannot write there', async () => {
    const dir = folder()
    await expect(placeSocket(server(), { path: join(dir, 'none', 'tool.sock'), mode: 0o600, uid: null, gid: null }))
      .rejects.toThrow(`the folder ${join(dir, 'none')} for tool.sock does not exist`)
    if (process.getuid?.() === 0) return // root writes anywhere
    chmodSync(dir, 0o500)
    await expect(placeSocket(server(), { path: join(dir, 'tool.sock'), mode: 0o600, uid: null, gid: null })).rejects.toThrow(/needs write permission/)
  })

  it('removes only the socket it placed: not one a later dockgate put at the same path', async () => {
    const dir = folder()
    const path = join(dir, 'tool.sock')
    const first = server()
    const placed = await placeSocket(first, { path, mode: 0o600, uid: null, gid: null })
    await new Promise((resolve) => { first.close(resolve) })
    await placeSocket(server(), { path, mode: 0o600, uid: null, gid: null })
    await placed.remove()
    expect(await answer(path)).toBe('ok')
  })
})
