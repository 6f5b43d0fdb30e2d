/**
 * The shape of the gateway config file. Structure only; addresses, files and
 * TLS material are checked in load.ts. Closed objects: a typo is an error.
 * `listen` and `upstream` are optional here because CLI flags may supply
 * them; load.ts reports them missing when neither does.
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
  level: Type.Optional(Type.String({ description: 'metadata or request' })),
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
}, { additionalProperties: false, description: 'a mapping with file, level, fsync, onFailure, rotate and sinks' })

/** The whole config file. */
export const ConfigSchema = Type.Object({
  listen: Type.Optional(Type.String({ description: 'a string like 0.0.0.0:2376' })),
  upstream: Type.Optional(Type.String({ description: 'a string like unix:///var/run/docker.sock' })),
  tls: Type.Object({
    ca: path('the PEM file of the CA that signs client certificates'),
    cert: path("the gateway's PEM certificate file"),
    key: path("the gateway's PEM private key file"),
    crl: Type.Optional(Type.Union([
      path('a PEM CRL file'),
      Type.Array(path('a PEM CRL file'), { minItems: 1, description: 'a non-empty list of PEM CRL files' })
    ], { description: 'a path to a PEM CRL file or a non-empty list of them (relative to the config file\'s folder)' }))
  }, { additionalProperties: false, description: 'a mapping with ca, cert, key and optionally crl' }),
  policy: path('the policy YAML file'),
  audit: AuditSchema,
  limits: Type.Optional(Type.Object({
    bodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, description: 'a whole number of bytes from 1024 to 268435456, like 1048576' }))
  }, { additionalProperties: false, description: 'a mapping with bodyBytes' }))
}, { additionalProperties: false, description: 'a mapping with listen, upstream, tls, policy, audit and limits' })
