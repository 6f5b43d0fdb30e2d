/**
 * Who is on a connection, fixed when it is accepted and kept for its
 * lifetime. Two transports reach the same pipeline: the TLS listener,
 * whose client is its verified certificate, and socket listeners
 * (`sockets:` in the config), whose client is the listener's identity
 * (the socket file's owner, group and mode decided who could connect).
 * Everything after acceptance reads the common fields and never asks
 * which transport it was, except what only certificates have (expiry,
 * revocation, trust).
 */
import type { AuditClient, AuditIdentity } from '../audit/record.js'
import { socketPrincipal, type IdentityMatch, type Principal } from '../policy/index.js'
import type { CertificateIdentity } from '../tls/identity.js'

/** What every connection has, whatever its transport. */
interface Caller {
  /** What limits count by: the certificate's fingerprint, or the socket listener's path. Never shared by the two transports. */
  readonly key: string
  /** How refusal messages name the caller: the certificate subject, or `socket NAME`. */
  readonly name: string
  /** What the policy matches: the certificate's fields, or only `socket`. */
  readonly principal: Principal
  /** Where the records say it came from. */
  readonly client: AuditClient
}

/** A verified mutual-TLS connection. */
export interface TlsConnection extends Caller {
  readonly transport: 'tls'
  readonly certificate: CertificateIdentity
}

/** A connection to a socket listener. */
export interface SocketConnection extends Caller {
  readonly transport: 'unix'
  /** The listener's identity (`sockets[].identity`). */
  readonly socket: string
  /** The listener's path. */
  readonly path: string
}

/** Who is on a connection; see the module comment. */
export type ConnectionInfo = TlsConnection | SocketConnection

/** The connection of a verified certificate from `address`:`port`. */
export function tlsConnection (certificate: CertificateIdentity, address: string, port: number): TlsConnection {
  return {
    transport: 'tls',
    certificate,
    key: certificate.fingerprint256,
    name: certificate.subject,
    principal: certificate,
    client: { address, port }
  }
}

/**
 * What every connection to the socket listener `identity` at `path` is.
 * One frozen object serves all of them: nothing about the peer is known
 * (Node cannot read SO_PEERCRED), so they are all the same caller.
 */
export function socketConnection (identity: string, path: string): SocketConnection {
  return Object.freeze({
    transport: 'unix',
    socket: identity,
    path,
    key: `unix:${path}`,
    name: `socket ${identity}`,
    principal: socketPrincipal(identity),
    client: Object.freeze({ transport: 'unix', socket: path })
  })
}

/**
 * The identity block of a record: certificate facts, or the socket
 * identity, plus what the policy made of it. `policyFile` names the
 * policy the entry is in (for `entry.ref`).
 */
export function auditIdentity (connection: ConnectionInfo, match: IdentityMatch | null, policyFile: string | null): AuditIdentity {
  const entry = match === null || policyFile === null ? null : { ref: `${policyFile}:${match.line}`, index: match.index }
  const teams = [...(match?.teams ?? [])]
  if (connection.transport === 'unix') return { socket: connection.socket, entry, teams }
  return { ...certificateFacts(connection.certificate), entry, teams }
}

/** The facts of a certificate as records carry them (also those of one turned away). */
export function certificateFacts (identity: CertificateIdentity): Pick<Extract<AuditIdentity, { subject: string }>, 'subject' | 'sans' | 'issuer' | 'serial' | 'fingerprint256'> {
  return {
    subject: identity.subject,
    sans: { dns: [...identity.sanDns], uri: [...identity.sanUri], email: [...identity.sanEmail] },
    issuer: identity.issuer,
    serial: identity.serial,
    fingerprint256: identity.fingerprint256
  }
}

/** The blocks made so far for each open connection: per policy entry, and the one for no entry. */
const blocksByConnection = new WeakMap<ConnectionInfo, { byMatch: WeakMap<IdentityMatch, AuditIdentity>; unmatched: AuditIdentity | null }>()

/**
 * {@link auditIdentity}, made once per connection and policy entry instead
 * of once per record: a connection's certificate never changes, and an
 * entry belongs to one loaded policy, whose file is `policyFile` (a reload
 * makes new entries, so a new policy gets new blocks). The block is
 * frozen, since records share it.
 */
export function sharedAuditIdentity (connection: ConnectionInfo, match: IdentityMatch | null, policyFile: string | null): AuditIdentity {
  let blocks = blocksByConnection.get(connection)
  if (blocks === undefined) {
    blocks = { byMatch: new WeakMap(), unmatched: null }
    blocksByConnection.set(connection, blocks)
  }
  if (match === null) {
    blocks.unmatched ??= deepFreeze(auditIdentity(connection, null, null))
    return blocks.unmatched
  }
  let block = blocks.byMatch.get(match)
  if (block === undefined) {
    block = deepFreeze(auditIdentity(connection, match, policyFile))
    blocks.byMatch.set(match, block)
  }
  return block
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
