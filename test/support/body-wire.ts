/**
 * Raw HTTP/1.1 for the body regression tests (test/security/bodies*, forms): requests
 * framed byte for byte as an attacker would send them (Content-Length,
 * chunked, chunked with extensions and trailers), every answer read off the
 * connection, and the daemon asked directly on its socket what it saw.
 */
import http from 'node:http'
import net from 'node:net'
import tls from 'node:tls'
import { rawExchange, tlsOptions } from './clients.js'

/** How a request body is framed on the wire. */
export type Framing = 'Content-Length' | 'chunked' | 'chunked with extensions and trailers'

/** Every framing, in the order tests name them. */
export const FRAMINGS: readonly Framing[] = ['Content-Length', 'chunked', 'chunked with extensions and trailers']

/** One request as bytes: `headers` as given (JSON by default), the body framed as `framing`, `Connection: close`. */
export function frame (method: string, target: string, body: string | Buffer, framing: Framing = 'Content-Length', headers: Readonly<Record<string, string>> = { 'Content-Type': 'application/json' }): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: docker', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close']
  if (framing === 'Content-Length') return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\nContent-Length: ${bytes.length}\r\n\r\n`, 'latin1'), bytes])
  const extended = framing !== 'chunked'
  // Two chunks, split inside the body, so no single chunk holds a whole key.
  const cut = Math.floor(bytes.length / 2)
  const chunk = (part: Buffer): Buffer[] => part.length === 0
    ? []
    : [Buffer.from(`${part.length.toString(16)}${extended ? ';ext="a;b";x=1' : ''}\r\n`), part, Buffer.from('\r\n')]
  const end = extended ? '0;last=1\r\nX-Trailer: ignored\r\nX-Other: 1\r\n\r\n' : '0\r\n\r\n'
  const head = `${lines.join('\r\n')}\r\nTransfer-Encoding: chunked${extended ? '\r\nTrailer: X-Trailer, X-Other' : ''}\r\n\r\n`
  return Buffer.concat([Buffer.from(head, 'latin1'), ...chunk(bytes.subarray(0, cut)), ...chunk(bytes.subarray(cut)), Buffer.from(end)])
}

/** One answer read off the connection; `body` decoded from UTF-8, de-chunked. */
export interface WireAnswer {
  readonly status: number
  /** Header names lower-cased; a repeated header keeps its last value. */
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** Every answer in `raw` (Latin-1, as rawExchange returns it), interim 1xx answers included. */
export function parseAnswers (raw: string): WireAnswer[] {
  const answers: WireAnswer[] = []
  let rest = raw
  while (rest.startsWith('HTTP/1.1 ')) {
    const end = rest.indexOf('\r\n\r\n')
    if (end === -1) break
    const [statusLine = '', ...lines] = rest.slice(0, end).split('\r\n')
    const status = Number(statusLine.split(' ')[1])
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    rest = rest.slice(end + 4)
    let body = ''
    if (status >= 200 && headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const eol = rest.indexOf('\r\n')
        const size = parseInt(rest.slice(0, eol), 16)
        if (eol === -1 || Number.isNaN(size)) break
        rest = rest.slice(eol + 2)
        if (size === 0) {
          rest = rest.slice(rest.indexOf('\r\n') + 2)
          break
        }
        body += rest.slice(0, size)
        rest = rest.slice(size + 2)
      }
    } else if (status >= 200) {
      const length = headers['content-length'] === undefined ? rest.length : Number(headers['content-length'])
      body = rest.slice(0, length)
      rest = rest.slice(length)
    }
    answers.push({ status, headers, body: Buffer.from(body, 'latin1').toString('utf8') })
  }
  return answers
}

/** Sends `bytes` on a new mTLS connection as `bundle`; every answer until the gateway closes it. */
export async function sendRaw (port: number, bundle: string, bytes: string | Buffer): Promise<WireAnswer[]> {
  return parseAnswers(await rawExchange(port, bundle, bytes))
}

/** The final answer of a connection that carried one request (interim 100 Continue skipped). */
export async function sendOne (port: number, bundle: string, bytes: string | Buffer): Promise<WireAnswer> {
  const answers = (await sendRaw(port, bundle, bytes)).filter((a) => a.status >= 200)
  if (answers.length !== 1) throw new Error(`expected one answer, got ${answers.length}: ${answers.map((a) => a.status).join(', ')}`)
  return answers[0] as WireAnswer
}

/** The `message` of a Docker-shaped error body, or the whole body when it is not one. */
export function messageOf (answer: WireAnswer): string {
  try {
    const parsed = JSON.parse(answer.body) as { message?: unknown }
    return typeof parsed.message === 'string' ? parsed.message : answer.body
  } catch {
    return answer.body
  }
}

/** An answer of the daemon, asked directly on its socket. */
export interface DaemonAnswer {
  readonly status: number
  readonly body: string
}

/** `method path` on the daemon's socket (no gateway), with an optional JSON body (or body text as is: `raw`). */
export async function onDaemon (socket: string, method: string, path: string, body?: unknown, raw?: string): Promise<DaemonAnswer> {
  return await new Promise((resolve, reject) => {
    const text = raw ?? (body === undefined ? undefined : JSON.stringify(body))
    const req = http.request({ socketPath: socket, method, path, headers: text === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }) })
    })
    req.on('error', reject)
    req.end(text)
  })
}

/** True iff the daemon knows a container (`containers`), volume (`volumes`) or image (`images`) of that name. */
export async function daemonHas (socket: string, kind: 'containers' | 'volumes' | 'images', name: string): Promise<boolean> {
  const answer = await onDaemon(socket, 'GET', kind === 'volumes' ? `/v1.41/volumes/${name}` : `/v1.41/${kind}/${name}/json`)
  if (answer.status === 200) return true
  if (answer.status === 404) return false
  throw new Error(`the daemon answered ${answer.status} to an inspect of ${kind} ${name}: ${answer.body}`)
}

/**
 * Sends a request with `Expect: 100-continue` the way a careful client
 * does: the head first, the body only once the gateway answers `100
 * Continue`. Resolves with whether it did, and every answer.
 */
export async function sendExpecting (port: number, bundle: string, head: string, body: string | Buffer): Promise<{ readonly continued: boolean, readonly answers: WireAnswer[] }> {
  return await new Promise((resolve, reject) => {
    let continued = false
    const chunks: Buffer[] = []
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) }, () => { socket.write(head) })
    socket.on('data', (c: Buffer) => {
      chunks.push(c)
      if (!continued && Buffer.concat(chunks).toString('latin1').startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
        continued = true
        socket.write(body)
      }
    })
    socket.on('error', reject)
    socket.on('close', () => { resolve({ continued, answers: parseAnswers(Buffer.concat(chunks).toString('latin1')) }) })
    socket.setTimeout(10_000, () => { socket.destroy() })
  })
}

/** Writes `bytes` verbatim to the daemon's socket (no gateway); every answer until it closes the connection. */
export async function sendToDaemon (socket: string, bytes: string | Buffer): Promise<WireAnswer[]> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const connection = net.connect(socket, () => { connection.write(bytes) })
    connection.on('data', (c: Buffer) => chunks.push(c))
    connection.on('error', reject)
    connection.on('close', () => { resolve(parseAnswers(Buffer.concat(chunks).toString('latin1'))) })
    connection.setTimeout(10_000, () => { connection.destroy() })
  })
}
