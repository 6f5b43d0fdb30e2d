/**
 * Clients for integration tests: the stock docker CLI (what users run) and a
 * raw HTTPS request for cases the CLI never produces (odd targets, Expect).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import https from 'node:https'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tls from 'node:tls'

/** What a finished docker CLI run printed. */
export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const dockerConfig = mkdtempSync(join(tmpdir(), 'dockgate-cli-'))

/** The environment that points the docker CLI at a gateway with one bundle. */
export function dockerEnv (port: number, bundle: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DOCKER_HOST: `tcp://127.0.0.1:${port}`,
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: bundle,
    DOCKER_CONFIG: dockerConfig,
    DOCKER_BUILDKIT: '0',
    DOCKER_CLI_HINTS: 'false'
  }
}

/** The environment that points the docker CLI at a Unix socket (a socket listener, or the daemon itself). */
export function socketEnv (path: string): NodeJS.ProcessEnv {
  const rest = { ...process.env }
  delete rest.DOCKER_TLS_VERIFY
  delete rest.DOCKER_CERT_PATH
  return { ...rest, DOCKER_HOST: `unix://${path}`, DOCKER_CONFIG: dockerConfig, DOCKER_BUILDKIT: '0', DOCKER_CLI_HINTS: 'false' }
}

/** Options of a docker CLI run. */
export interface CliOptions {
  readonly input?: string | Buffer
  readonly timeoutMs?: number
  /** Run as this uid and gid (the socket permission tests). */
  readonly uid?: number
  readonly gid?: number
}

/** Runs `docker ARGS` against the gateway; resolves when it exits or the timeout kills it. */
export async function docker (port: number, bundle: string, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return await runDocker(dockerEnv(port, bundle), args, options)
}

/** Runs `docker ARGS` against the Unix socket at `path`, the way a local tool given that socket does. */
export async function dockerOn (path: string, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return await runDocker(socketEnv(path), args, options)
}

async function runDocker (env: NodeJS.ProcessEnv, args: readonly string[], options: CliOptions): Promise<CliResult> {
  return await new Promise((resolve) => {
    const ids = { ...(options.uid === undefined ? {} : { uid: options.uid }), ...(options.gid === undefined ? {} : { gid: options.gid }) }
    const child = spawn(process.env.DOCKGATE_TEST_DOCKER_CLI ?? 'docker', args, { env, ...ids })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    const timer = setTimeout(() => { child.kill('SIGKILL') }, options.timeoutMs ?? 60_000)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    if (options.input !== undefined) child.stdin.end(options.input)
    else child.stdin.end()
  })
}

/** A raw HTTPS response. */
export interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

/** TLS options presenting `bundle`'s client certificate (or none) and trusting its CA. */
export function tlsOptions (bundle: string, withCert = true): tls.ConnectionOptions {
  const read = (f: string): string => readFileSync(join(bundle, f), 'utf8')
  return {
    ca: read('ca.pem'),
    ...(withCert ? { cert: read('cert.pem'), key: read('key.pem') } : {}),
    servername: 'localhost'
  }
}

/** Sends one request exactly as given (the target is not normalised), on a new connection unless `agent` keeps one. */
export async function rawRequest (port: number, bundle: string, method: string, target: string, options: { headers?: Record<string, string>; body?: string; withCert?: boolean; agent?: https.Agent } = {}): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port, method, path: target, agent: options.agent ?? false,
      headers: options.headers, ...tlsOptions(bundle, options.withCert ?? true)
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }) })
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Opens a TLS socket and writes `bytes` verbatim; resolves with everything read until the server closes. */
export async function rawExchange (port: number, bundle: string, bytes: string | Buffer, timeoutMs = 10_000): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...tlsOptions(bundle) }, () => { socket.write(bytes) })
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', reject)
    socket.on('close', () => { resolve(Buffer.concat(chunks).toString('latin1')) })
    socket.setTimeout(timeoutMs, () => { socket.destroy() })
  })
}

/** A bare TCP connection to the gateway from `from`; resolves once connected. */
export async function bare (port: number, from = '127.0.0.1'): Promise<net.Socket> {
  return await new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: from }, () => { resolve(s) })
    s.on('error', reject)
  })
}

/** Resolves true once the server has closed `s`, false if it is still open after `ms`. */
export async function closedWithin (s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed || s.readableEnded) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { resolve(false) }, ms)
    const done = (): void => { clearTimeout(timer); resolve(true) }
    s.once('end', done)
    s.once('close', done)
    s.resume()
  })
}
