/**
 * The daemon asked directly on its Unix socket, past dockgate: what the
 * security tests use to show that a refused request had no effect (no
 * container of that name, nothing written to a container's stdin, no
 * exec run) and to set up and remove their own containers.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readlinkSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import { parseResponses } from './wire.js'

/** A daemon answer. */
export interface DaemonAnswer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** Sends one request to the daemon at `socket`; the target is sent as given. */
export async function daemonRequest (socket: string, method: string, target: string, body?: unknown): Promise<DaemonAnswer> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: socket, method, path: target, agent: false,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** Whether a container with this name (or id) exists on the daemon, running or not. */
export async function containerExists (socket: string, name: string): Promise<boolean> {
  const answer = await daemonRequest(socket, 'GET', `/containers/${encodeURIComponent(name)}/json`)
  if (answer.status === 200) return true
  if (answer.status === 404) return false
  throw new Error(`container inspect ${name}: ${answer.status} ${answer.body}`)
}

/** The container's inspect document. */
export async function inspectContainer (socket: string, name: string): Promise<{ Id: string; Name: string; State: { Running: boolean }; ExecIDs: string[] | null }> {
  const answer = await daemonRequest(socket, 'GET', `/containers/${encodeURIComponent(name)}/json`)
  if (answer.status !== 200) throw new Error(`container inspect ${name}: ${answer.status} ${answer.body}`)
  return JSON.parse(answer.body) as { Id: string; Name: string; State: { Running: boolean }; ExecIDs: string[] | null }
}

/** The test image, present on every test daemon. */
export const TEST_IMAGE = 'dockgate-test/busybox:latest'

/** Creates and starts a container on the daemon (network none); resolves with its Id. */
export async function startContainer (socket: string, name: string, cmd: readonly string[], config: Record<string, unknown> = {}): Promise<string> {
  const created = await daemonRequest(socket, 'POST', `/containers/create?name=${encodeURIComponent(name)}`, {
    Image: TEST_IMAGE, Cmd: cmd, HostConfig: { NetworkMode: 'none' }, ...config
  })
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${created.body}`)
  const { Id } = JSON.parse(created.body) as { Id: string }
  const started = await daemonRequest(socket, 'POST', `/containers/${Id}/start`)
  if (started.status !== 204) throw new Error(`start ${name}: ${started.status} ${started.body}`)
  return Id
}

/** Removes containers by name or id, forcefully; missing ones are fine. */
export async function removeContainers (socket: string, ...names: string[]): Promise<void> {
  for (const name of names) {
    const answer = await daemonRequest(socket, 'DELETE', `/containers/${encodeURIComponent(name)}?force=1`)
    if (answer.status !== 204 && answer.status !== 404) throw new Error(`remove ${name}: ${answer.status} ${answer.body}`)
  }
}

/** Every container name on the daemon (without the leading slash), stopped ones included. */
export async function containerNames (socket: string): Promise<string[]> {
  const answer = await daemonRequest(socket, 'GET', '/containers/json?all=1')
  return (JSON.parse(answer.body) as Array<{ Names: string[] }>).flatMap((c) => c.Names.map((n) => n.replace(/^\//, '')))
}

/** A container's stdout and stderr so far, demultiplexed (no TTY). */
export async function containerLogs (socket: string, name: string): Promise<string> {
  const answer = await daemonRequest(socket, 'GET', `/containers/${encodeURIComponent(name)}/logs?stdout=1&stderr=1`)
  if (answer.status !== 200) throw new Error(`logs ${name}: ${answer.status} ${answer.body}`)
  return demultiplex(Buffer.from(answer.body, 'latin1'))
}

/** The payload of a Docker multiplexed stream (8-byte frame headers removed); a partial last frame is kept as far as it goes. */
export function demultiplex (stream: Buffer): string {
  let out = ''
  let at = 0
  while (at + 8 <= stream.length) {
    const size = stream.readUInt32BE(at + 4)
    out += stream.subarray(at + 8, Math.min(stream.length, at + 8 + size)).toString('latin1')
    at += 8 + size
  }
  return out
}

/** What `GET /info` says now. */
export async function daemonInfo (socket: string): Promise<{ NEventsListener: number; Containers: number }> {
  return JSON.parse((await daemonRequest(socket, 'GET', '/info')).body) as { NEventsListener: number; Containers: number }
}

/** Resolves once `check` resolves true (asked every 50 ms); throws after `timeoutMs`, naming `what`. */
export async function waitUntil (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * How many connections this process holds open to the daemon at `socket`,
 * as the kernel sees them (the daemon's accepted ends, paired with this
 * process's socket descriptors): the daemon's view of an in-process
 * gateway, unaffected by other processes using the same daemon.
 */
export function connectionsToDaemon (socket: string): number {
  const mine = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]
      if (inode !== undefined) mine.add(inode)
    } catch {
      // The descriptor closed while the folder was read.
    }
  }
  let count = 0
  for (const line of execFileSync('ss', ['-xn'], { encoding: 'utf8' }).split('\n')) {
    // u_str ESTAB 0 0 /path/docker.sock 12346 * 12345: the daemon's end, whose peer is the client's end.
    const fields = line.trim().split(/\s+/)
    if (fields[4] === socket && fields[1] === 'ESTAB' && mine.has(fields[7] ?? '')) count += 1
  }
  return count
}

/** `GET target` sent to the daemon exactly as given, past any client's checks; the status and body of its answer. */
export async function daemonRawGet (socket: string, target: string): Promise<{ status: number; body: string }> {
  const raw = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const conn = net.connect(socket, () => { conn.write(`GET ${target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n`) })
    conn.on('data', (c: Buffer) => chunks.push(c))
    conn.on('error', reject)
    conn.on('close', () => { resolve(Buffer.concat(chunks).toString('latin1')) })
  })
  const answer = parseResponses(raw, true)[0]
  if (answer === undefined) throw new Error(`no answer from the daemon to GET ${target}: ${raw}`)
  return { status: answer.status, body: answer.body }
}
