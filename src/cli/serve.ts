/**
 * `dockgate serve`: load and check everything, then listen. Any config or
 * policy problem stops startup with one line per problem; the gateway never
 * runs on partial or unchecked settings. Once listening, SIGHUP and changes
 * to the files it loaded reload them (src/app/reload.ts); SIGHUP also
 * reopens the audit file for logrotate (src/app/live.ts).
 */
import { parseArgs } from 'node:util'
import pino from 'pino'
import type { ConfigOverrides } from '../config/load.js'
import { formatDiagnostic, type Loaded } from '../shared/diagnostics.js'
import type { AuditLog } from '../audit/log.js'
import { openAuditTrail } from '../app/audit-trail.js'
import { buildLiveGateway } from '../app/live.js'
import { loadSettings, type Settings, type SettingsSource } from '../app/settings.js'
import { probeUpstream } from '../proxy/probe.js'
import { exportLine, prepareDevSetup } from './dev.js'

const USAGE = 'usage: dockgate serve (--config FILE | --dev) [--listen HOST:PORT] [--upstream unix:///PATH]'

/** Runs the gateway until SIGINT or SIGTERM; resolves with the exit code. */
export async function runServeCommand (argv: string[]): Promise<number> {
  let args
  try {
    args = parseArgs({
      args: argv,
      options: { config: { type: 'string' }, listen: { type: 'string' }, upstream: { type: 'string' }, dev: { type: 'boolean' } },
      strict: true
    }).values
  } catch (err) {
    return usageError((err as Error).message)
  }
  if (args.dev === true && args.config !== undefined) return usageError('--dev and --config exclude each other')
  if (args.dev !== true && args.config === undefined) return usageError('no config: pass --config FILE, or --dev for a development setup')
  const overrides: ConfigOverrides = { listen: args.listen, upstream: args.upstream }
  const dev = args.dev === true ? await prepareDevSetup(process.cwd()) : null
  for (const path of dev?.created ?? []) process.stdout.write(`dockgate: created ${path}\n`)
  // The same loading runs again on every reload, with the same overrides.
  const source: SettingsSource = dev === null
    ? { file: args.config ?? '', overrides }
    : { object: dev.config, baseDir: process.cwd(), overrides }
  const loadAll = async (): Promise<Loaded<Settings>> => await loadSettings(source)
  const settings = await loadAll()
  if (!settings.ok) {
    for (const d of settings.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n')
    process.stderr.write(`dockgate: not started: ${settings.diagnostics.length} problem(s)\n`)
    return 1
  }
  return await serve(settings.value, loadAll, dev?.clientDir ?? null)
}

async function serve (settings: Settings, loadAll: () => Promise<Loaded<Settings>>, devClientDir: string | null): Promise<number> {
  const { config } = settings
  // With audit.sinks.stdout, standard output carries audit records only.
  const logger = pino({ level: process.env.DOCKGATE_LOG_LEVEL ?? 'info', base: { service: 'dockgate' } },
    config.audit.sinks.stdout ? pino.destination(2) : undefined)
  let audit: AuditLog
  try {
    audit = openAuditTrail(config.audit, logger)
  } catch (err) {
    process.stderr.write(`dockgate: not started: cannot open audit file ${config.audit.file}: ${(err as Error).message}\n`)
    return 1
  }
  for (const warning of settings.policy.warnings) logger.warn(formatDiagnostic(warning))
  const { gateway, reloader, hangup } = await buildLiveGateway({ settings, load: loadAll, audit, logger })
  try {
    const address = await gateway.listen()
    logger.info({ address: `${address.address}:${address.port}`, upstream: config.upstream.url, policy: config.policyFile, audit: config.audit.file }, 'dockgate listening')
    if (devClientDir !== null) process.stdout.write(`\nPoint the docker CLI at dockgate with the admin bundle:\n\n  ${exportLine(address.address, address.port, devClientDir)}\n\n`)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : e.message
    process.stderr.write(`dockgate: not started: cannot listen on ${config.listen.host}:${config.listen.port}: ${why}\n`)
    await gateway.close()
    await audit.close()
    return 1
  }
  const problem = await probeUpstream(config.upstream)
  if (problem !== null) logger.warn(`${problem}; requests will be answered 502 until it is up`)
  reloader.start()
  const onHangup = (): void => { void hangup() }
  process.on('SIGHUP', onHangup)
  await untilSignalled()
  logger.info('dockgate stopping')
  process.off('SIGHUP', onHangup)
  reloader.close()
  await gateway.close()
  await audit.close()
  return 0
}

async function untilSignalled (): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => { resolve() })
    process.once('SIGTERM', () => { resolve() })
  })
}

function usageError (message: string): number {
  process.stderr.write(`dockgate: ${message}\n${USAGE}\n`)
  return 2
}
