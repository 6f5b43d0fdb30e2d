/**
 * A Node TLS client that shows what the docker CLI hides: which server
 * certificate a new handshake presents, and whether a saved TLS session
 * was resumed. One HTTP/1.1 request per connection.
 */
import tls from 'node:tls'
import { tlsOptions } from './clients.js'

/** What one connection saw. `sessions` are the tickets the server sent, newest last. */
export interface ProbeResult {
  readonly status: number
  readonly body: string
  readonly resumed: boolean
  readonly serverFingerprint256: string
  readonly sessions: readonly Buffer[]
}

/** Connects with `bundle`'s certificate (offering `session` to resume), sends `GET path`, reads to the end. */
export async function probe (port: number, bundle: string, path = '/_ping', session?: Buffer): Promise<ProbeResult> {
  return await new Promise((resolve, reject) => {
    const sessions: Buffer[] = []
    let resumed = false
    let fingerprint = ''
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle), ...(session === undefined ? {} : { session }) }, () => {
      resumed = socket.isSessionReused()
      fingerprint = socket.getPeerCertificate().fingerprint256
      socket.write(`GET ${path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n`)
    })
    socket.on('session', (ticket: Buffer) => { sessions.push(ticket) })
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.setTimeout(10_000, () => { socket.destroy(new Error('probe timed out')) })
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1')
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), resumed, serverFingerprint256: fingerprint, sessions })
    })
  })
}
