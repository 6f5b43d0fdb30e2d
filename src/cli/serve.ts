/**
 * `dockgate serve`: load and check everything, then listen. Any config or
 * policy problem stops startup with one line per problem; the gateway never
 * runs on partial or unchecked settings.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { configFromObject, loadConfigFile, type ConfigOverrides, type GatewayConfig } from '../config/load.js'
import { loadPolicy, type Policy } from '../policy/index.js'
import { formatDiagnostic, type Diagnostic, type Loaded } from '../shared/diagnostics.js'
import { openAuditLog, type AuditLog } from '../audit/log.js'
import { buildGateway } from '../app/gateway.js'
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
  const loaded = dev === null
    ? await loadConfigFile(args.config ?? '', overrides)
    : await configFromObject(dev.config, process.cwd(), overrides)
  const settings = await loadSettings(loaded)
  if (!settings.ok) {
    for (const d of settings.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n')
    process.stderr.write(`dockgate: not started: ${settings.diagnostics.length} problem(s)\n`)
    return 1
  }
  return await serve(settings.value.config, settings.value.policy, dev?.clientDir ?? null)
}

async function loadSettings (loaded: Loaded<GatewayConfig>): Promise<Loaded<{ config: GatewayConfig; policy: Policy }>> {
  if (!loaded.ok) return loaded
  const config = loaded.value
  const text = await readFile(config.policyFile, 'utf8').catch((err: Error) => err)
  if (text instanceof Error) {
    const d: Diagnostic = { file: config.policyFile, line: 0, col: 0, code: 'DG_FILE_UNREADABLE', message: `cannot read policy: ${text.message}` }
    return { ok: false, diagnostics: [d] }
  }
  const policy = loadPolicy({ file: config.policyFile, text })
  return policy.ok ? { ok: true, value: { config, policy: policy.value } } : policy
}

async function serve (config: GatewayConfig, policy: Policy, devClientDir: string | null): Promise<number> {
  const logger = pino({ level: process.env.DOCKGATE_LOG_LEVEL ?? 'info', base: { service: 'dockgate' } })
  let audit: AuditLog
  try {
    audit = openAuditLog(config.audit.file)
  } catch (err) {
    process.stderr.write(`dockgate: not started: cannot open audit file ${config.audit.file}: ${(err as Error).message}\n`)
    return 1
  }
  for (const warning of policy.warnings) logger.warn(formatDiagnostic(warning))
  const gateway = await buildGateway({ listen: config.listen, upstream: config.upstream, tls: config.tls, policy, audit, logger, bodyBytes: config.limits.bodyBytes })
  try {
    const address = await gateway.listen()
    logger.info({ address: `${address.address}:${address.port}`, upstream: config.upstream.url, policy: config.policyFile, audit: config.audit.file }, 'dockgate listening')
    if (devClientDir !== null) process.stdout.write(`\nPoint the docker CLI at dockgate with the admin bundle:\n\n  ${exportLine(address.address, address.port, devClientDir)}\n\n`)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'EADDRINUSE' ? 'the port is already in use' : e.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : e.message
    process.stderr.write(`dockgate: not started: cannot listen on ${config.listen.host}:${config.listen.port}: ${why}\n`)
    await gateway.close()
    audit.close()
    return 1
  }
  const problem = await probeUpstream(config.upstream)
  if (problem !== null) logger.warn(`${problem}; requests will be answered 502 until it is up`)
  await untilSignalled()
  logger.info('dockgate stopping')
  await gateway.close()
  audit.close()
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
