/**
 * Checks the gateway's TLS material at load time, so a wrong file is a
 * config diagnostic naming the key instead of a handshake failure later.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'

/** The three PEM texts named by `tls:` in the config. */
export interface TlsPem {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

/** One problem with the TLS material: which key it concerns, and a message. */
export interface TlsProblem {
  readonly key: 'ca' | 'cert' | 'key'
  readonly message: string
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

/** When the material is checked, and the certificate's file name for messages. */
export interface TlsCheckOptions {
  readonly now?: Date
  readonly certFile?: string
}

/**
 * Every problem with the material: unparsable PEM, a CA file holding a
 * non-CA certificate, a key that does not belong to the certificate, a
 * server certificate that is expired or not yet valid at `now` (every
 * client would refuse it). Empty when the material is usable. Never throws.
 */
export function checkTlsMaterial (pem: TlsPem, options: TlsCheckOptions = {}): TlsProblem[] {
  const problems: TlsProblem[] = [...checkCaBundle(pem.ca)]
  const cert = parseCertificate('cert', pem.cert, problems)
  const key = parseKey(pem.key, problems)
  if (cert !== null && key !== null && !cert.checkPrivateKey(key)) {
    problems.push({ key: 'key', message: 'tls.key does not match tls.cert (they are not a key pair; was one of them regenerated?)' })
  }
  if (cert !== null) problems.push(...checkValidity(cert, options.now ?? new Date(), options.certFile))
  return problems
}

// Serving a certificate outside its validity would make every client's
// handshake fail; at startup that is a clear error, on reload the old
// certificate keeps serving.
function checkValidity (cert: X509Certificate, now: Date, file: string | undefined): TlsProblem[] {
  const from = new Date(cert.validFrom)
  const to = new Date(cert.validTo)
  const which = file === undefined ? 'tls.cert' : `tls.cert ${file}`
  const window = `valid from ${from.toISOString()} to ${to.toISOString()}`
  if (now.getTime() > to.getTime()) {
    return [{ key: 'cert', message: `${which} expired on ${to.toISOString()} (${window}); every client would refuse it: ` +
      'renew it with `dockgate certs renew --server`' }]
  }
  if (now.getTime() < from.getTime()) {
    return [{ key: 'cert', message: `${which} is not valid until ${from.toISOString()} (${window}; this host's clock says ` +
      `${now.toISOString()}); every client would refuse it: check the clocks of this host and the CA host` }]
  }
  return []
}

/**
 * The certificates in a `tls.ca` bundle that parse, in file order. Used
 * after {@link checkTlsMaterial} found no problem, so nothing is dropped.
 */
export function caCertificates (text: string): X509Certificate[] {
  const parsed: X509Certificate[] = []
  for (const block of text.match(CERT_BLOCK) ?? []) {
    try {
      parsed.push(new X509Certificate(block))
    } catch {
      // reported by checkTlsMaterial
    }
  }
  return parsed
}

function checkCaBundle (text: string): TlsProblem[] {
  const blocks = text.match(CERT_BLOCK) ?? []
  if (blocks.length === 0) return [{ key: 'ca', message: 'tls.ca holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)' }]
  const problems: TlsProblem[] = []
  blocks.forEach((block, index) => {
    const cert = parseCertificate('ca', block, problems, index)
    if (cert !== null && !cert.ca) {
      problems.push({
        key: 'ca',
        message: `tls.ca holds a certificate that is not a CA (${cert.subject.replaceAll('\n', ', ')}); ` +
          'point tls.ca at the CA that signs client certificates, not at a server or client certificate'
      })
    }
  })
  return problems
}

function parseCertificate (key: 'ca' | 'cert', text: string, problems: TlsProblem[], index = 0): X509Certificate | null {
  const which = index === 0 ? `tls.${key}` : `certificate ${index + 1} in tls.${key}`
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    problems.push({ key, message: `${which} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)` })
    return null
  }
  try {
    return new X509Certificate(text)
  } catch (err) {
    problems.push({ key, message: `${which} cannot be parsed as a certificate: ${reason(err)}` })
    return null
  }
}

function parseKey (text: string, problems: TlsProblem[]): KeyObject | null {
  try {
    return createPrivateKey(text)
  } catch (err) {
    const hint = /passphrase|encrypted/i.test(reason(err)) || text.includes('ENCRYPTED')
      ? ' (encrypted keys are not supported; store it unencrypted with mode 0600)'
      : ''
    problems.push({ key: 'key', message: `tls.key cannot be parsed as a private key: ${reason(err)}${hint}` })
    return null
  }
}

function reason (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
