import { isIP } from 'node:net'
import { CertInputError } from './errors.js'

/**
 * One subjectAltName entry. Invariant: `dns` values are lower-case DNS names
 * (optionally with a leading `*.` wildcard label); `ip` values are in the
 * canonical text form Node prints (IPv6 compressed, lower-case).
 */
export type HostName = { readonly kind: 'dns'; readonly value: string } | { readonly kind: 'ip'; readonly value: string }

/** The names every server certificate carries, so local use works without flags. */
export const ALWAYS_SERVED_HOSTS: readonly string[] = ['localhost', '127.0.0.1']

// One label of a DNS name (RFC 1123): letters, digits, inner hyphens, ≤ 63 chars.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const MAX_DNS_NAME_LENGTH = 253

/**
 * Turns the hosts a server certificate should answer to into subjectAltName
 * entries: the given hosts first, in the order given, then `localhost` and
 * `127.0.0.1`, with duplicates removed after normalisation (so `LOCALHOST`
 * and `::1`/`0:0:0:0:0:0:0:1` count once). Throws {@link CertInputError}
 * for anything that is neither an IP address nor a DNS name, in particular
 * URLs and `host:port`, which people often paste by mistake.
 */
export function serverHostNames (hosts: readonly string[]): HostName[] {
  const seen = new Set<string>()
  const names: HostName[] = []
  for (const host of [...hosts, ...ALWAYS_SERVED_HOSTS]) {
    const name = parseHost(host)
    const key = `${name.kind}:${name.value}`
    if (seen.has(key)) continue
    seen.add(key)
    names.push(name)
  }
  return names
}

/** Parses one host as given on the command line; see {@link serverHostNames}. */
export function parseHost (raw: string): HostName {
  const host = raw.trim()
  // Brackets are how IPv6 literals appear in URLs and DOCKER_HOST; accept them.
  const unbracketed = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  const version = isIP(unbracketed)
  if (version === 4) return { kind: 'ip', value: unbracketed }
  if (version === 6) return { kind: 'ip', value: canonicalIpv6(unbracketed, raw) }
  if (isDnsName(host)) return { kind: 'dns', value: host.toLowerCase().replace(/\.$/, '') }
  throw new CertInputError(`'${raw}' is not a DNS name or an IP address ` +
    '(give the bare name, e.g. docker.example.com or 10.0.0.5, without scheme or port)')
}

function canonicalIpv6 (address: string, raw: string): string {
  // A zone id (fe80::1%eth0) only means something on one machine; a certificate cannot carry it.
  if (address.includes('%')) {
    throw new CertInputError(`'${raw}' has a zone id (%...); certificates can only name the address itself`)
  }
  // The WHATWG URL parser is Node's built-in IPv6 canonicaliser (RFC 5952 form).
  return new URL(`http://[${address}]/`).hostname.slice(1, -1)
}

function isDnsName (host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '')
  if (name.length === 0 || name.length > MAX_DNS_NAME_LENGTH) return false
  const labels = name.split('.')
  // A wildcard is only meaningful as the whole left-most label of a name with a parent.
  const checkedLabels = labels[0] === '*' && labels.length > 2 ? labels.slice(1) : labels
  return checkedLabels.every((label) => DNS_LABEL.test(label))
}
