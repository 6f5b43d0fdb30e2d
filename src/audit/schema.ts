/**
 * The audit record schema, version 1: the one definition of what an audit
 * line may hold. The TypeScript type (record.ts) is derived from it and
 * `schema/audit-record.v1.json` is generated from it (`dockgate audit
 * schema`; a test fails when the committed file differs), so the type, the
 * published JSON Schema and the record table in docs/audit.md cannot drift
 * apart.
 *
 * Invariants: version 1 only grows by optional fields; a removed or renamed
 * field, or a changed meaning, is version 2. The chain fields (`seq`,
 * `prev`, `hash`) are added by the writer (chain.ts), never by callers.
 */
import { Type, type Static, type TInteger, type TNull, type TSchema, type TString, type TUnion } from '@sinclair/typebox'

/** The schema version every record carries in `schema`. */
export const AUDIT_SCHEMA_VERSION = 1

const str = (description: string): TString => Type.String({ description })
const int = (description: string): TInteger => Type.Integer({ minimum: 0, description })
const time = (description: string): TString => Type.String({ format: 'date-time', description })
const nullable = <T extends TSchema>(schema: T): TUnion<[T, TNull]> => Type.Union([schema, Type.Null()])
const hex64 = (description: string): TString => Type.String({ pattern: '^[0-9a-f]{64}$', description })

/** Every stage; see the stages table in docs/audit.md for when each is written. */
export const AUDIT_STAGES = ['RequestReceived', 'ResponseComplete', 'Refused', 'TLSRejected', 'ConnectionClosed', 'FileOpened', 'Suppressed', 'Reloaded'] as const

/** Audit levels, as in Kubernetes: `request` adds the judged request body, redacted; `session` adds a recording of each hijacked session. */
export const AUDIT_LEVELS = ['metadata', 'request', 'session'] as const

/** Why the writer opened a file: see "Rotation" in docs/audit.md. */
export const OPEN_REASONS = ['start', 'rotate-size', 'rotate-daily', 'reopen', 'recover', 'recreate'] as const

const Identity = Type.Object({
  subject: str('certificate subject, RFC 4514, control and non-ASCII characters hex-escaped'),
  sans: Type.Object({
    dns: Type.Array(Type.String()), uri: Type.Array(Type.String()), email: Type.Array(Type.String())
  }, { additionalProperties: false, description: 'subjectAltNames by kind' }),
  issuer: str('issuer distinguished name'),
  serial: str('certificate serial, upper-case hex'),
  fingerprint256: str('SHA-256 fingerprint of the certificate, colon-separated hex'),
  entry: nullable(Type.Object({
    ref: str('the matched identities entry as FILE:LINE of the policy'),
    index: int('0-based position of the entry in identities')
  }, { additionalProperties: false })),
  teams: Type.Array(Type.String(), { description: 'teams of the matched entry; empty when none matched' }),
  verified: Type.Optional(Type.Boolean({
    description: 'false on TLSRejected records: the certificate was turned away, so these facts are only what the client presented and were NOT verified (anyone can forge them); absent means verified'
  }))
}, { additionalProperties: false, description: 'the client certificate and what the policy made of it; verified unless `verified` is false' })

const SocketIdentity = Type.Object({
  socket: str('the identity of the socket listener the client connected to (sockets: in the config)'),
  entry: nullable(Type.Object({
    ref: str('the matched identities entry as FILE:LINE of the policy'),
    index: int('0-based position of the entry in identities')
  }, { additionalProperties: false })),
  teams: Type.Array(Type.String(), { description: 'teams of the matched entry; empty when none matched' })
}, { additionalProperties: false, description: 'a client of a socket listener: the listener\'s identity and what the policy made of it' })

const TcpClient = Type.Object({ address: Type.String(), port: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535 })) },
  { additionalProperties: false, description: 'a TLS client: peer address and port from the socket' })

const UnixClient = Type.Object({
  transport: Type.Literal('unix'),
  socket: str('the path of the socket listener the client connected to')
}, { additionalProperties: false, description: 'a client of a socket listener (sockets: in the config); its peer has no address' })

const Request = Type.Object({
  method: str('HTTP method as received'),
  target: str('request target (path and query) as received, secrets in the query replaced by <redacted>'),
  path: nullable(str('canonical path without the API version; null when the target was not canonical')),
  apiVersion: nullable(str('API version from the /vX.Y prefix')),
  upgrade: nullable(str('Upgrade header of a hijacked request (tcp, h2c, websocket)'))
}, { additionalProperties: false })

