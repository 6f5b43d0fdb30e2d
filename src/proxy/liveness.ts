/**
 * A running check that the daemon answers: `GET /_ping` every couple of
 * seconds, each with a short timeout. While it does not answer (nothing
 * accepts, no permission, or it accepts and never answers: a hung
 * dockerd), new requests can be refused at once with 502 instead of
 * waiting on a daemon that will not answer them. No timeout is put on
 * requests themselves: `docker stop -t`, prune and others rightly wait
 * minutes for their answer, and requests in flight keep waiting.
 *
 * Invariants: at most one probe runs at a time (readiness shares it); before the first probe
 * ends the daemon counts as answering (requests then find out themselves);
 * a daemon that answers /_ping with an error status is answering.
 */
import { pingUpstream, type PingFailure } from './probe.js'
import { upstreamUnavailable, type Upstream } from './exchange.js'
import type { Refusal } from '../shared/errors.js'

/** How often and how patiently to probe; 2 s each unless set. */
export interface LivenessOptions {
  readonly upstream: Upstream
  readonly everyMs?: number
  readonly timeoutMs?: number
  /** Told every probe's outcome: null when it answered, else the sentence for the operator's log. Must not throw. */
  readonly onResult?: (problem: string | null) => void
}

const DEFAULT_EVERY_MS = 2000
const DEFAULT_TIMEOUT_MS = 2000

/** See the module comment. */
export class UpstreamLiveness {
  private cause: string | null = null
  private timer: NodeJS.Timeout | null = null
  private inProgress: Promise<PingFailure | null> | null = null
  private last: { readonly at: number; readonly problem: string | null } | null = null

  constructor (private readonly options: LivenessOptions) {}

  /** Probes now, then every `everyMs`, until {@link UpstreamLiveness.stop}. */
  start (): void {
    if (this.timer !== null) return
    this.timer = setInterval(() => { void this.ping() }, this.options.everyMs ?? DEFAULT_EVERY_MS)
    this.timer.unref()
    void this.ping()
  }

  stop (): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  /** The 502 to answer a new request with while the last probe found the daemon not answering; null otherwise. */
  refusal (): Refusal | null {
    return this.cause === null ? null : upstreamUnavailable(this.options.upstream, this.cause)
  }

  /**
   * What is wrong with the daemon (the sentence for the operator), or null
   * when it answers: the last probe's finding when it is at most
   * `maxAgeMs` old, else a probe's now. Readiness asks this, so one probe
   * serves both.
   */
  async current (maxAgeMs: number): Promise<string | null> {
    if (this.last !== null && Date.now() - this.last.at <= maxAgeMs) return this.last.problem
    return (await this.ping())?.problem ?? null
  }

  // At most one probe at a time: a caller during a probe shares its answer.
  private async ping (): Promise<PingFailure | null> {
    this.inProgress ??= pingUpstream(this.options.upstream, this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS).then((failure) => {
      this.inProgress = null
      this.last = { at: Date.now(), problem: failure?.problem ?? null }
      // A stopped probe no longer speaks for new requests or the log.
      if (this.timer !== null) {
        this.cause = failure?.cause ?? null
        this.options.onResult?.(failure?.problem ?? null)
      }
      return failure
    })
    return await this.inProgress
  }
}
