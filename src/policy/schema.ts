/**
 * The shape of a policy file (version 1). Structure only: semantic checks
 * (rule syntax, team references, empty matches) live in load.ts. Every
 * object is closed (`additionalProperties: false`) so a typo is an error, not
 * a silently ignored key that leaves a door open or shut.
 */
import { Type, type TSchema } from '@sinclair/typebox'

const glob = (field: string): TSchema =>
  Type.Optional(Type.String({ description: `a string (the ${field}, exact or with * globs)` }))

// Entries are checked in load.ts: a rule text, or `{ rule, audit }` (a
// schema union would report a misspelt key as "not a string or a mapping").
const RuleList = Type.Array(Type.Unknown(), {
  description: 'a list of rules like ["GET /containers/json", "@read-only", { rule: "POST /containers/create", audit: request }]'
})

/** One `identities:` entry: which certificates it covers and the teams they get. */
export const IdentitySchema = Type.Object({
  match: Type.Object({
    cn: glob('subject common name'),
    ou: glob('subject organizational unit'),
    o: glob('subject organization'),
    san_dns: glob('DNS subject alternative name'),
    san_uri: glob('URI subject alternative name'),
    san_email: glob('email subject alternative name'),
    socket: glob('identity of a socket listener in the config\'s sockets:')
  }, { additionalProperties: false, description: 'a mapping like { ou: platform } or { socket: traefik }' }),
  teams: Type.Array(Type.String({ description: 'a team name' }), { description: 'a list of team names like [platform]' })
}, { additionalProperties: false, description: 'a mapping with match and teams' })

const Mode = Type.Optional(Type.String({ description: 'enforce or audit' }))

const Ownership = Type.Optional(Type.Boolean({ description: 'true or false (objects the team creates are labelled with its name, and it sees and touches only its own)' }))

/**
 * One team: the rules it allows and denies, its mode, its `containers`
 * rules (checked in containers.ts, which gives better messages for the two
 * forms than a schema union could), its audit level, and whether its
 * objects are isolated (`ownership`).
 */
export const TeamSchema = Type.Object({
  allow: Type.Optional(RuleList),
  deny: Type.Optional(RuleList),
  mode: Mode,
  containers: Type.Optional(Type.Unknown()),
  audit: Type.Optional(Type.String({ description: 'metadata, request or session' })),
  ownership: Ownership,
  quota: Type.Optional(Type.Object({
    containers: Type.Optional(Type.Unknown()),
    memory: Type.Optional(Type.Unknown())
  }, { additionalProperties: false, description: 'a mapping with containers and memory, like { containers: 20, memory: 16g }' }))
}, { additionalProperties: false, description: 'a mapping with allow, deny, mode, containers, audit, ownership and quota' })

/** Policy-wide defaults for team keys; a team's own key overrides its default. */
export const DefaultsSchema = Type.Object({
  ownership: Ownership
}, { additionalProperties: false, description: 'a mapping with ownership' })

/** A whole policy file. */
export const PolicySchema = Type.Object({
  version: Type.Integer({ description: 'the number 1' }),
  mode: Mode,
  defaults: Type.Optional(DefaultsSchema),
  identities: Type.Array(IdentitySchema, { description: 'a list of identity entries (match + teams)' }),
  teams: Type.Record(Type.String(), TeamSchema, { description: 'a mapping from team name to its rules' })
}, { additionalProperties: false, description: 'a mapping with version, mode, defaults, identities and teams' })
