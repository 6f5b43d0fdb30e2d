/**
 * The cluster primary for `workers: N`. It serves no request itself: it
 * forks N workers that share the TLS port (node:cluster's primary accepts
 * and hands the connections to them in turn), serves the admin endpoints for all of them (metrics summed
 * over the workers, ready only when every worker is), forwards SIGHUP as a
 * reload and SIGTERM/SIGINT as a graceful shutdown, and replaces a worker
 * that dies, in the same slot (so it appends to the same audit file).
 */
import { workerFile } from '../audit/rotation.js'
import cluster, { type Worker } from 'node:cluster'
import process from 'node:process'
import type { FastifyBaseLogger } from 'fastify'
import { AggregatorRegistry } from 'prom-client'
import { readinessOf, startAdmin, type AdminServer, type Readiness } from './admin-server.js'
import { formatAdmin } from '../config/operations.js'
import { isOurs, WORKER_ENV, type FromWorker, type ToWorker } from './cluster-ipc.js'
import { StartupError } from './runtime.js'
import type { Settings } from '../reload/settings.js'
import { listenFailure } from './startup.js'

/** What the primary needs. */
export interface PrimaryOptions {
  readonly settings: Settings
  readonly logger: FastifyBaseLogger
  /** The inherited listening descriptor (socket activation), which the workers listen on through the primary. */
  readonly listenFd: number | null
}

interface Slot { worker: Worker; startedAt: number; failures: number; listening: boolean }

const READINESS_TIMEOUT_MS = 3000
const MAX_RESTART_DELAY_MS = 30_000
/** A worker that ran this long before dying is restarted at once; its crash was not a loop. */
const STABLE_AFTER_MS = 60_000
/** Seconds past `shutdown.graceSeconds` after which a worker that has not exited is killed. */
const KILL_AFTER_GRACE_S = 15

/**
 * Starts the workers and runs until a signal stops them all; resolves with
 * the exit code, or rejects with a {@link StartupError} when a worker
 * could not start (every worker is stopped first).
 */
