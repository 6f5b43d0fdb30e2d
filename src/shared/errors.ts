/**
 * The one catalog of coded errors dockgate can report, in config and policy
 * diagnostics, in refusals sent to clients, and in audit records.
 *
 * Invariants: codes are stable once released (operators grep for them and
 * alert on them); every code is documented in the error code table of
 * docs/errors.md, which a test enforces; `status` is the HTTP status a
 * refusal with this code is answered with, or 0 for codes that only appear
 * in diagnostics.
 */
export const ERRORS = {
  // Config and policy files (diagnostics, reported all at once at load time).
  DG_YAML_SYNTAX: { status: 0, summary: 'the file is not valid YAML' },
  DG_YAML_DUPLICATE_KEY: { status: 0, summary: 'a mapping repeats a key' },
  DG_UNKNOWN_KEY: { status: 0, summary: 'a key that the format does not define' },
  DG_MISSING_KEY: { status: 0, summary: 'a required key is absent' },
  DG_WRONG_TYPE: { status: 0, summary: 'a value has the wrong type' },
  DG_BAD_VALUE: { status: 0, summary: 'a value has the right type but is not acceptable' },
  DG_FILE_UNREADABLE: { status: 0, summary: 'a file named by the config is missing or unreadable, or the audit file cannot be opened for writing' },
  DG_TLS_MATERIAL: { status: 0, summary: 'a certificate, key or CRL cannot be parsed or used: the key does not match the certificate, the server certificate is expired or not yet valid, a CRL is not signed by a CA in tls.ca, a CA has no CRL' },
  DG_POLICY_BAD_RULE: { status: 0, summary: 'a rule is not `METHODS PATH` with valid methods and path pattern' },
  DG_POLICY_UNKNOWN_TEAM: { status: 0, summary: 'an identity names a team the policy does not define' },
  DG_POLICY_BAD_MATCH: { status: 0, summary: 'an identity match is empty, uses an invalid glob, or combines socket with certificate keys' },
  DG_POLICY_UNREACHABLE: { status: 0, summary: 'a rule or identity entry can never decide anything (covered by a deny, a duplicate, or shadowed)' },
  DG_POLICY_DENY_UNUSED: { status: 0, summary: 'warning: a deny rule removes nothing its own team allows' },
  DG_POLICY_HIJACK_DENY: { status: 0, summary: 'warning: a deny rule only covers hijacked endpoints, whose refusal reason the docker CLI cannot print' },
  DG_POLICY_TEAM_UNUSED: { status: 0, summary: 'warning: a team no identity entry uses' },
  DG_POLICY_OWNERSHIP_MIXED: { status: 0, summary: 'warning: an identity entry gives ownership teams together with a team without ownership, so its certificates are not isolated' },

  // Refusals answered to clients (Docker's error shape, `{"message": "dockgate: ..."}`).
  DG_TLS_REJECTED: { status: 403, summary: 'the client certificate is missing, untrusted, expired, not yet valid, revoked, or lacks clientAuth usage, or revocation cannot be checked' },
  DG_NO_IDENTITY: { status: 403, summary: 'a verified certificate matches no identity in the policy' },
  DG_DENIED: { status: 403, summary: 'the policy does not allow this method and path for the caller\'s teams' },
  DG_NON_CANONICAL: { status: 400, summary: 'the request target is not in canonical form and is never forwarded' },
  DG_BAD_REQUEST: { status: 400, summary: 'the request is malformed (bad HTTP framing or URL encoding), or pipelined behind a stream on its connection' },
  DG_HEADERS_TOO_LARGE: { status: 431, summary: 'the request headers are larger than limits.headerBytes' },
  DG_HEADERS_TIMEOUT: { status: 408, summary: 'the request headers did not arrive within limits.headersTimeoutSeconds (a slow-header client)' },
  DG_METHOD_NOT_SUPPORTED: { status: 405, summary: 'the HTTP method is one the Docker API does not use' },
  DG_EXPECTATION_FAILED: { status: 417, summary: 'the request has an Expect header other than 100-continue' },
  DG_BODY_DENIED: { status: 403, summary: 'a team\'s containers rules refuse what the request body (or build query) asks of the host' },
  DG_IMAGE_DENIED: { status: 403, summary: 'a team\'s containers.images or requireDigest refuses the image a request runs, pulls, tags, commits to, or brings in by a path that cannot be judged by name (load, import, build)' },
  DG_QUOTA_EXCEEDED: { status: 403, summary: 'a team\'s quota (containers, or the sum of its containers\' memory limits) would be exceeded by the create or update' },
  DG_BODY_INVALID: { status: 400, summary: 'a judged request body is not JSON, is truncated, nests too deep, or has a field of the wrong type' },
  DG_BODY_AMBIGUOUS: { status: 400, summary: 'a judged request body repeats a key, or has keys the daemon would read as the same field' },
  DG_BODY_TOO_LARGE: { status: 413, summary: 'a judged request body is larger than limits.bodyBytes' },
  DG_BODY_MEDIA_TYPE: { status: 415, summary: 'a judged request body has a content type other than application/json' },
  DG_OWNER_LABEL: { status: 403, summary: 'an ownership team\'s request sets or changes the dockgate.owner label itself (in a create body, build labels, or a commit or import LABEL change)' },
  DG_OWNER_HIDDEN: { status: 404, summary: 'an ownership team named an object it does not own (by name, id, id prefix, or inside a body); answered exactly as the daemon answers for a missing object (its status and words, no dockgate: prefix), and recorded with the real reason' },
  DG_OWNER_FILTERS: { status: 400, summary: 'an ownership team\'s list, events or prune request has a filters parameter the daemon would not read either; answered with the daemon\'s own status and words' },
  DG_OWNER_CONFLICT: { status: 403, summary: 'an ownership team\'s request would take a name another team\'s object holds (a volume name, an image tag, a container name), or acts on something every team shares (the build cache), or removes a legacy link (`docker rm --link`)' },
  DG_UPSTREAM_UNAVAILABLE: { status: 502, summary: 'the Docker daemon socket is missing, refused, or failed mid-request' },
  DG_AUDIT_UNAVAILABLE: { status: 503, summary: 'the audit trail cannot be written (disk full, permissions, file deleted); requests are refused until it can (audit.onFailure: refuse)' },
  DG_LIMIT_CONNECTIONS: { status: 503, summary: 'the gateway already holds limits.maxConnections open connections' },
  DG_LIMIT_IDENTITY_CONNECTIONS: { status: 429, summary: 'the caller\'s certificate already holds limits.connectionsPerIdentity open connections' },
  DG_LIMIT_STREAMS: { status: 429, summary: 'the caller\'s certificate already holds limits.streamsPerIdentity open streams and hijacked sessions' },
  DG_LIMIT_RATE: { status: 429, summary: 'the caller\'s certificate sent more than limits.requestsPerSecond (with limits.requestBurst)' },
  DG_SHUTTING_DOWN: { status: 503, summary: 'the gateway is shutting down and takes no new requests' },
  DG_SESSION_UNRECORDED: { status: 503, summary: 'a session the policy records (audit level session) was refused because its recording file cannot be created in audit.sessions (permissions, disk full, not a folder)' },

  // Actions dockgate takes on its own (audit records).
  DG_CONNECTION_REVOKED: { status: 0, summary: 'an open connection was closed because a reloaded CRL revokes its client certificate' },
  DG_CONNECTION_EXPIRED: { status: 0, summary: 'an open connection was closed because its client certificate expired while it was open' },
  DG_CONNECTION_UNTRUSTED: { status: 0, summary: 'an open connection was closed because a reloaded tls.ca no longer holds a CA that issued its client certificate' },

  // `dockgate audit verify` findings, each at FILE:LINE of an audit file.
  DG_AUDIT_EDITED: { status: 0, summary: 'an audit line was changed after it was written (its bytes no longer match its hash)' },
  DG_AUDIT_GAP: { status: 0, summary: 'an audit record is missing, inserted, repeated or out of order' },
  DG_AUDIT_MALFORMED: { status: 0, summary: 'an audit line is not a sealed audit record' },
  DG_AUDIT_IN_USE: { status: 0, summary: 'at startup: another live dockgate process holds the audit file\'s lock (FILE.lock); two writers would break the chain' },
  DG_AUDIT_FILE_MISSING: { status: 0, summary: 'an audit file continues from a record in no file given (a rotated file is missing)' },
  DG_AUDIT_CHAIN_RESTARTED: { status: 0, summary: 'a writer\'s file starts a new chain while files of an earlier chain of the same name are given (its active file was deleted)' },
  DG_AUDIT_HEAD_MISSING: { status: 0, summary: 'a --head anchor from the off-host copy is in no file given (records were removed from the end)' },
  DG_AUDIT_RECORDING_MISSING: { status: 0, summary: 'a session recording that an audit record names is not where the record says (deleted, moved, or not copied with the trail)' },
  DG_AUDIT_RECORDING_EDITED: { status: 0, summary: 'a session recording\'s size or SHA-256 differs from what its audit record says (edited, cut short or replaced)' },

  // `dockgate audit report` and `dockgate scan` findings.
  DG_REPORT_RECORDING: { status: 0, summary: 'audit report: a session\'s recording is missing or its size or SHA-256 differs from what its audit record says; the report does not play it' },
  DG_SCAN_DRIFT: { status: 0, summary: 'scan: a container, volume or network that today\'s policy would refuse for its owner team (privileged, forbidden bind, image outside the allowlist, over quota, ...)' },
  DG_SCAN_UNAUDITED: { status: 0, summary: 'scan: a container, volume or network with no ResponseComplete create record in the trail: created around the gateway' },
  DG_SCAN_FAILED: { status: 0, summary: 'scan: the daemon, the policy or the audit trail could not be read, or the trail does not verify; nothing is reported as clean' },

  // Startup failures (printed as `dockgate: not started: CODE ...`).
  DG_LISTEN_FAILED: { status: 0, summary: 'the TLS port or the admin address cannot be listened on (in use, no permission, no such address)' }
} as const satisfies Record<string, { status: number; summary: string }>

/** A code from {@link ERRORS}. */
export type ErrorCode = keyof typeof ERRORS

/**
 * A refusal ready to be answered: `message` already starts with `dockgate: `
 * so the docker CLI prints a reason a person can act on.
 */
export interface Refusal {
  readonly code: ErrorCode
  readonly status: number
  readonly message: string
  /** Whole seconds after which a retry can succeed, sent as `Retry-After`; absent when no retry helps or when is unknown. */
  readonly retryAfterSeconds?: number
  /**
   * The answer to send instead of `{"message"}`: the daemon's own, word for
   * word, where dockgate must answer as the daemon would (a hidden object
   * is a missing one). `message` then says the real reason, for the audit
   * trail only.
   */
  readonly answer?: { readonly contentType: string; readonly body: string }
}

/** Builds a {@link Refusal}; the status comes from the catalog so it cannot drift. */
export function refusal (code: ErrorCode, detail: string, retryAfterSeconds?: number): Refusal {
  const base = { code, status: ERRORS[code].status, message: `dockgate: ${detail}` }
  return retryAfterSeconds === undefined ? base : { ...base, retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) }
}
