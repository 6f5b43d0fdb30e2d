/**
 * Puts a listening Unix socket at a path safely, and takes it away again.
 * The socket is bound inside a private folder (mode 0700) next to the
 * path, given its mode, owner and group there, and only then hard-linked
 * to the path: there is no moment at which it is reachable with the
 * wrong permissions. What is at the path already decides what happens:
 *
 * - nothing: the socket is placed;
 * - a socket nobody answers on (left by a killed dockgate): replaced;
 * - a socket a live process answers on: refused (another dockgate?);
 * - anything else (a file, a folder, a link): refused, never touched.
 *
 * Removal takes away only the file this process placed (same inode), so
 * a stop never deletes the socket of a dockgate that replaced it.
 */
import { chmod, chown, link, lstat, mkdtemp, rmdir, unlink } from 'node:fs/promises'
import { connect, type Server } from 'node:net'
import { basename, dirname, join } from 'node:path'

/** Where and how to place one socket. `uid`/`gid` null: leave dockgate's own. */
export interface SocketFileSpec {
  readonly path: string
  readonly mode: number
  readonly uid: number | null
  readonly gid: number | null
}

/** A socket this process placed; `remove` is safe to call more than once. */
export interface PlacedSocket {
  readonly path: string
  readonly remove: () => Promise<void>
}

/** Why a socket could not be placed, for the operator (the message names the path and what to do). */
export class SocketPlacementError extends Error {}

/** How long a probe of an existing socket waits for an answer before it counts as stale. */
const PROBE_TIMEOUT_MS = 1000

/**
 * Makes `server` listen on `spec.path` (see the module comment); rejects
 * with a {@link SocketPlacementError}, `server` closed, when it cannot.
 */
export async function placeSocket (server: Server, spec: SocketFileSpec): Promise<PlacedSocket> {
  const existing = await whatIsAt(spec.path)
  const folder = await mkdtemp(join(dirname(spec.path), '.dockgate-')).catch((err: NodeJS.ErrnoException) => {
    throw new SocketPlacementError(`cannot create a private folder next to ${spec.path} to prepare it (${err.code ?? err.message}); dockgate needs write permission on ${dirname(spec.path)}`)
  })
  const staging = join(folder, 's')
  try {
    await listenAt(server, staging)
    await chmod(staging, spec.mode)
    if (spec.uid !== null || spec.gid !== null) await chown(staging, spec.uid ?? -1, spec.gid ?? -1)
    if (existing === 'stale') await removeIfSocket(spec.path)
    await link(staging, spec.path).catch((err: NodeJS.ErrnoException) => {
      throw new SocketPlacementError(err.code === 'EEXIST'
        ? `${spec.path} appeared while dockgate was preparing it; is another dockgate starting?`
        : `cannot create ${spec.path} (${err.code ?? err.message})`)
    })
    const placed = await lstat(spec.path)
    return { path: spec.path, remove: async () => { await removeIfSame(spec.path, placed.ino, placed.dev) } }
  } catch (err) {
    await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
    if (err instanceof SocketPlacementError) throw err
    throw new SocketPlacementError(`cannot listen on ${spec.path}: ${(err as Error).message}`)
  } finally {
    await unlink(staging).catch(() => {})
    await rmdir(folder).catch(() => {})
  }
}

/** What is at `path` now: nothing, a stale socket; anything else is refused with the reason. */
async function whatIsAt (path: string): Promise<'free' | 'stale'> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => err)
  if (stat instanceof Error) {
    if (stat.code !== 'ENOENT') throw new SocketPlacementError(`cannot look at ${path} (${stat.code ?? stat.message})`)
    const parent = await lstat(dirname(path)).catch(() => null)
    if (parent === null || !parent.isDirectory()) {
      throw new SocketPlacementError(`the folder ${dirname(path)} for ${basename(path)} does not exist; create it (with systemd: RuntimeDirectory=dockgate makes /run/dockgate)`)
    }
    return 'free'
  }
  if (!stat.isSocket()) {
    throw new SocketPlacementError(`${path} exists and is not a socket (${kindOf(stat)}); dockgate never removes or overwrites it: move it away or choose another path`)
  }
  const answer = await probe(path)
  if (answer === 'live') throw new SocketPlacementError(`another process is listening on ${path} (another dockgate?); stop it, or choose another path`)
  if (answer !== 'stale') throw new SocketPlacementError(`cannot tell whether ${path} is in use: connecting to it failed with ${answer}`)
  return 'stale'
}

/** Connects once: `live` when something accepts, `stale` when nothing listens, else the error code. */
async function probe (path: string): Promise<string> {
  return await new Promise((resolve) => {
    const socket = connect(path)
    const done = (answer: string): void => { socket.destroy(); resolve(answer) }
    socket.setTimeout(PROBE_TIMEOUT_MS, () => { done('a timeout') })
    socket.once('connect', () => { done('live') })
    socket.once('error', (err: NodeJS.ErrnoException) => { done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : err.code ?? err.message) })
  })
}

async function listenAt (server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // exclusive: a cluster worker binds this socket itself instead of asking the primary to share one.
    server.listen({ path, exclusive: true }, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

// Between the probe and here something else may have taken the path; only a socket is ever removed.
async function removeIfSocket (path: string): Promise<void> {
  const stat = await lstat(path).catch(() => null)
  if (stat === null) return
  if (!stat.isSocket()) throw new SocketPlacementError(`${path} changed into ${kindOf(stat)} while dockgate was replacing a stale socket; it was left alone`)
  await unlink(path).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
}

async function removeIfSame (path: string, ino: number, dev: number): Promise<void> {
  const stat = await lstat(path).catch(() => null)
  if (stat === null || stat.ino !== ino || stat.dev !== dev) return
  await unlink(path).catch(() => {})
}

function kindOf (stat: Awaited<ReturnType<typeof lstat>>): string {
  if (stat.isFile()) return 'a regular file'
  if (stat.isDirectory()) return 'a folder'
  if (stat.isSymbolicLink()) return 'a symbolic link'
  return 'not a socket'
}