const ObjectRef = Type.Object({
  resource: str('containers, exec, images, volumes, networks, services, tasks, nodes, secrets, configs, plugins or distribution'),
  name: str('the id or name from the path (or, for create and pull, from the query)'),
  subresource: Type.Optional(str('the action after the name, e.g. start, logs, json')),
  createdId: Type.Optional(str('the Id dockerd answered a create with: the new container\'s (containers/create), exec instance\'s (containers/{id}/exec) or network\'s (networks/create); for volumes/create the new volume\'s name'))
}, { additionalProperties: false, description: 'the Docker object the request is about, parsed from the path' })

const Rule = Type.Object({
  ref: str('FILE:LINE of the deciding rule'),
  text: str('the rule as written, or the containers setting for body rules'),
  team: str('the team whose rule it is'),
  group: Type.Optional(str('the @group the rule was expanded from'))
}, { additionalProperties: false })

const Opened = Type.Object({
  reason: Type.Union(OPEN_REASONS.map((r) => Type.Literal(r)), { description: 'why the writer opened this file' }),
  file: str('the file name the writer opened (no folder)'),
  host: str('host name of the machine the gateway runs on'),
  pid: int('process id of the writer'),
  version: str('dockgate version'),
  previous: nullable(Type.Object({
    file: nullable(str('where the previous records are (file name), when known')),
    seq: int('seq of the last record written before this one'),
    hash: hex64('hash of that record')
  }, { additionalProperties: false })),
  torn: Type.Optional(Type.Object({
    bytes: int('length of an incomplete last line found when the file was opened'),
    sha256: hex64('SHA-256 of that line, so the verifier can tell it from an edit')
  }, { additionalProperties: false })),
  outage: Type.Optional(Type.Object({
    since: time('first failed write'),
    failedWrites: int('records that could not be written'),
    error: str('the last write error')
  }, { additionalProperties: false }))
}, { additionalProperties: false, description: 'FileOpened only: how this part of the chain starts' })

const Suppressed = Type.Object({
  kind: Type.Union([Type.Literal('TLSRejected'), Type.Literal('Refused')], { description: 'TLSRejected: from one address; Refused: refusals by a limit (or shutdown, or an unanswering daemon) of one identity with one code' }),
  count: int('records not written for this address (TLSRejected) or identity and code (Refused)'),
  since: time('first suppressed attempt'),
  until: time('last suppressed attempt'),
  reasons: Type.Record(Type.String(), Type.Integer({ minimum: 1 }), { description: 'attempts by tls.reason (TLSRejected) or code (Refused)' })
}, { additionalProperties: false, description: 'Suppressed only: TLS rejections or guard refusals counted instead of written' })

const Digest = Type.Object({
  file: str('absolute path of the file'),
  sha256: nullable(hex64('SHA-256 of its bytes when the reload finished; null when it could not be read'))
}, { additionalProperties: false })

const Reload = Type.Object({
  trigger: Type.Union([Type.Literal('SIGHUP'), Type.Literal('file-change')], { description: 'what started the reload' }),
  outcome: Type.Union([Type.Literal('applied'), Type.Literal('refused'), Type.Literal('crls-only')], {
    description: 'applied: the new config, policy and TLS material serve new connections and requests; refused: nothing changed; crls-only: refused, but its CRLs (which only add revocations) were applied'
  }),
  problems: Type.Array(Type.String(), { description: 'what refused it, as FILE:LINE:COL CODE message (at most 20)' }),
  moreProblems: int('problems beyond those listed'),
  config: nullable(Digest),
  policy: nullable(Digest),
  closedConnections: int('open connections closed because their certificate is now revoked or untrusted')
}, { additionalProperties: false, description: 'Reloaded only: a reload that applied or refused a change of config, policy or TLS material' })

/** Why a recording ended before its session did: see "Session recording" in docs/audit.md. */
export const RECORDING_TRUNCATIONS = ['size', 'duration', 'error'] as const

const Recording = Type.Object({
  file: str('the recording (asciicast v2), relative to the folder of the audit file this record is in, or absolute when it is outside that folder'),
  bytes: int('size of the recording file, in bytes'),
  sha256: hex64('SHA-256 of the whole recording file'),
  truncated: nullable(Type.Union(RECORDING_TRUNCATIONS.map((t) => Type.Literal(t)), {
    description: 'null: the recording holds the whole session; size (audit.sessionMaxBytes) or duration (audit.sessionMaxSeconds): it stopped there and the session went on; error: writing it failed (see error) and the session went on'
  })),
  input: Type.Boolean({ description: 'whether the recording holds what the client sent ("i" events; audit.sessionInput), not only what it was shown' }),
  error: Type.Optional(str('truncated "error": why the recording could not be written on'))
}, { additionalProperties: false, description: 'level session, ResponseComplete of a hijacked exec or attach session: its recording, protected by this record\'s hash' })

