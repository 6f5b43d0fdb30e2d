/**
 * `sockets:`: the socket listeners that serve local tools (Traefik,
 * Watchtower, CI runners) on a Docker socket of their own. Each entry is
 * `{ path, identity, mode, owner, group }`; the identity is what the
 * policy matches with `match: { socket: NAME }`, and the file's owner,
 * group and mode decide who may connect (they are the authentication).
 * Structure is checked by the schema (schema.ts); this checks values, and
 * reports each problem at its own line:col.
 */
import { resolve } from 'node:path'
import type { ValuePath } from '../shared/yaml-source.js'
import { accountId } from './accounts.js'

/** One validated socket listener; `uid`/`gid` null: the file keeps dockgate's own. */
export interface SocketListenerConfig {
  /** Absolute path of the socket file dockgate creates. */
  readonly path: string
  /** What the policy matches with `match: { socket: ... }`, and what records name. */
  readonly identity: string
  /** The file's permission bits, like 0o660. */
  readonly mode: number
  readonly uid: number | null
  readonly gid: number | null
}

/** Where a problem is and what it is. */
export type SocketReport = (path: ValuePath, message: string) => void

/** The longest socket path Linux accepts (sun_path is 108 bytes with its NUL), less room for dockgate's private folder next to it. */
export const MAX_SOCKET_PATH_BYTES = 100

/** The mode a socket gets unless its entry says otherwise: only dockgate's own user may connect. */
export const DEFAULT_SOCKET_MODE = 0o600

const IDENTITY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const MODE = /^0?[0-7]{3}$/

/** Reads `sockets:` (absent: none); entries with problems are reported and left out. */
export function readSockets (value: unknown, baseDir: string, report: SocketReport): SocketListenerConfig[] {
  if (!Array.isArray(value)) return []
  const listeners: SocketListenerConfig[] = []
  const seen = new Map<string, number>()
  value.forEach((entry: unknown, index) => {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return
    const raw = (entry as Record<string, unknown>).path
    const path = typeof raw === 'string' && raw !== '' ? resolve(baseDir, raw) : null
    const earlier = path === null ? undefined : seen.get(path)
    if (path !== null && earlier !== undefined) {
      report(['sockets', index, 'path'], `${path} is already sockets[${earlier}]; each socket listener needs a path of its own`)
      return
    }
    if (path !== null) seen.set(path, index)
    const listener = readSocket(entry as Record<string, unknown>, ['sockets', index], baseDir, report)
    if (listener !== null) listeners.push(listener)
  })
  return listeners
}

function readSocket (entry: Record<string, unknown>, at: ValuePath, baseDir: string, report: SocketReport): SocketListenerConfig | null {
  const before = { problems: 0 }
  const problem: SocketReport = (path, message) => { before.problems += 1; report(path, message) }
  const path = typeof entry.path === 'string' && entry.path !== '' ? resolve(baseDir, entry.path) : null
  if (path !== null && Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    problem([...at, 'path'], `${path} is ${Buffer.byteLength(path)} bytes long; Linux socket paths must be shorter, so use at most ${MAX_SOCKET_PATH_BYTES} bytes, like /run/dockgate/traefik.sock`)
  }
  const identity = typeof entry.identity === 'string' ? entry.identity : null
  if (identity !== null && !IDENTITY.test(identity)) {
    problem([...at, 'identity'], `identity ${JSON.stringify(identity)} must be letters, digits, '.', '_' or '-' (at most 64, starting with a letter or digit), like traefik; the policy matches it with match: { socket: ... }`)
  }
  const mode = readMode(entry.mode, [...at, 'mode'], problem)
  const uid = entry.owner === undefined ? null : account('user', entry.owner, [...at, 'owner'], problem)
  const gid = entry.group === undefined ? null : account('group', entry.group, [...at, 'group'], problem)
  if (path === null || identity === null || mode === null || before.problems > 0) return null
  return { path, identity, mode, uid: uid ?? null, gid: gid ?? null }
}

function readMode (value: unknown, at: ValuePath, report: SocketReport): number | null {
  if (value === undefined) return DEFAULT_SOCKET_MODE
  if (typeof value === 'number') {
    report(at, `mode must be a quoted octal string like "0660" (YAML reads an unquoted ${value} as a decimal number)`)
    return null
  }
  if (typeof value !== 'string' || !MODE.test(value)) {
    report(at, `mode ${JSON.stringify(value)} must be an octal permission string like "0600" (only dockgate's user) or "0660" (and the group)`)
    return null
  }
  const mode = parseInt(value, 8)
  if ((mode & 0o200) === 0) {
    report(at, `mode ${value} does not let the socket's owner write, and a client needs write permission to connect; use "0600" or "0660"`)
    return null
  }
  return mode
}

function account (kind: 'user' | 'group', value: unknown, at: ValuePath, report: SocketReport): number | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null
  const id = accountId(kind, value)
  if (typeof id === 'number') return id
  report(at, id)
  return null
}
