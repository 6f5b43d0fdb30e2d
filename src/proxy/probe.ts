/**
 * Checks of the daemon socket: at startup, for /readyz, and to explain a
 * failure. A missing daemon does not stop the gateway (it may start
 * later); it is reported with what to do. Permission problems name the
 * user dockgate runs as and the group it must join, because "permission
 * denied" alone sends people chmod-ing the socket.
 */
import { readFileSync, statSync } from 'node:fs'
import http from 'node:http'
import { userInfo } from 'node:os'
import type { Upstream } from './exchange.js'

const HINTS: Readonly<Record<string, string>> = {
  ENOENT: 'no socket at that path: is dockerd running, and is upstream the socket it listens on?',
  ECONNREFUSED: 'the socket exists but nothing accepts on it: is dockerd running?',
  ENOTSOCK: 'that path is not a socket',
  ETIMEDOUT: 'the daemon accepted the connection but did not answer /_ping in time'
}

/** Resolves null when `GET /_ping` answers 200, else a sentence saying what is wrong and what to do. */
export async function probeUpstream (upstream: Upstream, timeoutMs = 3000): Promise<string | null> {
  return (await pingUpstream(upstream, timeoutMs))?.problem ?? null
}

/**
 * What a failed `GET /_ping` says: `cause` is the OS error code (ETIMEDOUT
 * when nothing answered within the timeout), or null when the daemon did
 * answer, with a status other than 200; `problem` is the sentence for the
 * operator's log.
 */
export interface PingFailure {
  readonly cause: string | null
  readonly problem: string
}

/** `GET /_ping` on a connection of its own; null when it answers 200 within `timeoutMs`. */
export async function pingUpstream (upstream: Upstream, timeoutMs: number): Promise<PingFailure | null> {
  return await new Promise((resolve) => {
    const req = http.get({ socketPath: upstream.socketPath, path: '/_ping', timeout: timeoutMs, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode === 200 ? null : { cause: null, problem: `the Docker daemon at ${upstream.url} answered /_ping with ${res.statusCode ?? '?'}` })
    })
    req.on('timeout', () => { req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })) })
    req.on('error', (err: NodeJS.ErrnoException) => {
      const cause = err.code ?? err.message
      resolve({ cause, problem: `the Docker daemon at ${upstream.url} is not answering (${cause}); ${socketHint(upstream.socketPath, err.code ?? '')}` })
    })
  })
}

/** What an operator should do about `code` when connecting to `socketPath`. */
export function socketHint (socketPath: string, code: string): string {
  if (code === 'EACCES' || code === 'EPERM') return permissionHint(socketPath)
  return HINTS[code] ?? 'check that dockerd is running and that upstream names its socket'
}

/**
 * Explains a refused connect: who dockgate runs as, who owns the socket,
 * and the one change that fixes it. Falls back to a generic sentence when
 * the socket cannot be inspected.
 */
export function permissionHint (socketPath: string): string {
  const user = currentUser()
  let stat
  try {
    stat = statSync(socketPath)
  } catch {
    return `permission denied: dockgate runs as ${user}, which may not reach ${socketPath}; make that user a member of the socket's group (usually docker)`
  }
  const group = groupName(stat.gid) ?? `gid ${stat.gid}`
  const mode = (stat.mode & 0o777).toString(8).padStart(4, '0')
  const inGroup = process.getgroups?.().includes(stat.gid) === true || process.getgid?.() === stat.gid
  if (!inGroup) {
    return `permission denied: dockgate runs as ${user}, which is not in group ${group} that owns ${socketPath} (mode ${mode}); ` +
      `add it with \`usermod -aG ${group} ${userInfo().username}\` (or SupplementaryGroups=${group} in the systemd unit, group_add in compose) and restart dockgate`
  }
  return `permission denied: ${socketPath} has mode ${mode}, which does not let its group ${group} connect; ` +
    'dockerd normally creates it 0660 (see its --group flag): restart dockerd or restore the mode'
}

function currentUser (): string {
  try {
    const info = userInfo()
    return `user ${info.username} (uid ${info.uid})`
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}

// Node has no getgrgid; /etc/group is where the name of a local group lives.
function groupName (gid: number): string | null {
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':')
      if (name !== undefined && id !== undefined && Number(id) === gid) return name
    }
  } catch {
    // no /etc/group (a minimal container): the gid is shown instead
  }
  return null
}
