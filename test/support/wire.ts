/**
 * Raw bytes over mutual TLS, for the security regression suite
 * (test/security/): a connection that writes exactly the bytes given, in
 * the pieces given, and reads every HTTP/1.1 response the gateway sends on
 * it, so a test sees whether a second, pipelined or smuggled request was
 * answered, and whether the connection was closed behind a refusal.
 */
import tls from 'node:tls'
import { tlsOptions } from './clients.js'

/** One HTTP/1.1 response as it came off the wire. */
export interface WireResponse {
  readonly status: number
  readonly reason: string
  /** Header names lower-cased; every value of each, in order. */
  readonly headers: Readonly<Record<string, readonly string[]>>
  /** The body, de-chunked when it was chunked; for a 101 or a response without length, everything after the head. */
  readonly body: string
  /** The body parsed as Docker's error shape, when it is one. */
  readonly message: string | null
}

/** Everything one connection saw. */
export interface WireResult {
  /** All bytes read, latin1. */
  readonly raw: string
  readonly responses: readonly WireResponse[]
  /** The server closed the connection (rather than the test, after `responses` or the timeout). */
  readonly closedByServer: boolean
  /** The TLS connection failed (handshake or reset): its error code or message. */
  readonly error: string | null
  /** The ALPN protocol the handshake settled on (false for none). */
  readonly alpn: string | false | null
  /** The client's own port, as the gateway saw it (0 when the connection failed). */
  readonly localPort: number
}

/** How {@link wire} connects and when it stops reading. */
export interface WireOptions {
  /** Stop (and close) once this many complete responses were read. */
  readonly responses?: number
  /** Stop after this long in any case; the default is 10 s. */
  readonly timeoutMs?: number
  /** TLS options replacing the bundle's (certificate chains the bundle layout cannot hold, ALPN). */
  readonly tls?: tls.ConnectionOptions
  /** Wait for this predicate on what was read before writing the next piece (slow senders). */
  readonly between?: (raw: string) => boolean
  /** Write each piece this long after the previous one (a client that drips its request). */
  readonly paceMs?: number
  /** Stop (and close) once what was read satisfies this: a session that showed what it had to. */
  readonly until?: (raw: string) => boolean
}

/**
 * Connects with `bundle`'s certificate, writes each piece of `pieces` in
 * turn (each as its own write), and resolves with every response read.
 */
export async function wire (port: number, bundle: string, pieces: string | Buffer | ReadonlyArray<string | Buffer>, options: WireOptions = {}): Promise<WireResult> {
  const list = typeof pieces === 'string' || Buffer.isBuffer(pieces) ? [pieces] : [...pieces]
  return await new Promise((resolve) => {
    const chunks: Buffer[] = []
    let done = false
    let error: string | null = null
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle), ...options.tls }, () => {
      localPort = socket.localPort ?? 0
      writeNext()
    })
    let pacer: NodeJS.Timeout | undefined
    let localPort = 0
    const writeNext = (): void => {
      const piece = list.shift()
      if (piece !== undefined && !socket.destroyed) socket.write(piece)
      if (list.length === 0 || options.between !== undefined) return
      if (options.paceMs === undefined) writeNext()
      else pacer = setTimeout(writeNext, options.paceMs)
    }
    const finish = (closedByServer: boolean): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      clearTimeout(pacer)
      const raw = Buffer.concat(chunks).toString('latin1')
      resolve({ raw, responses: parseResponses(raw, closedByServer), closedByServer, error, alpn: socket.alpnProtocol ?? null, localPort })
      socket.destroy()
    }
    const timer = setTimeout(() => { finish(false) }, options.timeoutMs ?? 10_000)
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      const raw = Buffer.concat(chunks).toString('latin1')
      if (options.between?.(raw) === true && list.length > 0) writeNext()
      if (options.responses !== undefined && parseResponses(raw, false).length >= options.responses) finish(false)
      else if (options.until?.(raw) === true) finish(false)
    })
    socket.on('error', (err: NodeJS.ErrnoException) => { error ??= err.code ?? err.message })
    socket.on('close', () => { finish(true) })
  })
}

