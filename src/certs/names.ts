/**
 * The subjectAltName entries a client certificate can carry, checked before
 * anything is signed. Policies match them as san_dns, san_uri and san_email,
 * so a value that Node would print differently from how it was typed (or
 * that could smuggle a separator into Node's `subjectaltname` string) is
 * refused here rather than silently never matching.
 */
import { CertInputError } from './errors.js'

/** Alternative names as given on the command line. */
export interface ClientAltNames {
  readonly dns: readonly string[]
  readonly uri: readonly string[]
  readonly email: readonly string[]
}

// One DNS label (RFC 1123), and a whole name of at most 253 characters.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
const MAX_NAME_LENGTH = 253
// RFC 3986 scheme, then anything printable without spaces, commas or quotes.
const URI = /^[a-z][a-z0-9+.-]*:[^\s,"\\]+$/
// SPIFFE IDs: spiffe://trust-domain/path, trust domain lower-case.
const SPIFFE = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/
const MAX_URI_LENGTH = 2048

/**
 * Checks every name and returns the node-forge altName objects, DNS names
 * first, then URIs, then e-mail addresses, each list in the order given
 * and without duplicates. Throws {@link CertInputError} naming the first
 * bad value and what is accepted.
 */
export function checkClientAltNames (names: ClientAltNames): object[] {
  const unique = (list: readonly string[]): string[] => [...new Set(list)]
  return [
    ...unique(names.dns).map((dns) => ({ type: 2, value: checkDns(dns) })),
    ...unique(names.uri).map((uri) => ({ type: 6, value: checkUri(uri) })),
    ...unique(names.email).map((email) => ({ type: 1, value: checkEmail(email) }))
  ]
}

function checkDns (name: string): string {
  const labels = name.split('.')
  const checked = labels[0] === '*' && labels.length > 2 ? labels.slice(1) : labels
  if (name.length > MAX_NAME_LENGTH || !checked.every((label) => DNS_LABEL.test(label))) {
    throw new CertInputError(`--san-dns '${name}' is not a lower-case DNS name like build.example.com`)
  }
  return name
}

function checkUri (uri: string): string {
  if (uri.length > MAX_URI_LENGTH || !URI.test(uri)) {
    throw new CertInputError(`--san-uri '${uri}' is not a URI like spiffe://example.org/team/ci (no spaces, commas or quotes)`)
  }
  if (uri.startsWith('spiffe:') && !SPIFFE.test(uri)) {
    throw new CertInputError(`--san-uri '${uri}' is not a SPIFFE ID: spiffe://TRUST-DOMAIN/PATH with a lower-case trust domain and no query or fragment`)
  }
  return uri
}

function checkEmail (email: string): string {
  if (email.length > MAX_NAME_LENGTH || !EMAIL.test(email)) {
    throw new CertInputError(`--san-email '${email}' is not an e-mail address like alice@example.com`)
  }
  return email
}
