/**
 * The two ways a certificate operation is refused. The split exists so the
 * CLI can tell "you typed something wrong" (usage, exit 2) from "the
 * directory is not in a state that allows this" (exit 1) without parsing
 * messages.
 */

/**
 * A request refused because of its inputs: a host that is neither a DNS name
 * nor an IP address, an unsafe bundle name, an empty OU, a nonsensical day
 * count. Invariant: `message` names the offending value and says what is
 * accepted, so it can be shown to a person as is.
 */
export class CertInputError extends Error {
  override readonly name = 'CertInputError'
}

/**
 * A request refused because of what is (or is not) on disk: no CA yet, a CA
 * that would be overwritten, a CA whose key does not match its certificate.
 * Invariant: `message` names the path involved and the command that fixes it.
 */
export class CertStoreError extends Error {
  override readonly name = 'CertStoreError'
}
