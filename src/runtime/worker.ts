/**
 * A cluster worker: one full gateway process (same policy, same limits,
 * same audit guarantees) on the port the primary shares, writing its own
 * audit file. Worker 1 also serves the socket listeners (a socket file
 * has one listener; local tools need no more than one process). Signals are the primary's business: a worker ignores them
 * and acts on the primary's messages instead, so a terminal's Ctrl-C (sent
 * to the whole process group) or systemd's SIGTERM to every process of the
 * unit does not count twice and turn a graceful stop into a forced one.
 */
import process from 'node:process'
import type { FastifyBaseLogger } from 'fastify'
import { AggregatorRegistry } from 'prom-client'
import type { Loaded } from '../shared/diagnostics.js'
import { isOurs, WORKER_ENV, type FromWorker, type ToWorker } from './cluster-ipc.js'
import { buildRuntime, StartupError, type Runtime } from './runtime.js'
import type { Settings } from '../reload/settings.js'

/** What a worker needs; the rest comes from the primary's environment. */
export interface WorkerOptions {
  readonly settings: Settings
  readonly load: () => Promise<Loaded<Settings>>
  readonly logger: FastifyBaseLogger
}

/** Runs until the primary says to stop (or goes away); resolves with the exit code. */
export async function runWorker (options: WorkerOptions): Promise<number> {
  const slot = Number(process.env[WORKER_ENV.slot])
  const auditFile = process.env[WORKER_ENV.auditFile] ?? options.settings.config.audit.file
  const fd = process.env[WORKER_ENV.listenFd]
  const logger = options.logger.child({ worker: slot })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => {})
  // Listening from the start: a shutdown may come while this worker is still starting.
  let runtime: Runtime | null = null
  let stopRequested: boolean | null = null
  let stop = (force: boolean): void => { stopRequested = force || (stopRequested ?? false) }
  process.on('message', (message: unknown) => {
    if (!isOurs<ToWorker>(message)) return
    if (message.type === 'dockgate:shutdown') stop(message.force)
    else if (message.type === 'dockgate:reload') void runtime?.hangup()
    else void runtime?.readiness().then((readiness) => { void send({ type: 'dockgate:readiness', id: message.id, readiness }) })
  })
  // The primary is gone (killed): stop as if it had asked.
  process.once('disconnect', () => { stop(false) })
  // Answer the primary's metrics requests from the start (with nothing
  // yet), so a scrape while this worker starts is not left waiting.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([])
  try {
    runtime = await buildRuntime({
      settings: options.settings, load: options.load, logger, auditFile, serveAdmin: false, reportDaemon: slot === 1, serveSockets: slot === 1,
      ...(fd === undefined ? {} : { listenFd: Number(fd) })
    })
    const { address, sockets } = await runtime.start()
    // The primary's AggregatorRegistry asks every worker for this registry.
    AggregatorRegistry.setRegistries([runtime.metrics.registry])
    void send({ type: 'dockgate:listening', address: address === null ? sockets.join(', ') : `${address.address}:${address.port}`, auditFile })
  } catch (err) {
    await send({ type: 'dockgate:failed', message: err instanceof StartupError ? err.message : String(err) })
    disconnect()
    return 1
  }
  const running = runtime
  await new Promise<void>((resolve) => {
    stop = (force) => { void running.shutdown({ force }).then(() => { resolve() }) }
    if (stopRequested !== null) stop(stopRequested)
  })
  disconnect()
  return 0
}

// The IPC channel would keep this process alive.
function disconnect (): void {
  if (process.connected) process.disconnect()
}

/** Resolves once the message is handed to the channel (or at once when there is none). */
async function send (message: FromWorker): Promise<void> {
  await new Promise<void>((resolve) => {
    if (!process.connected || process.send === undefined) resolve()
    else process.send(message, undefined, {}, () => { resolve() })
  })
}
