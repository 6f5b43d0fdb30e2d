/**
 * The socket listeners (`sockets:` in the config): one Unix socket per
 * local tool, each placed safely (src/local/socket-file.ts) and each
 * connection handed on with the listener's identity. Plain HTTP/1.1, as
 * the daemon's own socket speaks it; from there a connection takes the
 * same pipeline as a TLS one.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { SocketListenerConfig } from '../config/load.js'
import { placeSocket, type PlacedSocket } from '../local/socket-file.js'
import { socketConnection, type SocketConnection } from './connection.js'

/** The listeners of one gateway. */
export class SocketListeners {
  private readonly servers: { readonly server: Server; readonly config: SocketListenerConfig }[]
  private readonly placed: PlacedSocket[] = []
  private stopped: Promise<void> | null = null

  /** `accept` gets every connection with who it is; nothing listens until `listen`. */
  constructor (configs: readonly SocketListenerConfig[], accept: (socket: Socket, connection: SocketConnection) => void) {
    this.servers = configs.map((config) => {
      const connection = socketConnection(config.identity, config.path)
      // Half-open like the daemon's socket: `docker exec -i` closes its
      // side when stdin ends and still reads the output.
      const server = createServer({ allowHalfOpen: true }, (socket) => { accept(socket, connection) })
      return { server, config }
    })
  }

  /** Places every socket, in order; if one fails, the ones placed are taken away again and the error is thrown. */
  async listen (): Promise<string[]> {
    try {
      for (const { server, config } of this.servers) this.placed.push(await placeSocket(server, config))
    } catch (err) {
      await this.stop()
      throw err
    }
    return this.placed.map((placed) => placed.path)
  }

  /** Stops accepting and removes the socket files this gateway placed; open connections stay. Idempotent. */
  async stop (): Promise<void> {
    this.stopped ??= (async () => {
      await Promise.all(this.placed.map(async (placed) => { await placed.remove() }))
      await Promise.all(this.servers.map(async ({ server }) => {
        if (!server.listening) return
        await new Promise<void>((resolve) => { server.close(() => { resolve() }) })
      }))
    })()
    await this.stopped
  }
}
