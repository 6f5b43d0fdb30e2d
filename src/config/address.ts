/**
 * Parsing of the two addresses in the config: where the gateway listens and
 * the Docker daemon socket it forwards to. Pure string work; a failure is a
 * message saying what a valid value looks like.
 */

/** A TCP address to listen on. `host` is bare (IPv6 without brackets); `port` 0 picks a free port. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/**
 * The daemon socket. `socketPath` is the absolute path of the unix socket;
 * `url` is the canonical `unix:///PATH` spelling, for logs and messages.
 */
export interface UpstreamAddress {
  readonly socketPath: string
  readonly url: string
}

const BRACKETED_IPV6 = /^\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\]:(\d{1,5})$/
const HOST_AND_PORT = /^([A-Za-z0-9.-]+):(\d{1,5})$/
const MAX_PORT = 65535

/**
 * Parses `HOST:PORT` (`0.0.0.0:2376`, `localhost:0`, `[::1]:2376`). Returns
 * the address, or a message for a person.
 */
export function parseListen (text: string): ListenAddress | string {
  const match = BRACKETED_IPV6.exec(text) ?? HOST_AND_PORT.exec(text)
  const host = match?.[1]
  const port = Number(match?.[2])
  if (host === undefined || !Number.isInteger(port) || port > MAX_PORT) return listenProblem(text)
  return Object.freeze({ host, port })
}

function listenProblem (text: string): string {
  const shown = JSON.stringify(text)
  if (/^[0-9A-Fa-f]*:[0-9A-Fa-f:]*:\d+$/.test(text)) {
    return `listen ${shown} looks like an IPv6 address; write it in brackets, like [::1]:2376`
  }
  if (text.startsWith(':')) return `listen ${shown} has no host; write 0.0.0.0${text} to listen on every interface`
  return `listen must be HOST:PORT like 0.0.0.0:2376 with a port from 0 to 65535, got ${shown}`
}

/**
 * Parses `unix:///ABSOLUTE/PATH`, the only upstream dockgate supports (the
 * daemon's TCP socket would need its own TLS and defeats the point).
 */
export function parseUpstream (text: string): UpstreamAddress | string {
  const usage = `upstream must be unix:///PATH, like unix:///var/run/docker.sock, got ${JSON.stringify(text)}`
  if (!text.startsWith('unix://')) return usage
  const socketPath = text.slice('unix://'.length)
  if (!socketPath.startsWith('/')) return `${usage} (the path must be absolute: three slashes after unix:)`
  if (socketPath === '/' || socketPath.endsWith('/')) return `${usage} (the path names a directory, not a socket)`
  if (/[?#\0]/.test(socketPath)) return `${usage} (no query, fragment or NUL in the socket path)`
  return Object.freeze({ socketPath, url: `unix://${socketPath}` })
}

/** A TCP destination (a syslog collector): a host name or address and a port. */
export interface RemoteAddress {
  readonly host: string
  readonly port: number
}

/** Parses `HOST:PORT` with a port from 1 to 65535 (`logs.example.com:6514`, `[::1]:514`). */
export function parseRemote (text: string): RemoteAddress | string {
  const match = BRACKETED_IPV6.exec(text) ?? HOST_AND_PORT.exec(text)
  const host = match?.[1]
  const port = Number(match?.[2])
  if (host === undefined || host === '' || !Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    return `must be HOST:PORT like logs.example.com:6514 with a port from 1 to 65535 (IPv6 in brackets), got ${JSON.stringify(text)}`
  }
  return Object.freeze({ host, port })
}
