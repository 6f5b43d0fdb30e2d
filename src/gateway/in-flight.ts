/**
 * What is in flight: every exchange from admission until it ended
 * (refusals too, until answered). A graceful shutdown waits for it to
 * empty, the stream gauges count it, and once draining starts it tells
 * every answer to close its connection.
 */
import type { RequestKind } from '../limits/stream-kind.js'

/** One admitted exchange. `opened`: a stream started, or a hijacked session switched protocols. */
export interface InFlightEntry {
  readonly kind: RequestKind
  opened: boolean
}

/** See the module comment. */
export class InFlight {
  private draining = false
  private readonly entries = new Set<InFlightEntry>()
  private idleWaiters: Array<() => void> = []

  /** From now on every new request is refused and every answer closes its connection. */
  startDraining (): void {
    this.draining = true
  }

  /** True once {@link InFlight.startDraining} was called; it never goes back. */
  get isDraining (): boolean {
    return this.draining
  }

  /** Exchanges admitted and not yet ended. */
  get count (): number {
    return this.entries.size
  }

  /** Registers an admitted exchange; {@link InFlight.leave} it exactly once. */
  enter (kind: RequestKind): InFlightEntry {
    const entry: InFlightEntry = { kind, opened: false }
    this.entries.add(entry)
    return entry
  }

  leave (entry: InFlightEntry): void {
    this.entries.delete(entry)
    if (this.entries.size === 0) this.wakeIdle()
  }

  /** Open streams, and hijacked sessions the daemon switched to raw bytes. */
  openKinds (): { streams: number; sessions: number } {
    let streams = 0
    let sessions = 0
    for (const entry of this.entries) {
      if (entry.kind === 'stream') streams += 1
      else if (entry.kind === 'session' && entry.opened) sessions += 1
    }
    return { streams, sessions }
  }

  /** Resolves once nothing is in flight. */
  async idle (): Promise<void> {
    if (this.entries.size === 0) return
    await new Promise<void>((resolve) => { this.idleWaiters.push(resolve) })
  }

  private wakeIdle (): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }
}
