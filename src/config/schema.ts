/**
 * The shape of the gateway config file. Structure only; addresses, files and
 * TLS material are checked in load.ts. Closed objects: a typo is an error.
 * `listen` and `upstream` are optional here because CLI flags may supply
 * them; load.ts reports them missing when neither does.
 */
import { Type } from '@sinclair/typebox'

const path = (what: string): ReturnType<typeof Type.String> =>
  Type.String({ minLength: 1, description: `a non-empty path to ${what} (relative to the config file's folder)` })

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
  audit: Type.Object({
    file: path('the audit log file (JSON lines)')
  }, { additionalProperties: false, description: 'a mapping with file' }),
  limits: Type.Optional(Type.Object({
    bodyBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, description: 'a whole number of bytes from 1024 to 268435456, like 1048576' }))
  }, { additionalProperties: false, description: 'a mapping with bodyBytes' }))
}, { additionalProperties: false, description: 'a mapping with listen, upstream, tls, policy, audit and limits' })