/**
 * Parses consecutive HTTP/1.1 responses. A response is complete when its
 * Content-Length or chunked body is, or, without either (a 101, a raw
 * stream), when the connection has closed (`ended`).
 */
export function parseResponses (raw: string, ended: boolean): WireResponse[] {
  const out: WireResponse[] = []
  let at = 0
  while (at < raw.length) {
    const headEnd = raw.indexOf('\r\n\r\n', at)
    if (headEnd < 0) break
    const [statusLine = '', ...lines] = raw.slice(at, headEnd).split('\r\n')
    const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine)
    if (match === null) break
    const headers: Record<string, string[]> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      ;(headers[line.slice(0, colon).trim().toLowerCase()] ??= []).push(line.slice(colon + 1).trim())
    }
    const status = Number(match[1])
    const bodyStart = headEnd + 4
    const framed = bodyOf(raw, bodyStart, status, headers)
    if (framed === null) {
      if (!ended) break
      out.push(response(status, match[2] ?? '', headers, raw.slice(bodyStart)))
      break
    }
    if (framed === 'incomplete') break
    out.push(response(status, match[2] ?? '', headers, framed.body))
    at = framed.end
  }
  return out
}

function response (status: number, reason: string, headers: Record<string, string[]>, body: string): WireResponse {
  let message: string | null = null
  try {
    const parsed = JSON.parse(body) as unknown
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { message?: unknown }).message === 'string') message = (parsed as { message: string }).message
  } catch {
    // Not JSON: a daemon's stream or a plain-text answer; `message` stays null.
  }
  return { status, reason, headers, body, message }
}

/** The body between `start` and its end by the response's framing; null when only the close ends it. */
function bodyOf (raw: string, start: number, status: number, headers: Record<string, string[]>): { body: string; end: number } | 'incomplete' | null {
  if ((status >= 100 && status < 200 && status !== 101) || status === 204 || status === 304) return { body: '', end: start }
  const length = headers['content-length']?.[0]
  if (length !== undefined) {
    const end = start + Number(length)
    return end > raw.length ? 'incomplete' : { body: raw.slice(start, end), end }
  }
  if (headers['transfer-encoding']?.some((v) => v.toLowerCase().includes('chunked')) === true) return dechunk(raw, start)
  return null
}

function dechunk (raw: string, start: number): { body: string; end: number } | 'incomplete' {
  let at = start
  let body = ''
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at)
    if (lineEnd < 0) return 'incomplete'
    const size = parseInt(raw.slice(at, lineEnd), 16)
    if (size === 0) {
      const end = raw.indexOf('\r\n\r\n', lineEnd)
      return end < 0 ? 'incomplete' : { body, end: end + 4 }
    }
    if (lineEnd + 2 + size + 2 > raw.length) return 'incomplete'
    body += raw.slice(lineEnd + 2, lineEnd + 2 + size)
    at = lineEnd + 2 + size + 2
  }
}

/** A request as raw text: `METHOD TARGET HTTP/1.1`, `Host`, the headers given, and the body with its Content-Length unless `headers` frame it. */
export function request (method: string, target: string, options: { readonly headers?: readonly string[]; readonly body?: string; readonly close?: boolean } = {}): string {
  const headers = [...(options.headers ?? [])]
  const framed = headers.some((h) => /^(content-length|transfer-encoding):/i.test(h))
  if (options.body !== undefined && !framed) headers.push(`Content-Length: ${Buffer.byteLength(options.body)}`)
  if (options.close === true) headers.push('Connection: close')
  return `${method} ${target} HTTP/1.1\r\nHost: docker\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${options.body ?? ''}`
}

/** A JSON request body with its Content-Type header. */
export function jsonRequest (method: string, target: string, body: unknown, options: { readonly headers?: readonly string[]; readonly close?: boolean } = {}): string {
  return request(method, target, { ...options, headers: ['Content-Type: application/json', ...(options.headers ?? [])], body: JSON.stringify(body) })
}
