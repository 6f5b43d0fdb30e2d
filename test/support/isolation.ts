/**
 * The policy the isolation tests run under: two ownership teams (alpha,
 * beta; ownership from `defaults:`) and an admin team (platform) that sees
 * everything.
 */
export const ISOLATION_POLICY = `version: 1
defaults: { ownership: true }
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: alpha }
    teams: [alpha]
  - match: { ou: beta }
    teams: [beta]
teams:
  platform:
    ownership: false
    allow: ["* /**"]
    containers: unrestricted
  # Unrestricted containers, so what isolation refuses is not refused by a
  # body rule first (--volumes-from needs it).
  alpha:
    allow: ["* /**"]
    containers: unrestricted
  beta:
    allow: ["* /**"]
    containers: unrestricted
`
