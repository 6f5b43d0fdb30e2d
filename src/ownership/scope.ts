/**
 * What team isolation decides with: the owner label, a request's scope,
 * and who may see an object. Pure.
 *
 * The scope comes from the policy core (src/policy/ownership.ts, which
 * documents how an identity in several teams is handled); this module only
 * needs its shape, so the two modules stay independent.
 *
 * Visibility: containers, exec instances, volumes and networks are visible
 * to a scope iff their `dockgate.owner` label is one of its `visible`
 * owners; an object with no owner label (created before dockgate, or
 * directly on the socket) is visible only to admins (scope null). Images
 * are content every team shares: an image without an owner (pulled,
 * loaded, or the base images on the host) is visible to every team; an
 * image with an owner (built, committed or imported by an ownership team)
 * only to scopes that see that owner.
 */

/** The label every object an ownership team creates carries; its value is the owning team's name. */
export const OWNER_LABEL = 'dockgate.owner'

/** `owner` labels new objects; `visible` (never empty, owner first) are the owners whose objects the request may see and touch. */
export interface OwnershipScope {
  readonly owner: string
  readonly visible: readonly string[]
}

/** The kinds of object that have owners. */
export type ObjectKind = 'container' | 'exec' | 'volume' | 'network' | 'image'

/** The owner in a `Labels` value (a map, or null / absent), or null when it has none. */
export function ownerOfLabels (labels: unknown): string | null {
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return null
  const owner = (labels as Record<string, unknown>)[OWNER_LABEL]
  return typeof owner === 'string' ? owner : null
}

/** True iff an object of `kind` owned by `owner` (null: no owner label) is visible to `scope` (null: an admin, who sees everything). */
export function isVisible (scope: OwnershipScope | null, kind: ObjectKind, owner: string | null): boolean {
  if (scope === null) return true
  if (owner === null) return kind === 'image'
  return scope.visible.includes(owner)
}
