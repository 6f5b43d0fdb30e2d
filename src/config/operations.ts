/**
 * The operational keys of the gateway config: `limits:` (with their
 * defaults), `admin:`, `shutdown:` and `workers:`. Values the schema already
 * refused are not reported again here; what is left are the checks a schema
 * cannot say: the admin address form, loopback, and clashes with `listen`.
 */
import { availableParallelism } from 'node:os'
import { isAbsolute } from 'node:path'
import { Type } from '@sinclair/typebox'
import type { Diagnostic } from '../shared/diagnostics.js'
import type { ErrorCode } from '../shared/errors.js'
import { checkSchema } from '../shared/schema-check.js'
import type { Locator, ValuePath } from '../shared/yaml-source.js'
import { parseListen, type ListenAddress } from './address.js'
import { AdminObjectSchema } from './schema.js'

/**
 * Resource limits, defaults filled in. Per-identity limits are keyed by the
 * client certificate's SHA-256 fingerprint. `requestsPerSecond` null means
 * no rate limit.
 */
export interface Limits {
  readonly bodyBytes: number
  readonly maxConnections: number
  readonly connectionsPerIdentity: number
  readonly streamsPerIdentity: number
  readonly requestsPerSecond: number | null
  readonly requestBurst: number
  readonly headerBytes: number
  readonly headersTimeoutSeconds: number
  readonly unverifiedConnections: number
  readonly unverifiedPerAddress: number
}

/** The defaults, each documented in the limits table of docs/operations.md with its reason. */
export const DEFAULT_LIMITS: Omit<Limits, 'requestBurst'> = Object.freeze({
  bodyBytes: 1024 * 1024,
  maxConnections: 4096,
  connectionsPerIdentity: 768,
  streamsPerIdentity: 512,
  requestsPerSecond: null,
  headerBytes: 32 * 1024,
  headersTimeoutSeconds: 20,
  unverifiedConnections: 1024,
  unverifiedPerAddress: 64
})

/** The burst when only a rate is given: one second's worth, and never fewer than 20 (one `docker run` sends about 8 requests at once). */
export function defaultBurst (requestsPerSecond: number | null): number {
  return Math.max(20, Math.ceil(requestsPerSecond ?? 0))
}

/** Where the admin endpoints listen: a TCP address or a Unix socket path. */
export type AdminAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly allowRemote: boolean }
  | { readonly kind: 'unix'; readonly path: string }

/** The default `shutdown.graceSeconds`: fits inside `docker stop`'s 10 s, with time left to flush. */
export const DEFAULT_GRACE_SECONDS = 8
/** The most workers `workers:` accepts. */
export const MAX_WORKERS = 64

type Report = (code: ErrorCode, path: ValuePath, message: string) => void

/** Reads `limits:`; values the schema refused fall back to their defaults (the schema error stops loading anyway). */
export function readLimits (limits: unknown): Limits {
  const raw = isRecord(limits) ? limits : {}
  const int = (key: keyof typeof DEFAULT_LIMITS, fallback: number): number => {
    const value = raw[key]
    return typeof value === 'number' && Number.isInteger(value) ? value : fallback
  }
  const rate = typeof raw.requestsPerSecond === 'number' && raw.requestsPerSecond > 0 ? raw.requestsPerSecond : null
  return {
    bodyBytes: int('bodyBytes', DEFAULT_LIMITS.bodyBytes),
    maxConnections: int('maxConnections', DEFAULT_LIMITS.maxConnections),
    connectionsPerIdentity: int('connectionsPerIdentity', DEFAULT_LIMITS.connectionsPerIdentity),
    streamsPerIdentity: int('streamsPerIdentity', DEFAULT_LIMITS.streamsPerIdentity),
    requestsPerSecond: rate,
    requestBurst: typeof raw.requestBurst === 'number' && Number.isInteger(raw.requestBurst) ? raw.requestBurst : defaultBurst(rate),
    headerBytes: int('headerBytes', DEFAULT_LIMITS.headerBytes),
    headersTimeoutSeconds: int('headersTimeoutSeconds', DEFAULT_LIMITS.headersTimeoutSeconds),
    unverifiedConnections: int('unverifiedConnections', DEFAULT_LIMITS.unverifiedConnections),
    unverifiedPerAddress: int('unverifiedPerAddress', DEFAULT_LIMITS.unverifiedPerAddress)
  }
}

