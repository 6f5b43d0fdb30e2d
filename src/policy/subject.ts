/**
 * Reads a certificate subject written as text (`CN=ci-runner-9,OU=ci`) into
 * the Principal that `policy explain` judges, so an operator can ask "what
 * would this certificate get" without issuing one. RFC 4514 style: RDNs
 * separated by `,` (or `+` inside a multi-valued RDN), `\` escapes the next
 * character or a hex pair. Keys are case-insensitive; CN, OU and O are read,
 * others are kept only in the displayed subject.
 */
import type { Principal } from './types.js'

/** SANs to add to a parsed subject (subjects carry none). */
export interface SubjectAltNames {
  readonly dns?: readonly string[]
  readonly uri?: readonly string[]
  readonly email?: readonly string[]
}

/** The principal for `subject`, or a sentence saying why it cannot be read. */
export function principalFromSubject (subject: string, sans: SubjectAltNames = {}): Principal | string {
  const fields: Record<'CN' | 'OU' | 'O', string[]> = { CN: [], OU: [], O: [] }
  for (const part of splitUnescaped(subject)) {
    const eq = part.indexOf('=')
    if (eq <= 0) return `"${part}" in the subject is not KEY=VALUE (write it like CN=ci-runner-9,OU=ci)`
    const key = part.slice(0, eq).trim().toUpperCase()
    const value = unescape(part.slice(eq + 1).trim())
    if (key === 'CN' || key === 'OU' || key === 'O') fields[key].push(value)
  }
  return {
    subject,
    cn: fields.CN,
    ou: fields.OU,
    o: fields.O,
    sanDns: [...(sans.dns ?? [])],
    sanUri: [...(sans.uri ?? [])],
    sanEmail: [...(sans.email ?? [])]
  }
}

/**
 * The principal of every client of the socket listener whose identity is
 * `name`: only `socket` is set, so no certificate rule matches it. The
 * gateway and `policy explain --socket` build it the same way.
 */
export function socketPrincipal (name: string): Principal {
  return Object.freeze({ subject: `socket ${name}`, cn: [], ou: [], o: [], sanDns: [], sanUri: [], sanEmail: [], socket: Object.freeze([name]) })
}

function splitUnescaped (text: string): string[] {
  const parts: string[] = []
  let current = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? ''
    if (ch === '\\') {
      current += ch + (text[i + 1] ?? '')
      i++
    } else if (ch === ',' || ch === '+') {
      parts.push(current)
      current = ''
    } else {
      current += ch
    }
  }
  parts.push(current)
  return parts.filter((p) => p.trim() !== '')
}

function unescape (text: string): string {
  return text.replace(/\\([0-9a-fA-F]{2}|.)/g, (_m, escaped: string) =>
    escaped.length === 2 ? String.fromCharCode(parseInt(escaped, 16)) : escaped)
}
