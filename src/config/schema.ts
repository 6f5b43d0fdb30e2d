/**
 * The shape of the gateway config file. Structure only; addresses, files and
 * TLS material are checked in load.ts. Closed objects: a typo is an error.
 * `listen` and `upstream` are optional here because CLI flags may supply
 * them; load.ts reports them missing when neither does. `tls` (with
 * `listen`) and `sockets` are each optional, but one of them is needed.
 */
import { Type } from '@sinclair/typebox'

const path = (what: string): ReturnType<typeof Type.String> =>
  Type.String({ minLength: 1, description: `a non-empty path to ${what} (relative to the config file's folder)` })

const SyslogSchema = Type.Object({
  address: Type.String({ description: 'a string like logs.example.com:6514 (HOST:PORT of the collector)' }),
  tls: Type.Optional(Type.Boolean({ description: 'true (RFC 5425, verified against the system CAs) or false (plain TCP)' })),
  facility: Type.Optional(Type.Integer({ minimum: 0, maximum: 23, description: 'a syslog facility number from 0 to 23, like 13 (log audit)' })),
  appName: Type.Optional(Type.String({ minLength: 1, maxLength: 48, pattern: '^[!-~]+$', description: 'a printable ASCII name without spaces, at most 48 characters, like dockgate' })),
  queueRecords: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'a whole number of records from 0 to 1000000, like 10000' }))
}, { additionalProperties: false, description: 'a mapping with address, tls, facility, appName and queueRecords' })

const AuditSchema = Type.Object({
  file: path('the audit log file (JSON lines)'),
  level: Type.Optional(Type.String({ description: 'metadata, request or session' })),
  sessions: Type.Optional(path('the folder session recordings go to (default: sessions/ beside the audit file)')),
  sessionInput: Type.Optional(Type.Boolean({ description: 'true (recordings also hold what the client typed or piped in) or false' })),
  sessionMaxBytes: Type.Optional(Type.Integer({ minimum: 4096, maximum: Number.MAX_SAFE_INTEGER, description: 'a whole number of bytes of at least 4096, like 67108864' })),
  sessionMaxSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'a whole number of seconds from 1 to 31536000, like 86400' })),
  fsync: Type.Optional(Type.Boolean({ description: 'true (every record is on disk before the answer) or false' })),
  onFailure: Type.Optional(Type.String({ description: 'refuse (answer 503 while records cannot be written) or continue' })),
  rotate: Type.Optional(Type.Object({
    maxBytes: Type.Optional(Type.Integer({ minimum: 4096, maximum: Number.MAX_SAFE_INTEGER, description: 'a whole number of bytes of at least 4096, like 104857600' })),
    daily: Type.Optional(Type.Boolean({ description: 'true (a new file at the first record of each UTC day) or false' }))
  }, { additionalProperties: false, description: 'a mapping with maxBytes and daily' })),
  sinks: Type.Optional(Type.Object({
    stdout: Type.Optional(Type.Boolean({ description: 'true (a copy of every record on standard output) or false' })),
    syslog: Type.Optional(SyslogSchema)
  }, { additionalProperties: false, description: 'a mapping with stdout and syslog' }))
}, { additionalProperties: false, description: 'a mapping with file, level, sessions, sessionInput, sessionMaxBytes, sessionMaxSeconds, fsync, onFailure, rotate and sinks' })

const whole = (from: number, to: number, unit: string, like: number): ReturnType<typeof Type.Integer> =>
  Type.Integer({ minimum: from, maximum: to, description: `a whole number of ${unit} from ${from} to ${to}, like ${like}` })

/**
 * `limits:`. Every key is optional; defaults are in operations.ts and the
 * limits table of docs/operations.md. Ranges keep a typo (an extra zero, a
 * missing one) from turning a limit off or making it unusable.
 */
