/**
 * The TLS front door. It owns the listening socket; only connections whose
 * client certificate Node verified against `tls.ca` (never the public roots)
 * and that carry clientAuth usage are handed on to the HTTP layer. A rejected
 * client never has a byte parsed as HTTP: it gets one canned answer in
 * Docker's error shape, so the docker CLI prints why, and is disconnected.
 */
import type { Socket } from 'node:net'
import tls, { type TLSSocket } from 'node:tls'
import { identityFromPeerCertificate, type CertificateIdentity } from './identity.js'
import type { RevocationList } from './revocation.js'
import type { UnverifiedSockets } from './unverified.js'

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2'
const REJECTED_CLIENT_GRACE_MS = 10_000

/**
 * PEM material the gate serves with and verifies against. `crl`, when not
 * empty, turns on Node's revocation checking for every chain, so it must
 * hold a current CRL for each CA in `ca` (one CRL per entry).
 */
export interface TlsMaterial {
  readonly ca: string
  readonly cert: string
  readonly key: string
  readonly crl?: readonly string[]
}

/** Every reason a client can be turned away at the TLS layer, in one list so metrics can start each at zero. */
export const REJECT_REASONS = [
  'no-certificate', 'unknown-ca', 'expired', 'not-yet-valid',
  'wrong-usage', 'revoked', 'invalid-certificate', 'handshake-failed',
  'crl-expired', 'crl-not-yet-valid', 'crl-missing'
] as const

/** Why a client was turned away at the TLS layer; stable strings for audit and metrics. */
export type RejectReason = typeof REJECT_REASONS[number]

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
  /** Read for every connection, so a reload takes effect at the next handshake. */
  readonly revocation: () => RevocationList
  readonly onAccepted: (connection: AcceptedConnection) => void
  /**
   * Told of every refused client; returns header fields to add to the 403
   * it is answered with (the wiring sends the record's id, so the user can
   * quote it). A handshake that failed gets no answer at all.
   */
  readonly onRejected: (rejection: TlsRejection) => Readonly<Record<string, string>>
  /** The budget of connections not verified yet; every connection takes a slot of it before TLS starts. */
  readonly unverified?: UnverifiedSockets
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
    ALPNProtocols: ['http/1.1'],
    handshakeTimeout: 10_000,
    // Not half-open before verification: a client that hangs up mid-handshake
    // must close its socket, or it sits in CLOSE-WAIT for good. Verified
    // connections are switched to half-open in admitOrReject.
    allowHalfOpen: false
  })
  const unverified = options.unverified
  // Prepended: the peer is noted, and the slot taken, before Node's own
  // listener starts TLS. A socket that dies mid-handshake no longer knows
  // its peer, so every record of the connection takes it from here.
  server.prependListener('connection', (raw: Socket) => {
    peers.set(raw, { remoteAddress: raw.remoteAddress ?? '', remotePort: raw.remotePort ?? 0 })
    unverified?.accept(raw)
  })
  server.on('secureConnection', (socket) => { admitOrReject(socket, options) })
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // No HTTP answer is possible without a finished handshake. One record
    // per connection, whatever mix of errors its end produces.
    if (unverified?.wasDropped(socket) !== true && !rejected.has(socket)) {
      rejected.add(socket)
      options.onRejected({ reason: 'handshake-failed', detail: err.code ?? err.message, peer: null, ...remoteOf(socket) })
    }
    // Node only reports a failed or timed-out handshake; the socket stays
    // open (and counts against every connection cap) unless destroyed.
    socket.destroy()
  })
  return server
}

/**
 * The options that make up a secure context, shared by creation and reload.
 * Passed to `setSecureContext`, they also give the server fresh session
 * ticket keys: sessions resumed from tickets skip certificate verification,
 * so tickets issued before a reload must not be honoured after it.
 */
export function secureContextOptions (material: TlsMaterial): tls.SecureContextOptions {
  const crl = material.crl ?? []
  // minVersion belongs here, not to the server: setSecureContext resets
  // every context option it is not given. Never pass ticketKeys: they would
  // carry over and resumed sessions would bypass a newly loaded CRL.
  return { ca: [material.ca], cert: material.cert, key: material.key, minVersion: 'TLSv1.2', ...(crl.length > 0 ? { crl: [...crl] } : {}) }
}

/**
 * Serves new handshakes with `material` from now on. Connections already
 * open keep the context they were made with, so streams and hijacked
 * sessions run on undisturbed.
 */
export function reloadTlsGate (server: tls.Server, material: TlsMaterial): void {
  server.setSecureContext(secureContextOptions(material))
}

