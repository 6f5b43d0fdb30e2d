/**
 * Team quotas (`quota: { containers, memory }`, ownership teams only):
 * counted from the team's own containers on the daemon (the owner labels
 * are the truth; the owner index knows which are the team's), enforced at
 * container create and at a memory update. A team's creates and updates
 * are serialised: the next one is judged only after the previous one was
 * answered and its container is known, so parallel creates can never
 * exceed the quota. src/policy's quotaRefusal decides.
 */
import { quotaRefusal, type Policy, type Verdict } from '../policy/index.js'
import type { DaemonClient, OwnerIndex } from '../ownership/index.js'
import type { Refusal } from '../shared/errors.js'

/** What the body phase learns: refuse, or go on holding the team's turn until the exchange ends. */
export type QuotaDecision = { readonly refusal: Refusal } | { readonly release: () => void }

/** Which request a quota may apply to: a container create, or an update of the container the path names. */
export type QuotaRequest = { readonly kind: 'create' } | { readonly kind: 'update'; readonly container: string }

/** Serialises and judges the quota requests of every team; see the module comment. */
export class QuotaGate {
  private readonly turns = new Map<string, Promise<void>>()

  constructor (private readonly daemon: DaemonClient, private readonly owners: () => OwnerIndex) {}

  /**
   * Null when no quota applies (no team or no quota for the deciding team,
   * or an update that sets no memory); else waits for the team's turn,
   * counts, and refuses or holds the turn until `release`.
   */
  async decide (policy: Policy, verdict: Verdict, request: QuotaRequest): Promise<QuotaDecision | null> {
    const quota = policy.compiledTeams.find((team) => team.name === verdict.team)?.quota ?? null
    if (quota === null || verdict.team === null) return null
    if (request.kind === 'update' && (quota.memory === null || verdict.memory === undefined)) return null
    const team = verdict.team
    const release = await this.turn(team)
    try {
      const owned = this.owners().objects('container').filter((object) => object.owner === team)
      const limits = quota.memory === null ? [] : await Promise.all(owned.map(async (object) => await this.memoryOf(object.id)))
      const used = { containers: owned.length, memory: limits.reduce((sum, bytes) => sum + bytes, 0) }
      const asked = verdict.memory ?? null
      const claim = request.kind === 'create'
        ? { containers: 1, memory: asked }
        : { containers: 0, memory: asked === null ? null : asked - await this.memoryOf(request.container) }
      const refused = quotaRefusal(team, quota, used, claim)
      if (refused === null) return { release }
      release()
      return { refusal: refused }
    } catch (err) {
      release()
      throw err
    }
  }

  /** Waits for the team's previous quota request to end; resolves with the function that ends this one. */
  private async turn (team: string): Promise<() => void> {
    const previous = this.turns.get(team) ?? Promise.resolve()
    let release = (): void => {}
    const mine = new Promise<void>((resolve) => { release = resolve })
    const chained = previous.then(async () => await mine)
    this.turns.set(team, chained)
    void chained.then(() => { if (this.turns.get(team) === chained) this.turns.delete(team) })
    await previous
    return release
  }

  /** A container's memory limit in bytes (0 for none, or when it is gone), read from the daemon. */
  private async memoryOf (container: string): Promise<number> {
    const answer = await this.daemon.get(`/containers/${encodeURIComponent(container)}/json`)
    if (answer.status === 404) return 0
    if (answer.status !== 200) throw new Error(`the daemon answered ${answer.status} to a container inspect`)
    const memory = (answer.body as { HostConfig?: { Memory?: unknown } } | null)?.HostConfig?.Memory
    return typeof memory === 'number' && memory > 0 ? memory : 0
  }
}