const LimitsSchema = Type.Object({
  bodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, description: 'a whole number of bytes from 1024 to 268435456, like 1048576' })),
  maxConnections: Type.Optional(whole(1, 1_000_000, 'connections', 1024)),
  connectionsPerIdentity: Type.Optional(whole(1, 1_000_000, 'connections', 128)),
  streamsPerIdentity: Type.Optional(whole(1, 100_000, 'streams and sessions', 64)),
  requestsPerSecond: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000, description: 'a number of requests per second above 0, like 50' })),
  requestBurst: Type.Optional(whole(1, 1_000_000, 'requests', 100)),
  headerBytes: Type.Optional(whole(1024, 1024 * 1024, 'bytes', 32768)),
  headersTimeoutSeconds: Type.Optional(whole(1, 600, 'seconds', 20)),
  unverifiedConnections: Type.Optional(whole(1, 1_000_000, 'connections', 1024)),
  unverifiedPerAddress: Type.Optional(whole(1, 1_000_000, 'connections', 64))
}, {
  additionalProperties: false,
  description: 'a mapping with bodyBytes, maxConnections, connectionsPerIdentity, streamsPerIdentity, requestsPerSecond, requestBurst, headerBytes, headersTimeoutSeconds, unverifiedConnections and unverifiedPerAddress'
})

const nameOrId = (what: string): ReturnType<typeof Type.Union> =>
  Type.Union([Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })], { description: `a ${what} name or number, like docker or 999` })

/** One `sockets:` entry; values are checked in sockets.ts. */
const SocketSchema = Type.Object({
  path: path('the socket file to create, like /run/dockgate/traefik.sock'),
  identity: Type.String({ minLength: 1, description: 'a name the policy matches with match: { socket: NAME }, like traefik' }),
  mode: Type.Optional(Type.Unknown()),
  owner: Type.Optional(nameOrId('user')),
  group: Type.Optional(nameOrId('group'))
}, { additionalProperties: false, description: 'a mapping with path, identity, and optionally mode, owner and group' })

/** The whole config file. */
export const ConfigSchema = Type.Object({
  listen: Type.Optional(Type.String({ description: 'a string like 0.0.0.0:2376' })),
  upstream: Type.Optional(Type.String({ description: 'a string like unix:///var/run/docker.sock' })),
  sockets: Type.Optional(Type.Array(SocketSchema, { description: 'a list of socket listeners like [{ path: /run/dockgate/traefik.sock, identity: traefik }]' })),
  tls: Type.Optional(Type.Object({
    ca: path('the PEM file of the CA that signs client certificates'),
    cert: path("the gateway's PEM certificate file"),
    key: path("the gateway's PEM private key file"),
    crl: Type.Optional(Type.Union([
      path('a PEM CRL file'),
      Type.Array(path('a PEM CRL file'), { minItems: 1, description: 'a non-empty list of PEM CRL files' })
    ], { description: 'a path to a PEM CRL file or a non-empty list of them (relative to the config file\'s folder)' }))
  }, { additionalProperties: false, description: 'a mapping with ca, cert, key and optionally crl' })),
  policy: path('the policy YAML file'),
  audit: AuditSchema,
  limits: Type.Optional(LimitsSchema),
  // A string or a mapping: checked by operations.ts, which reports each form's problems at their place.
  admin: Type.Optional(Type.Unknown()),
  shutdown: Type.Optional(Type.Object({
    graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 3600, description: 'a whole number of seconds from 0 to 3600, like 8' }))
  }, { additionalProperties: false, description: 'a mapping with graceSeconds' })),
  // A number or "auto": checked by operations.ts.
  workers: Type.Optional(Type.Unknown())
}, { additionalProperties: false, description: 'a mapping with listen, upstream, sockets, tls, policy, audit, limits, admin, shutdown and workers' })

/** `admin:` in its mapping form; the string form is `admin: 127.0.0.1:9376` or `admin: unix:///PATH`. */
export const AdminObjectSchema = Type.Object({
  listen: Type.String({ description: 'a string like 127.0.0.1:9376 or unix:///run/dockgate/admin.sock' }),
  allowRemote: Type.Optional(Type.Boolean({ description: 'true or false' }))
}, { additionalProperties: false, description: 'a mapping with listen and allowRemote' })
