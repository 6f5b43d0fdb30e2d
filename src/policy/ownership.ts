/**
 * Team isolation (`ownership: true` on a team, or `defaults: { ownership:
 * true }`): which owner a request's new objects are labelled with and
 * whose objects it may see and touch. Pure; the labels, list filters and
 * the owner index live in src/ownership, which only needs the scope.
 *
 * Semantics (documented for operators):
 * - A certificate whose identity entry gives it any team WITHOUT ownership
 *   is not isolated at all: scope null, it sees and touches every object
 *   and creates unlabelled ones, as before ownership existed. This is how
 *   platform admins are written (and `policy check` warns when an entry
 *   mixes both kinds, since the ownership teams' isolation then does not
 *   apply to those certificates).
 * - Otherwise every team of the entry is an ownership team. New objects are
 *   labelled `dockgate.owner=<owner>` where owner is the FIRST team in the
 *   entry's `teams:` order; the certificate sees and touches the objects of
 *   ALL its teams (`visible`, in the same order, without repeats). So
 *   `teams: [web, shared-db]` creates as web and also reaches shared-db's
 *   objects; reorder the list to change which team owns what it creates.
 * - A team name the policy does not define (a caller holding a list from
 *   before a reload) counts as an ownership team: failing closed, it sees
 *   only objects labelled with that name.
 * - An entry with no teams has scope null; every request it makes is
 *   refused by the path rules anyway (nothing is allowed to no team).
 */
import type { Policy } from './compiled.js'

/** The label every object an ownership team creates carries; its value is the owning team's name. */
export const OWNER_LABEL = 'dockgate.owner'

/**
 * A request's ownership scope: `owner` labels what it creates, `visible`
 * (never empty, `owner` first) are the owner values whose objects it may
 * see and touch. Frozen. src/ownership takes the same shape.
 */
export interface OwnershipScope {
  readonly owner: string
  readonly visible: readonly string[]
}

const flags = new WeakMap<Policy, ReadonlyMap<string, boolean>>()

/**
 * The ownership scope of a certificate whose identity entry gives it
 * `teams` (IdentityMatch.teams, in the order written), or null when it is
 * not isolated (see the module comment). Cheap: a cached map lookup per team.
 */
export function ownershipScope (policy: Policy, teams: readonly string[]): OwnershipScope | null {
  if (teams.length === 0) return null
  const byName = teamFlags(policy)
  for (const team of teams) {
    if (byName.get(team) === false) return null
  }
  const visible = [...new Set(teams)]
  return Object.freeze({ owner: visible[0] as string, visible: Object.freeze(visible) })
}

function teamFlags (policy: Policy): ReadonlyMap<string, boolean> {
  let map = flags.get(policy)
  if (map === undefined) {
    map = new Map(policy.compiledTeams.map((team) => [team.name, team.ownership]))
    flags.set(policy, map)
  }
  return map
}