export async function runPrimary (options: PrimaryOptions): Promise<number> {
  const { config } = options.settings
  const { logger } = options
  const slots = new Map<number, Slot>()
  let stopping = false
  let stopSignals = 0
  let failure: string | null = null
  let onStarted: (() => void) | null = null
  let address: string | null = null

  const fork = (slot: number, failures: number): void => {
    const worker = cluster.fork({
      [WORKER_ENV.slot]: String(slot),
      [WORKER_ENV.auditFile]: workerFile(config.audit.file, slot),
      ...(options.listenFd === null ? {} : { [WORKER_ENV.listenFd]: String(options.listenFd) })
    })
    const entry: Slot = { worker, startedAt: Date.now(), failures, listening: false }
    slots.set(slot, entry)
    worker.on('message', (message: unknown) => {
      if (!isOurs<FromWorker>(message)) return
      if (message.type === 'dockgate:listening') {
        entry.listening = true
        address ??= message.address
        logger.info({ worker: slot, pid: worker.process.pid, address: message.address, audit: message.auditFile }, `worker ${slot} listening`)
        if ([...slots.values()].every((s) => s.listening)) onStarted?.()
      } else if (message.type === 'dockgate:failed') {
        failure ??= message.message
      }
    })
    worker.on('exit', (code, signal) => { exited(slot, entry, code, signal) })
  }

  const exited = (slot: number, entry: Slot, code: number | null, signal: string | null): void => {
    if (slots.get(slot) !== entry) return
    if (stopping) return
    if (!entry.listening) {
      failure ??= `worker ${slot} exited (${signal ?? `code ${code ?? '?'}`}) before it was listening`
      onStarted?.()
      return
    }
    const ranFor = Date.now() - entry.startedAt
    const failures = ranFor >= STABLE_AFTER_MS ? 0 : entry.failures + 1
    const delay = failures === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** (failures - 1))
    logger.error({ worker: slot, code, signal, restartInMs: delay }, `worker ${slot} died (${signal ?? `code ${code ?? '?'}`}); starting a new one in slot ${slot} in ${delay} ms`)
    setTimeout(() => { if (!stopping) fork(slot, failures) }, delay)
  }

  const broadcast = (message: ToWorker): void => {
    for (const { worker } of slots.values()) if (worker.isConnected()) worker.send(message)
  }
  const allExited = async (): Promise<void> => {
    await Promise.all([...slots.values()].map(async ({ worker }) => {
      if (worker.isDead()) return
      await new Promise((resolve) => worker.once('exit', resolve))
    }))
  }

  await new Promise<void>((resolve) => {
    onStarted = resolve
    for (let slot = 1; slot <= config.workers; slot++) fork(slot, 0)
  })
  onStarted = null
  if (failure !== null) {
    stopping = true
    broadcast({ type: 'dockgate:shutdown', force: true })
    await allExited()
    throw new StartupError(failure)
  }

  let admin: AdminServer | null = null
  if (config.admin !== null) {
    const aggregator = new AggregatorRegistry()
    try {
      admin = await startAdmin({
        listen: config.admin,
        metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
        readiness: async () => await clusterReadiness(slots, config.workers)
      })
    } catch (err) {
      stopping = true
      broadcast({ type: 'dockgate:shutdown', force: true })
      await allExited()
      throw new StartupError(listenFailure('the admin endpoints', formatAdmin(config.admin), err as NodeJS.ErrnoException))
    }
  }
  logger.info({
    address, upstream: config.upstream.url, policy: config.policyFile,
    audit: Array.from({ length: config.workers }, (_, i) => workerFile(config.audit.file, i + 1)),
    admin: admin?.address ?? null, workers: config.workers, socketActivated: options.listenFd !== null
  }, 'dockgate listening')
  logger.info(`dockgate primary: ${config.workers} workers serving, each with its own audit file; SIGHUP reloads them all, SIGTERM stops them gracefully`)

  const onHangup = (): void => { broadcast({ type: 'dockgate:reload' }) }
  let onStop = (): void => {}
  const stopped = new Promise<void>((resolve) => {
    onStop = () => {
      stopping = true
      stopSignals += 1
      broadcast({ type: 'dockgate:shutdown', force: stopSignals > 1 })
      if (stopSignals > 1) return
      // A worker that does not stop is killed well after its own deadline.
      const kill = setTimeout(() => { for (const { worker } of slots.values()) if (!worker.isDead()) worker.process.kill('SIGKILL') },
        (config.shutdown.graceSeconds + KILL_AFTER_GRACE_S) * 1000)
      void allExited().then(() => { clearTimeout(kill); resolve() })
    }
  })
  process.on('SIGHUP', onHangup)
  process.on('SIGTERM', onStop)
  process.on('SIGINT', onStop)
  await stopped
  process.off('SIGHUP', onHangup)
  process.off('SIGTERM', onStop)
  process.off('SIGINT', onStop)
  await admin?.close()
  logger.info('dockgate primary: every worker has stopped')
  return 0
}

let readinessRequests = 0

// Ready only when every slot has a listening worker that says it is ready.
async function clusterReadiness (slots: ReadonlyMap<number, Slot>, expected: number): Promise<Readiness> {
  const answers = await Promise.all([...slots.entries()].map(async ([slot, entry]) => [slot, await askReadiness(entry)] as const))
  const checks: Record<string, { ok: boolean; detail: string }> = {}
  let ready = 0
  for (const [slot, answer] of answers) {
    if (answer?.ready === true) ready += 1
    const listening = slots.get(slot)?.listening === true
    if (answer === null) checks[`worker${slot}`] = { ok: false, detail: listening ? `worker ${slot} did not answer within ${READINESS_TIMEOUT_MS} ms` : `worker ${slot} is starting` }
    else for (const [name, check] of Object.entries(answer.checks)) checks[`worker${slot}.${name}`] = check
  }
  return readinessOf({ workers: { ok: ready === expected, detail: `${ready} of ${expected} worker(s) ready` }, ...checks })
}

async function askReadiness (entry: Slot): Promise<Readiness | null> {
  const { worker } = entry
  if (!entry.listening || !worker.isConnected()) return null
  const id = ++readinessRequests
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { worker.off('message', onMessage); resolve(null) }, READINESS_TIMEOUT_MS)
    const onMessage = (message: unknown): void => {
      if (!isOurs<FromWorker>(message) || message.type !== 'dockgate:readiness' || message.id !== id) return
      clearTimeout(timer)
      worker.off('message', onMessage)
      resolve(message.readiness)
    }
    worker.on('message', onMessage)
    worker.send({ type: 'dockgate:readiness', id } satisfies ToWorker)
  })
}
