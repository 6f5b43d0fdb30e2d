/**
 * Startup check of the daemon socket. A missing daemon does not stop the
 * gateway (it may start later); it is reported once, with what to do.
 */
import http from 'node:http'
import type { Upstream } from './exchange.js'

const HINTS: Readonly<Record<string, string>> = {
  ENOENT: 'no socket at that path: is dockerd running?',
  ECONNREFUSED: 'the socket exists but nothing accepts on it: is dockerd running?',
  EACCES: 'permission denied: run dockgate as a user in the socket\'s group (usually `docker`)'
}

/** Resolves null when `GET /_ping` answers 200, else a sentence saying what is wrong. */
export async function probeUpstream (upstream: Upstream, timeoutMs = 3000): Promise<string | null> {
  return await new Promise((resolve) => {
    const req = http.get({ socketPath: upstream.socketPath, path: '/_ping', timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode === 200 ? null : `the Docker daemon at ${upstream.url} answered /_ping with ${res.statusCode ?? '?'}`)
    })
    req.on('timeout', () => { req.destroy(new Error('timed out')) })
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message
      resolve(`the Docker daemon at ${upstream.url} is not answering (${code})${HINTS[code] === undefined ? '' : `; ${HINTS[code]}`}`)
    })
  })
}