const required = (stage: string, fields: string[]): Record<string, unknown> =>
  ({ if: { properties: { stage: { const: stage } } }, then: { required: fields } })

const REQUEST_FIELDS = ['receivedAt', 'client', 'identity', 'request', 'objectRef', 'level', 'decision', 'rule']

/** One audit line. Fields that do not apply to a stage are absent. */
export const AuditRecordSchema = Type.Object({
  time: time('when the record was written (the stage timestamp)'),
  schema: Type.Literal(AUDIT_SCHEMA_VERSION),
  auditID: Type.String({ format: 'uuid', description: 'generated by dockgate; returned as x-dockgate-request-id' }),
  stage: Type.Union(AUDIT_STAGES.map((s) => Type.Literal(s))),
  seq: int('position in the chain: 0 for the first record, then +1 per record'),
  prev: hex64('hash of the previous record in the chain; 64 zeros for the first'),
  hash: hex64('SHA-256 of this line without its hash field (see README: chain)'),
  receivedAt: Type.Optional(time('when the request (or the TLS handshake) arrived')),
  client: Type.Optional(Type.Union([TcpClient, UnixClient], { description: 'where the connection came from: a TLS peer address, or a socket listener\'s path' })),
  identity: Type.Optional(nullable(Type.Union([Identity, SocketIdentity]))),
  request: Type.Optional(Request),
  objectRef: Type.Optional(nullable(ObjectRef)),
  level: Type.Optional(Type.Union(AUDIT_LEVELS.map((l) => Type.Literal(l)))),
  decision: Type.Optional(Type.Union([Type.Literal('allow'), Type.Literal('deny'), Type.Literal('would-deny')])),
  code: Type.Optional(str('error catalog code of the refusal or failure')),
  reason: Type.Optional(str('the refusal message answered (or, for would-deny, the one enforce mode would answer)')),
  rule: Type.Optional(nullable(Rule)),
  status: Type.Optional(int('status sent to the client; 0 when the client left first')),
  upstreamStatus: Type.Optional(nullable(int('status the daemon answered; null when it did not answer'))),
  bytesIn: Type.Optional(int('request body bytes (client to daemon bytes for a hijacked session)')),
  bytesOut: Type.Optional(int('response body bytes (daemon to client bytes for a hijacked session)')),
  durationMs: Type.Optional(Type.Number({ minimum: 0, description: 'from request to this record' })),
  sessionMs: Type.Optional(Type.Number({ minimum: 0, description: 'how long a hijacked session was open' })),
  aborted: Type.Optional(Type.Boolean({ description: 'either side went away before the exchange finished' })),
  error: Type.Optional(nullable(str('what went wrong, when something did'))),
  requestObject: Type.Optional(Type.Unknown({ description: 'level request: the judged request body, secrets redacted' })),
  recording: Type.Optional(Recording),
  tls: Type.Optional(Type.Object({ reason: Type.String(), detail: Type.String() }, { additionalProperties: false })),
  opened: Type.Optional(Opened),
  suppressed: Type.Optional(Suppressed),
  reload: Type.Optional(Reload)
}, {
  $id: 'urn:dockgate:audit-record:1',
  title: 'dockgate audit record, version 1',
  additionalProperties: false,
  allOf: [
    required('RequestReceived', [...REQUEST_FIELDS, 'status']),
    required('ResponseComplete', [...REQUEST_FIELDS, 'status', 'upstreamStatus', 'bytesIn', 'bytesOut', 'durationMs', 'aborted']),
    required('Refused', ['receivedAt', 'client', 'identity', 'decision', 'code', 'status']),
    required('TLSRejected', ['receivedAt', 'client', 'identity', 'decision', 'code', 'tls']),
    required('ConnectionClosed', ['client', 'identity', 'decision', 'code', 'tls']),
    required('FileOpened', ['opened']),
    required('Suppressed', ['client', 'suppressed']),
    required('Reloaded', ['reload'])
  ]
})

/** One audit record as written (chain fields included). */
export type SealedAuditRecord = Static<typeof AuditRecordSchema>

/** The schema as a JSON document, formatted as committed in `schema/`. */
export function auditRecordJsonSchema (): string {
  return JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...AuditRecordSchema }, null, 2) + '\n'
}
