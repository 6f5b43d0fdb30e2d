/**
 * `dockgate serve`: load and check everything, then listen. Any config or
 * policy problem stops startup with one line per problem; the gateway never
 * runs on partial or unchecked settings. `--check` stops after checking.
 *
 * Once listening: SIGHUP and changes to the files it loaded reload them
 * (src/reload/reload.ts); SIGTERM or SIGINT stop it gracefully (a second one
 * cuts what is still in flight). With `workers: N` this process is the
 * cluster primary and each worker runs this same command.
 */
import cluster from 'node:cluster'
import { existsSync } from 'node:fs'
import process from 'node:process'
import { parseArgs } from 'node:util'
import type { FastifyBaseLogger } from 'fastify'
import type { ConfigOverrides } from '../config/load.js'
import { formatDiagnostic, type Loaded } from '../shared/diagnostics.js'
import { checkSettings } from '../runtime/check.js'
import { runPrimary } from '../runtime/primary.js'
import { buildRuntime, StartupError } from '../runtime/runtime.js'
import { loadSettings, type Settings, type SettingsSource } from '../reload/settings.js'
import { forgetActivation, inheritedListenFd } from '../runtime/systemd.js'
import { runWorker } from '../runtime/worker.js'
import { serveLogger } from './log-output.js'

const USAGE = 'usage: dockgate serve [--config FILE | --dev] [--listen HOST:PORT] [--upstream unix:///PATH] [--check]'

/** Where the config is when --config is not given: $DOCKGATE_CONFIG, else where deploy/ installs it. */
export const DEFAULT_CONFIG_FILE = '/etc/dockgate/dockgate.yaml'

type Logger = FastifyBaseLogger

/** Runs the gateway until SIGINT or SIGTERM (or, with --check, checks it); resolves with the exit code. */
export async function runServeCommand (argv: string[]): Promise<number> {
  let args
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, listen: { type: 'string' }, upstream: { type: 'string' }, dev: { type: 'boolean' }, check: { type: 'boolean' } },
      strict: true
    }).values
  } catch (err) {
    return usageError((err as Error).message)
  }
  if (args.dev === true && args.config !== undefined) return usageError('--dev and --config exclude each other')
  const configFile = args.dev === true ? null : args.config ?? defaultConfigFile()
  if (args.dev !== true && configFile === null) {
    return usageError(`no config: ${DEFAULT_CONFIG_FILE} does not exist; pass --config FILE, or --dev for a development setup`)
  }
  const overrides: ConfigOverrides = { listen: args.listen, upstream: args.upstream }
  const worker = cluster.isWorker
  // Loaded only for --dev: it issues certificates with node-forge (about
  // 10 MB resident), which a serve process with a config never needs.
  const dev = args.dev === true ? await (await import('./dev.js')).prepareDevSetup(process.cwd()) : null
  if (!worker) for (const path of dev?.created ?? []) process.stdout.write(`dockgate: created ${path}\n`)
  // The same loading runs again on every reload, with the same overrides.
  const source: SettingsSource = dev === null
    ? { file: configFile ?? '', overrides }
    : { object: dev.config, baseDir: process.cwd(), overrides }
  const loadAll = async (): Promise<Loaded<Settings>> => await loadSettings(source)
  const settings = await loadAll()
  if (!settings.ok) {
    for (const d of settings.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n')
    process.stderr.write(`dockgate: ${args.check === true ? 'check failed' : 'not started'}: ${settings.diagnostics.length} problem(s)\n`)
    return 1
  }
  const activation = inheritedListenFd(process.env, process.pid)
  if (typeof activation === 'object' && activation !== null) return notStarted(activation.error)
  forgetActivation(process.env)
  if (args.check === true) return await check(settings.value, activation)
  // With audit.sinks.stdout, standard output carries audit records only.
  const logger: Logger = serveLogger(settings.value.config.audit.sinks.stdout ? 2 : 1, process.env.DOCKGATE_LOG_LEVEL ?? 'info')
  try {
    if (worker) return await runWorker({ settings: settings.value, load: loadAll, logger })
    if (settings.value.config.workers > 1) return await primary(settings.value, logger, activation)
    return await serveAlone(settings.value, loadAll, logger, activation, dev?.clientDir ?? null)
  } catch (err) {
    if (err instanceof StartupError) return notStarted(err.message)
    throw err
  }
}

async function check (settings: Settings, listenFd: number | null): Promise<number> {
  const report = await checkSettings(settings, listenFd)
  for (const line of report.lines) process.stdout.write(line + '\n')
  for (const line of [...report.problems, ...report.warnings]) process.stderr.write(line + '\n')
  if (report.problems.length > 0) {
    process.stderr.write(`dockgate: check failed: ${report.problems.length} problem(s)\n`)
    return 1
  }
  process.stdout.write(`dockgate: config OK (${report.warnings.length} warning(s))\n`)
  return 0
}

async function serveAlone (settings: Settings, loadAll: () => Promise<Loaded<Settings>>, logger: Logger, listenFd: number | null, devClientDir: string | null): Promise<number> {
  const { config } = settings
  for (const warning of settings.policy.warnings) logger.warn(formatDiagnostic(warning))
  const runtime = await buildRuntime({ settings, load: loadAll, logger, serveAdmin: true, ...(listenFd === null ? {} : { listenFd }) })
  const { address, sockets, admin } = await runtime.start()
  logger.info({
    address: address === null ? null : `${address.address}:${address.port}`, sockets, upstream: config.upstream.url, policy: config.policyFile, audit: runtime.auditFile,
    admin, workers: 1, socketActivated: listenFd !== null
  }, 'dockgate listening')
  if (devClientDir !== null && address !== null) {
    const { exportLine } = await import('./dev.js')
    process.stdout.write(`\nPoint the docker CLI at dockgate with the admin bundle:\n\n  ${exportLine(address.address, address.port, devClientDir)}\n\n`)
  }
  const onHangup = (): void => { void runtime.hangup() }
  process.on('SIGHUP', onHangup)
  let signals = 0
  await new Promise<void>((resolve) => {
    const onStop = (): void => {
      signals += 1
      void runtime.shutdown({ force: signals > 1 }).then(() => { resolve() })
    }
    process.on('SIGINT', onStop)
    process.on('SIGTERM', onStop)
  })
  process.off('SIGHUP', onHangup)
  process.removeAllListeners('SIGINT')
  process.removeAllListeners('SIGTERM')
  return 0
}

async function primary (settings: Settings, logger: Logger, listenFd: number | null): Promise<number> {
  for (const warning of settings.policy.warnings) logger.warn(formatDiagnostic(warning))
  return await runPrimary({ settings, logger, listenFd })
}

function notStarted (message: string): number {
  process.stderr.write(`dockgate: not started: ${message}\n`)
  return 1
}

function usageError (message: string): number {
  process.stderr.write(`dockgate: ${message}\n${USAGE}\n`)
  return 2
}

// An explicit $DOCKGATE_CONFIG is used even when missing, so its error names it.
function defaultConfigFile (): string | null {
  const fromEnv = process.env.DOCKGATE_CONFIG
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  return existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : null
}
