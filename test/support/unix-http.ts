/**
 * Plain HTTP/1.1 on a Unix socket, as local tools speak it to a Docker
 * socket (a socket listener, or the daemon's own): one request per
 * connection, the body read to its end. And Watchtower's update of one
 * container, call by call as containrrr/watchtower's pkg/container
 * (client.go, container.go) makes it, for the updater policy's tests.
 */
import http from 'node:http'

/** A response read to its end. */
export interface UnixResponse {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** Sends one request on the socket at `path`; a JSON body is sent with its Content-Type. */
export async function unixRequest (path: string, method: string, target: string, body?: unknown): Promise<UnixResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = http.request({
      socketPath: path,
      method,
      path: target,
      agent: false,
      headers: payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

/** The parsed JSON body of a 2xx response; throws with the status and body otherwise. */
export function json<T> (res: UnixResponse): T {
  if (res.status < 200 || res.status > 299) throw new Error(`expected 2xx, got ${res.status}: ${res.body}`)
  return JSON.parse(res.body) as T
}

/** What container inspect returns, as much as Watchtower reads of it. */
export interface Inspected {
  readonly Id: string
  readonly Name: string
  readonly Image: string
  readonly State: { readonly Running: boolean }
  readonly Config: Record<string, unknown> & { readonly Image: string; readonly Labels?: Record<string, string> }
  readonly HostConfig: Record<string, unknown>
  readonly NetworkSettings: { readonly Networks?: Record<string, unknown> }
}

/** Watchtower's default --stop-timeout. */
const STOP_TIMEOUT_MS = 10_000

/** Every request of one Watchtower update, in order, with its answer. */
export type Exchange = { readonly call: string; readonly res: UnixResponse }

/**
 * Updates the container `id` through the socket at `path` as Watchtower
 * does once it has found a newer image: inspect the container and its
 * image, stop it with kill and its stop signal, wait for it to stop
 * (polling inspect), remove it (force), create the replacement from the
 * inspected Config (image name, not id) and HostConfig exactly as read,
 * with its networks, and start it. (Watchtower then moves the new
 * container onto each network with disconnect and connect; test
 * containers have no network, so that is left out.) Stops at the first
 * answer that is not 2xx; the exchanges say how far it got.
 */
export async function watchtowerUpdate (path: string, id: string): Promise<{ exchanges: Exchange[]; created: string | null }> {
  const exchanges: Exchange[] = []
  const call = async (method: string, target: string, body?: unknown): Promise<UnixResponse | null> => {
    const res = await unixRequest(path, method, target, body)
    exchanges.push({ call: `${method} ${target}`, res })
    return res.status >= 200 && res.status <= 299 ? res : null
  }
  const inspect = await call('GET', `/containers/${id}/json`)
  if (inspect === null) return { exchanges, created: null }
  const old = json<Inspected>(inspect)
  // The image it runs (by id), then the newest under its name (which may hold slashes).
  if (await call('GET', `/images/${old.Image}/json`) === null) return { exchanges, created: null }
  if (await call('GET', `/images/${old.Config.Image}/json`) === null) return { exchanges, created: null }
  const signal = old.Config.Labels?.['com.centurylinklabs.watchtower.stop-signal'] ?? 'SIGTERM'
  if (old.State.Running && await call('POST', `/containers/${old.Id}/kill?signal=${signal}`) === null) return { exchanges, created: null }
  // Like Watchtower: poll until it has stopped or the stop timeout passed, then remove it with force anyway.
  for (const deadline = Date.now() + STOP_TIMEOUT_MS; Date.now() < deadline;) {
    const state = await call('GET', `/containers/${old.Id}/json`)
    if (state === null) return { exchanges, created: null }
    if (!json<Inspected>(state).State.Running) break
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  if (await call('DELETE', `/containers/${old.Id}?force=1`) === null) return { exchanges, created: null }
  const body = { ...old.Config, Image: old.Config.Image, HostConfig: old.HostConfig, NetworkingConfig: { EndpointsConfig: old.NetworkSettings.Networks ?? {} } }
  const create = await call('POST', `/containers/create?name=${encodeURIComponent(old.Name.replace(/^\//, ''))}`, body)
  if (create === null) return { exchanges, created: null }
  const created = json<{ Id: string }>(create).Id
  await call('POST', `/containers/${created}/start`)
  return { exchanges, created }
}
