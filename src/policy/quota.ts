/**
 * A team's `quota:` decision, pure: the gateway counts the team's own
 * containers on the daemon (owner labels are the truth), serialises a
 * team's creates, and asks here whether one more fits.
 */
import { refusal, type Refusal } from '../shared/errors.js'
import { formatMemory, type Quota } from './images.js'

/** What a team's containers use now: how many it owns (any state), and the sum of their memory limits in bytes. */
export interface QuotaUse {
  readonly containers: number
  readonly memory: number
}

/**
 * What a request adds: containers it creates (1 for a create, 0 for an
 * update) and the memory it adds in bytes (a create's limit, or an
 * update's new limit minus the old), or null when it sets no limit (on
 * create: none at all; on update: removes it).
 */
export interface QuotaClaim {
  readonly containers: number
  readonly memory: number | null
}

/** The refusal (DG_QUOTA_EXCEEDED) when `claim` does not fit in `quota` with `used`, else null. A null quota never refuses. */
export function quotaRefusal (team: string, quota: Quota | null, used: QuotaUse, claim: QuotaClaim): Refusal | null {
  if (quota === null) return null
  if (quota.containers !== null && claim.containers > 0 && used.containers + claim.containers > quota.containers) {
    return refusal('DG_QUOTA_EXCEEDED', `${team} may not create another container: quota containers ${quota.containers} reached (${used.containers} in use)`)
  }
  if (quota.memory === null) return null
  const limit = formatMemory(quota.memory)
  const inUse = `${formatMemory(used.memory)} in use`
  if (claim.memory === null) {
    return refusal('DG_QUOTA_EXCEEDED', `${team} must set a memory limit: its containers' memory counts against quota memory ${limit} (${inUse})`)
  }
  if (claim.memory > 0 && used.memory + claim.memory > quota.memory) {
    return refusal('DG_QUOTA_EXCEEDED', `${team} may not add memory ${formatMemory(claim.memory)}: quota memory ${limit} (${inUse})`)
  }
  return null
}
