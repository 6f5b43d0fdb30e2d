/**
 * Types shared by the pure policy core. Nothing in src/policy/ imports
 * fastify, node:net, node:tls or pino: the core sees plain data only, so it
 * can be unit-tested exhaustively and reused by `dockgate policy explain`.
 */
import type { Refusal } from '../shared/errors.js'

/**
 * Who is asking. For a TLS client, what its verified certificate says:
 * built by the TLS layer from a chain Node has verified; multi-valued
 * fields are arrays (a certificate may carry several OUs or SANs), and
 * `socket` is absent. For a client of a socket listener (`sockets:` in the
 * config), `socket` holds the listener's identity and every certificate
 * field is empty, so no certificate can take a socket identity and no
 * socket matches a certificate rule. `subject` is for display and audit
 * only, never for matching.
 */
export interface Principal {
  readonly subject: string
  /** The socket listener's identity; absent for certificates. */
  readonly socket?: readonly string[]
  readonly cn: readonly string[]
  readonly ou: readonly string[]
  readonly o: readonly string[]
  readonly sanDns: readonly string[]
  readonly sanUri: readonly string[]
  readonly sanEmail: readonly string[]
}

/**
 * A request target in the one canonical form rules are matched against.
 * `path` never carries the API version; `segments` are `path` split on `/`
 * without the leading empty segment (`/_ping` -> `['_ping']`), each escape
 * decoded (`/networks/test%2001` -> `['networks', 'test 01']`): the names
 * rules and isolation see. `path` is what is forwarded.
 * `query` is the raw query string without `?`, forwarded untouched.
 */
export interface CanonicalTarget {
  readonly path: string
  readonly segments: readonly string[]
  readonly apiVersion: string | null
  readonly query: string
}

/** Where a rule was written, for audit records and `policy explain`. */
export interface RuleRef {
  readonly file: string
  readonly line: number
  readonly col: number
  /**
   * The rule as written, e.g. `POST /containers/{id}/start`; for a rule from
   * a group, the expanded rule; for a body rule, the setting, e.g.
   * `containers.privileged: false (default)`.
   */
  readonly text: string
  readonly team: string
  readonly effect: 'allow' | 'deny'
  /** The `@group` entry this rule was expanded from, if any. */
  readonly group?: string
  /** The audit level this rule sets for the requests it decides (`{ rule, audit }` entries). */
  readonly audit?: 'metadata' | 'request' | 'session'
}

/** Dry-run or not: `audit` decides and records, but forwards what it would deny. */
export type PolicyMode = 'enforce' | 'audit'

/** The identity entry a principal matched: its index and where it is written. */
export interface IdentityMatch {
  readonly index: number
  readonly line: number
  readonly teams: readonly string[]
}

/**
 * The outcome of judging one request. When `allowed` is false, `refusal`
 * holds the status and the Docker-shaped message to answer with; `rule` is
 * the deciding rule, or null when nothing matched (default deny) or no
 * identity matched.
 */
export type Decision =
  | {
    readonly allowed: true
    readonly identity: IdentityMatch
    readonly team: string
    readonly rule: RuleRef
  }
  | {
    readonly allowed: false
    readonly identity: IdentityMatch | null
    readonly rule: RuleRef | null
    readonly refusal: Refusal
  }