function admitOrReject (socket: TLSSocket, options: TlsGateOptions): void {
  const verdict = vetClient(socket, options.revocation())
  const remote = remoteOf(socket)
  if (verdict.ok) {
    // Hijacked sessions (docker run -i, exec -i) half-close: the client ends
    // stdin and must still receive the container's output.
    socket.allowHalfOpen = true
    options.onAccepted({ socket, identity: verdict.identity, ...remote })
    return
  }
  rejected.add(socket)
  const headers = options.onRejected({ reason: verdict.reason, detail: verdict.detail, peer: verdict.peer, ...remote })
  answerRejectedClient(socket, rejectionMessage(verdict.reason, verdict.detail), headers)
}

type Vetting =
  | { ok: true; identity: CertificateIdentity }
  | { ok: false; reason: RejectReason; detail: string; peer: CertificateIdentity | null }

// Verification failures about the CRL, not the certificate: the revocation
// list can still tell whether this certificate is revoked.
const CRL_ERRORS: ReadonlySet<string> = new Set(['CRL_HAS_EXPIRED', 'CRL_NOT_YET_VALID', 'UNABLE_TO_GET_CRL'])

/**
 * Decides whether a finished handshake produced a usable client identity.
 * Revocation and validity dates are checked on every connection, resumed
 * ones included: a resumed session carries the verification result of the
 * handshake it came from, however long ago that was (Node keeps sessions
 * for 300 s), so a certificate that expired since would still pass.
 */
export function vetClient (socket: TLSSocket, revocation: RevocationList, now = Date.now()): Vetting {
  const peer = socket.getPeerCertificate(true)
  if (peer === null || Object.keys(peer).length === 0) {
    return { ok: false, reason: 'no-certificate', detail: 'NO_CERTIFICATE', peer: null }
  }
  const identity = identityFromPeerCertificate(peer)
  const code = socket.authorized ? null : String(socket.authorizationError)
  if (code !== null && !CRL_ERRORS.has(code)) return { ok: false, reason: reasonForVerifyError(code), detail: code, peer: identity }
  if (revocation.isRevoked(identity)) return { ok: false, reason: 'revoked', detail: 'CERT_REVOKED', peer: identity }
  if (code !== null) return { ok: false, reason: reasonForVerifyError(code), detail: code, peer: identity }
  if (Date.parse(peer.valid_to) < now) return { ok: false, reason: 'expired', detail: 'CERT_HAS_EXPIRED', peer: identity }
  if (Date.parse(peer.valid_from) > now) return { ok: false, reason: 'not-yet-valid', detail: 'CERT_NOT_YET_VALID', peer: identity }
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
  CERT_SIGNATURE_FAILURE: 'unknown-ca',
  CRL_HAS_EXPIRED: 'crl-expired',
  CRL_NOT_YET_VALID: 'crl-not-yet-valid',
  UNABLE_TO_GET_CRL: 'crl-missing'
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
  'handshake-failed': 'the TLS handshake failed',
  // The client is not at fault in these three; the message tells them what to ask of the operator.
  'crl-expired': 'the gateway\'s certificate revocation list has expired, so no certificate can be checked; ' +
    'the gateway operator must run `dockgate certs crl` (dockgate picks the new list up without a restart)',
  'crl-not-yet-valid': 'the gateway\'s certificate revocation list is not valid yet; ' +
    'the gateway operator must check the clocks of the CA host and the gateway',
  'crl-missing': 'the gateway has no certificate revocation list for the CA that issued this certificate; ' +
    'the gateway operator must add that CA\'s CRL to tls.crl'
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
function answerRejectedClient (socket: TLSSocket, message: string, headers: Readonly<Record<string, string>>): void {
  socket.on('error', () => { socket.destroy() })
  socket.setTimeout(REJECTED_CLIENT_GRACE_MS, () => { socket.destroy() })
  socket.once('data', (chunk: Buffer) => {
    const body = JSON.stringify({ message })
    const isHead = chunk.subarray(0, 5).toString('latin1') === 'HEAD '
    socket.end(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n` +
      (isHead ? '' : body))
    socket.removeAllListeners('data')
    socket.resume()
  })
}

/** Each accepted TCP connection's peer, noted when it was accepted. */
const peers = new WeakMap<object, { readonly remoteAddress: string; readonly remotePort: number }>()
/** TLS sockets already rejected: one record each. */
const rejected = new WeakSet<object>()

// The peer noted at accept time. Node's TLS server wraps the accepted TCP
// socket and keeps it as `_parent` (internal, stable since Node 0.11); the
// TLS socket's own remoteAddress is undefined once the connection is gone.
function remoteOf (socket: TLSSocket): { remoteAddress: string; remotePort: number } {
  const parent = (socket as unknown as { _parent?: object })._parent
  return (parent === undefined ? undefined : peers.get(parent)) ?? { remoteAddress: socket.remoteAddress ?? '', remotePort: socket.remotePort ?? 0 }
}
