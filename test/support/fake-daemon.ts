/**
 * A stand-in daemon on a Unix socket, for edge cases the real daemon cannot
 * produce on demand (a stream that stays silent, a reader that never reads).
 * Never used instead of the real daemon for ordinary behaviour.
 */
import http from 'node:http'
import type { Socket } from 'node:net'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A running fake daemon. */
export interface FakeDaemon {
  readonly socketPath: string
  readonly server: http.Server
  readonly close: () => Promise<void>
}

/**
 * Serves `handler` on a fresh Unix socket. `GET /_ping` is answered `OK`
 * like the real daemon does (dockgate probes it every 2 s), unless
 * `answerPing` is false; everything else goes to `handler`.
 */
export async function startFakeDaemon (handler: http.RequestListener, options: { answerPing?: boolean } = {}): Promise<FakeDaemon> {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'dg-fake-')), 'docker.sock')
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    if (options.answerPing !== false && req.method === 'GET' && req.url === '/_ping') {
      res.setHeader('content-type', 'text/plain; charset=utf-8')
      res.end('OK')
      return
    }
    handler(req, res)
  })
  // Upgraded sockets leave the server's bookkeeping; track them to close them.
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(socketPath, resolve))
  return {
    socketPath,
    server,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}