/** Reads `shutdown:`. */
export function readShutdown (shutdown: unknown): { readonly graceSeconds: number } {
  const grace = isRecord(shutdown) ? shutdown.graceSeconds : undefined
  return { graceSeconds: typeof grace === 'number' && Number.isInteger(grace) ? grace : DEFAULT_GRACE_SECONDS }
}

/** Reads `workers:` (a whole number or `auto`, which is one per available CPU); 1 when absent. */
export function readWorkers (value: unknown, report: Report): number {
  if (value === undefined) return 1
  if (value === 'auto') return Math.min(MAX_WORKERS, availableParallelism())
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_WORKERS) return value
  const expected = `a whole number from 1 to ${MAX_WORKERS}, or "auto" for one per CPU`
  if (typeof value === 'number') report('DG_BAD_VALUE', ['workers'], `'workers' must be ${expected}, got ${value}`)
  else report('DG_WRONG_TYPE', ['workers'], `'workers' must be ${expected}, got ${typeof value === 'string' ? JSON.stringify(value) : 'a ' + kind(value)}`)
  return 1
}

const ADMIN_FORMS = 'HOST:PORT on a loopback address (127.0.0.1:9376, [::1]:9376), unix:///PATH, or a mapping with listen and allowRemote'

/**
 * Reads `admin:`; null when absent (the admin endpoints are off by default).
 * A non-loopback address is refused unless `allowRemote: true` says it is
 * meant: the endpoints have no authentication. It may never share the TLS
 * port.
 */
export function readAdmin (value: unknown, listen: ListenAddress | null, locator: Locator, report: Report, problems: Diagnostic[]): AdminAddress | null {
  if (value === undefined) return null
  let text: unknown = value
  let allowRemote = false
  const path: ValuePath = isRecord(value) ? ['admin', 'listen'] : ['admin']
  if (isRecord(value)) {
    const found = checkSchema(Type.Object({ admin: AdminObjectSchema }), { admin: value }, locator)
    if (found.length > 0) {
      problems.push(...found)
      return null
    }
    text = value.listen
    allowRemote = value.allowRemote === true
  }
  if (typeof text !== 'string') {
    report('DG_WRONG_TYPE', path, `'admin' must be ${ADMIN_FORMS}, got a ${kind(text)}`)
    return null
  }
  const address = parseAdmin(text, allowRemote)
  if (typeof address === 'string') {
    report('DG_BAD_VALUE', path, address)
    return null
  }
  if (address.kind === 'tcp' && listen !== null && address.port !== 0 && address.port === listen.port) {
    report('DG_BAD_VALUE', path, `admin ${text} uses the TLS port ${listen.port}; the admin endpoints are plain HTTP and need a port of their own, like 9376`)
    return null
  }
  return address
}

/** Parses an admin address; a string is the message for a person. */
export function parseAdmin (text: string, allowRemote: boolean): AdminAddress | string {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length)
    if (!isAbsolute(path) || path.endsWith('/')) return `admin ${JSON.stringify(text)} must be unix:///ABSOLUTE/PATH of a socket to create, like unix:///run/dockgate/admin.sock`
    return { kind: 'unix', path }
  }
  const listen = parseListen(text)
  if (typeof listen === 'string') return `admin must be ${ADMIN_FORMS}; ${listen.replace(/^listen /, '')}`
  if (!allowRemote && !isLoopback(listen.host)) {
    return `admin ${text} is not a loopback address, and the admin endpoints have no authentication; use 127.0.0.1:${listen.port} or unix:///PATH, ` +
      `or write admin: { listen: ${text}, allowRemote: true } to expose them on purpose (in a container, or behind a firewall)`
  }
  return { kind: 'tcp', host: listen.host, port: listen.port, allowRemote }
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1 and localhost. */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./i.test(host)
}

/** How an admin address is written in logs: `127.0.0.1:9376`, `[::1]:9376` or `unix:///PATH`. */
export function formatAdmin (address: AdminAddress): string {
  if (address.kind === 'unix') return `unix://${address.path}`
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function kind (value: unknown): string {
  return Array.isArray(value) ? 'list' : value === null ? 'empty value' : typeof value === 'object' ? 'mapping' : typeof value
}
