/**
 * The little of the daemon's API the owner index needs, over its Unix
 * socket: JSON GETs and the events stream. Paths carry no API version, so
 * the daemon answers in its own (the fields read here have not changed
 * since API 1.25), and a daemon whose minimum version is above dockgate's
 * still answers.
 */
import http from 'node:http'
import { StringDecoder } from 'node:string_decoder'

/** A daemon answer: its status and its body parsed as JSON (null when it is not JSON). */
export interface DaemonAnswer {
  readonly status: number
  readonly body: unknown
}

/** A running events stream. */
export interface EventStream {
  /** Resolves once the daemon answered 200 (events then flow), rejects if it did not. */
  readonly opened: Promise<void>
  /** Resolves when the stream ends, for whatever reason. */
  readonly ended: Promise<void>
  close (): void
}

/** Talks to one daemon socket. */
export class DaemonClient {
  constructor (readonly socketPath: string, private readonly timeoutMs = 10_000) {}

  /** `GET path`; rejects only when the socket cannot be reached or the answer does not arrive in time. */
  async get (path: string): Promise<DaemonAnswer> {
    return await new Promise((resolve, reject) => {
      const req = http.get({ socketPath: this.socketPath, path, agent: false, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: parseOrNull(Buffer.concat(chunks).toString('utf8')) })
        })
      })
      req.on('timeout', () => { req.destroy(new Error(`the Docker daemon did not answer GET ${path} in time`)) })
      req.on('error', reject)
    })
  }

  /** Follows `GET path` (an events stream), calling `onLine` for each line as it arrives. */
  stream (path: string, onLine: (line: string) => void): EventStream {
    let req: http.ClientRequest | null = null
    let settleOpened: { resolve: () => void; reject: (err: Error) => void } | null = null
    let settleEnded = (): void => {}
    const opened = new Promise<void>((resolve, reject) => { settleOpened = { resolve, reject } })
    const ended = new Promise<void>((resolve) => { settleEnded = resolve })
    opened.catch(() => {})
    const finish = (err?: Error): void => {
      settleOpened?.reject(err ?? new Error('the events stream ended before it opened'))
      settleOpened = null
      settleEnded()
    }
    req = http.get({ socketPath: this.socketPath, path, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        finish(new Error(`the Docker daemon answered GET ${path} with ${res.statusCode ?? '?'}`))
        return
      }
      settleOpened?.resolve()
      settleOpened = null
      const decoder = new StringDecoder('utf8')
      let pending = ''
      res.on('data', (chunk: Buffer) => {
        const lines = (pending + decoder.write(chunk)).split('\n')
        pending = lines.pop() ?? ''
        for (const line of lines) if (line.trim() !== '') onLine(line)
      })
      res.on('end', () => { finish() })
      res.on('error', (err) => { finish(err) })
      res.on('close', () => { finish() })
    })
    req.on('error', (err) => { finish(err) })
    return { opened, ended, close: () => { req?.destroy() } }
  }
}

function parseOrNull (text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
