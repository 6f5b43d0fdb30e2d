/**
 * The shape of a policy file (version 1). Structure only: semantic checks
 * (rule syntax, team references, empty matches) live in load.ts. Every
 * object is closed (`additionalProperties: false`) so a typo is an error, not
 * a silently ignored key that leaves a door open or shut.
 */
import { Type, type TSchema } from '@sinclair/typebox'

const glob = (field: string): TSchema =>
  Type.Optional(Type.String({ description: `a string (the ${field}, exact or with * globs)` }))

const RuleList = Type.Array(Type.String({ description: 'a string like "GET /containers/json"' }), {
  description: 'a list of rules like ["GET /containers/json"]'
})

/** One `identities:` entry: which certificates it covers and the teams they get. */
export const IdentitySchema = Type.Object({
  match: Type.Object({
    cn: glob('subject common name'),
    ou: glob('subject organizational unit'),
    o: glob('subject organization'),
    san_dns: glob('DNS subject alternative name'),
    san_uri: glob('URI subject alternative name'),
    san_email: glob('email subject alternative name')
  }, { additionalProperties: false, description: 'a mapping like { ou: platform }' }),
  teams: Type.Array(Type.String({ description: 'a team name' }), { description: 'a list of team names like [platform]' })
}, { additionalProperties: false, description: 'a mapping with match and teams' })

/** One team: the rules it allows and the rules it denies. */
export const TeamSchema = Type.Object({
  allow: Type.Optional(RuleList),
  deny: Type.Optional(RuleList)
}, { additionalProperties: false, description: 'a mapping with allow and/or deny rule lists' })

/** A whole policy file. */
export const PolicySchema = Type.Object({
  version: Type.Integer({ description: 'the number 1' }),
  identities: Type.Array(IdentitySchema, { description: 'a list of identity entries (match + teams)' }),
  teams: Type.Record(Type.String(), TeamSchema, { description: 'a mapping from team name to its rules' })
}, { additionalProperties: false, description: 'a mapping with version, identities and teams' })
