/**
 * The admin listener: plain HTTP on a loopback address or a Unix socket,
 * never on the TLS port, with three read-only endpoints:
 *
 * - `/healthz`: the process is up and its event loop answers (always 200).
 * - `/readyz`: 200 when every readiness check passes, else 503; the JSON
 *   body names each check with a detail, so `curl` tells an operator why.
 * - `/metrics`: Prometheus text format.
 *
 * It knows nothing of the gateway: what it serves comes from the callbacks.
 * Nothing here changes state, so there is nothing to authenticate beyond
 * who can reach the address (which the config keeps local by default).
 */
import { existsSync, unlinkSync, chmodSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'

/** Where to listen. */
export type AdminListen =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string }

/** One readiness check: passed or not, and why, in words. */
export interface ReadinessCheck {
  readonly ok: boolean
  readonly detail: string
}

/** The readiness report; `ready` is true only when every check is ok. */
export interface Readiness {
  readonly ready: boolean
  readonly checks: Readonly<Record<string, ReadinessCheck>>
}

/** What the admin endpoints serve. Both callbacks may be slow (a daemon ping, asking workers) but must not reject. */
export interface AdminOptions {
  readonly listen: AdminListen
  readonly metrics: () => Promise<{ readonly contentType: string; readonly body: string }>
  readonly readiness: () => Promise<Readiness>
}

/** A listening admin server. */
export interface AdminServer {
  /** `127.0.0.1:9376` or `unix:///PATH`, with the real port when 0 was asked for. */
  readonly address: string
  readonly close: () => Promise<void>
}

/** Builds a readiness report from named checks. */
export function readinessOf (checks: Record<string, ReadinessCheck>): Readiness {
  return { ready: Object.values(checks).every((check) => check.ok), checks }
}

/** Starts listening; rejects with the OS error (EADDRINUSE, EACCES, EADDRNOTAVAIL) if it cannot. */
export async function startAdmin (options: AdminOptions): Promise<AdminServer> {
  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    void route(options, req, res).catch((err: unknown) => { answer(res, 500, 'text/plain', `admin endpoint failed: ${String(err)}\n`) })
  })
  // A scraper and a health checker need a handful; more is someone probing.
  server.maxConnections = 64
  const { listen } = options
  if (listen.kind === 'unix') await removeStaleSocket(listen.path)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    const done = (): void => { server.off('error', reject); resolve() }
    if (listen.kind === 'unix') server.listen(listen.path, done)
    else server.listen(listen.port, listen.host, done)
  })
  // Owner and group may scrape; a Unix socket is otherwise created with the umask (0077 under the shipped unit).
  if (listen.kind === 'unix') chmodSync(listen.path, 0o660)
  return {
    address: describe(server, listen),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => { resolve() }))
    }
  }
}

async function route (options: AdminOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    answer(res, 405, 'text/plain', 'only GET and HEAD\n')
    return
  }
  switch (path) {
    case '/healthz':
      answer(res, 200, 'text/plain', 'ok\n')
      return
    case '/readyz': {
      const report = await options.readiness()
      answer(res, report.ready ? 200 : 503, 'application/json', JSON.stringify(report) + '\n')
      return
    }
    case '/metrics': {
      const { contentType, body } = await options.metrics()
      answer(res, 200, contentType, body)
      return
    }
    default:
      answer(res, 404, 'text/plain', 'not found; the admin endpoints are /healthz, /readyz and /metrics\n')
  }
}

function answer (res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

// A socket file left by a process that died cannot be listened on again;
// one that still answers belongs to a running process and is left alone
// (listen then fails with EADDRINUSE, which the caller reports).
async function removeStaleSocket (path: string): Promise<void> {
  if (!existsSync(path)) return
  const answers = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path }, () => { probe.destroy(); resolve(true) })
    probe.on('error', () => { resolve(false) })
  })
  if (!answers) unlinkSync(path)
}

function describe (server: http.Server, listen: AdminListen): string {
  if (listen.kind === 'unix') return `unix://${listen.path}`
  const bound = server.address() as net.AddressInfo
  return bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`
}
