/**
 * The TLS front door. It owns the listening socket; only connections whose
 * client certificate Node verified against `tls.ca` (never the public roots)
 * and that carry clientAuth usage are handed on to the HTTP layer. A rejected
 * client never has a byte parsed as HTTP: it gets one canned answer in
 * Docker's error shape, so the docker CLI prints why, and is disconnected.
 */
import tls, { type TLSSocket } from 'node:tls'
import { identityFromPeerCertificate, type CertificateIdentity } from './identity.js'

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2'
const REJECTED_CLIENT_GRACE_MS = 10_000

/** PEM material the gate serves with and verifies against. */
export interface TlsMaterial {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

/** Why a client was turned away at the TLS layer; stable strings for audit and metrics. */
export type RejectReason =
  | 'no-certificate' | 'unknown-ca' | 'expired' | 'not-yet-valid'
  | 'wrong-usage' | 'revoked' | 'invalid-certificate' | 'handshake-failed'

/** A refused TLS client, as reported to the audit trail. */
export interface TlsRejection {
  readonly reason: RejectReason
  /** OpenSSL's code or Node's error code, for the operator. */
  readonly detail: string
  readonly peer: CertificateIdentity | null
  readonly remoteAddress: string
  readonly remotePort: number
}

/** A verified client connection, ready for HTTP. */
export interface AcceptedConnection {
  readonly socket: TLSSocket
  readonly identity: CertificateIdentity
  readonly remoteAddress: string
  readonly remotePort: number
}

/** Callbacks through which the gate reports; the gate itself never logs. */
export interface TlsGateOptions {
  readonly material: TlsMaterial
  readonly onAccepted: (connection: AcceptedConnection) => void
  readonly onRejected: (rejection: TlsRejection) => void
}

/**
 * Creates the listening TLS server. `requestCert` with `rejectUnauthorized:
 * false` lets the handshake finish so the reason for a bad certificate is
 * known and audited; the decision to refuse is then made here, fail closed.
 */
export function createTlsGate (options: TlsGateOptions): tls.Server {
  const server = tls.createServer({
    ...secureContextOptions(options.material),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    ALPNProtocols: ['http/1.1'],
    handshakeTimeout: 10_000,
    // Hijacked sessions (docker run -i, exec -i) half-close: the client ends
    // stdin and must still receive the container's output.
    allowHalfOpen: true
  })
  server.on('secureConnection', (socket) => { admitOrReject(socket, options) })
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    options.onRejected({ reason: 'handshake-failed', detail: err.code ?? err.message, peer: null, ...remoteOf(socket) })
  })
  return server
}

/** The options that make up a secure context, shared by creation and reload. */
export function secureContextOptions (material: TlsMaterial): tls.SecureContextOptions {
  return { ca: [material.ca], cert: material.cert, key: material.key }
}

function admitOrReject (socket: TLSSocket, options: TlsGateOptions): void {
  const verdict = vetClient(socket)
  const remote = remoteOf(socket)
  if (verdict.ok) {
    options.onAccepted({ socket, identity: verdict.identity, ...remote })
    return
  }
  options.onRejected({ reason: verdict.reason, detail: verdict.detail, peer: verdict.peer, ...remote })
  answerRejectedClient(socket, rejectionMessage(verdict.reason, verdict.detail))
}

type Vetting =
  | { ok: true; identity: CertificateIdentity }
  | { ok: false; reason: RejectReason; detail: string; peer: CertificateIdentity | null }

/** Decides whether a finished handshake produced a usable client identity. */
export function vetClient (socket: TLSSocket): Vetting {
  const peer = socket.getPeerCertificate()
  if (peer === null || Object.keys(peer).length === 0) {
    return { ok: false, reason: 'no-certificate', detail: 'NO_CERTIFICATE', peer: null }
  }
  const identity = identityFromPeerCertificate(peer)
  if (!socket.authorized) {
    const code = String(socket.authorizationError)
    return { ok: false, reason: reasonForVerifyError(code), detail: code, peer: identity }
  }
  // OpenSSL accepts a certificate with no extendedKeyUsage for any purpose;
  // dockgate requires clientAuth to be stated, so a server certificate or a
  // bare key pair can never act as a client.
  if (!(peer.ext_key_usage ?? []).includes(CLIENT_AUTH_OID)) {
    return { ok: false, reason: 'wrong-usage', detail: 'NO_CLIENT_AUTH_USAGE', peer: identity }
  }
  return { ok: true, identity }
}

const VERIFY_ERROR_REASONS: Readonly<Record<string, RejectReason>> = {
  CERT_HAS_EXPIRED: 'expired',
  CERT_NOT_YET_VALID: 'not-yet-valid',
  CERT_REVOKED: 'revoked',
  INVALID_PURPOSE: 'wrong-usage',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown-ca',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown-ca',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown-ca',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'unknown-ca',
  SELF_SIGNED_CERT_IN_CHAIN: 'unknown-ca',
  CERT_SIGNATURE_FAILURE: 'unknown-ca'
}

function reasonForVerifyError (code: string): RejectReason {
  return VERIFY_ERROR_REASONS[code] ?? 'invalid-certificate'
}

const REASON_TEXT: Readonly<Record<RejectReason, string>> = {
  // Go clients (the docker CLI) send no certificate at all when theirs is not
  // issued by a CA the server accepts, so this is also what a wrong-CA user sees.
  'no-certificate': 'no client certificate was presented (the docker CLI sends none when its cert.pem is not issued by this gateway\'s CA)',
  'unknown-ca': 'the client certificate is not issued by this gateway\'s CA',
  expired: 'the client certificate has expired',
  'not-yet-valid': 'the client certificate is not valid yet',
  'wrong-usage': 'the client certificate is not issued for client authentication (extendedKeyUsage clientAuth)',
  revoked: 'the client certificate has been revoked',
  'invalid-certificate': 'the client certificate could not be verified',
  'handshake-failed': 'the TLS handshake failed'
}

/** The message a rejected client is shown. */
export function rejectionMessage (reason: RejectReason, detail: string): string {
  return `dockgate: ${REASON_TEXT[reason]} (${detail})`
}

/**
 * Waits for the client's first bytes (so an HTTP client has a request in
 * flight and will read the answer), answers 403 without parsing them, and
 * closes. HEAD requests get no body, as HTTP requires.
 */
function answerRejectedClient (socket: TLSSocket, message: string): void {
  socket.on('error', () => { socket.destroy() })
  socket.setTimeout(REJECTED_CLIENT_GRACE_MS, () => { socket.destroy() })
  socket.once('data', (chunk: Buffer) => {
    const body = JSON.stringify({ message })
    const isHead = chunk.subarray(0, 5).toString('latin1') === 'HEAD '
    socket.end(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
      (isHead ? '' : body))
    socket.removeAllListeners('data')
    socket.resume()
  })
}

function remoteOf (socket: TLSSocket): { remoteAddress: string; remotePort: number } {
  return { remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 }
}
