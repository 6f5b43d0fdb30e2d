/**
 * `dockgate serve --check`: everything `serve` would check before
 * listening (config, TLS material, policy: done by loading), plus what
 * only shows at runtime: whether the audit files can be written, whether
 * each socket listener's folder is there and its path free, and whether
 * the daemon answers. Nothing is started or created.
 *
 * The daemon check is a warning, not an error: `serve` starts without a
 * daemon too (it may come up later), and `--check` is often run by another
 * user than the service's (root in CI, before `systemctl restart`).
 */
import { constants } from 'node:fs'
import { access, lstat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { continuationProblem } from '../audit/resume.js'
import { workerFile } from '../audit/rotation.js'
import { formatAdmin } from '../config/operations.js'
import { descriptorShortfall, openFilesLimit } from './descriptors.js'
import { probeUpstream } from '../proxy/probe.js'
import { formatDiagnostic } from '../shared/diagnostics.js'
import { expiryOf } from '../config/expiry.js'
import type { Settings } from '../reload/settings.js'
import { matchIdentity } from '../policy/index.js'
import { socketConnection } from '../gateway/connection.js'

/** The report: lines to print, problems (exit 1 when any), warnings. */
export interface CheckReport {
  readonly lines: readonly string[]
  readonly problems: readonly string[]
  readonly warnings: readonly string[]
}

/** Checks loaded settings; `listenFd` is the socket-activation descriptor, if any. */
export async function checkSettings (settings: Settings, listenFd: number | null): Promise<CheckReport> {
  const { config, policy } = settings
  const problems: string[] = []
  const warnings = policy.warnings.map(formatDiagnostic)
  const auditFiles = config.workers > 1
    ? Array.from({ length: config.workers }, (_, i) => workerFile(config.audit.file, i + 1))
    : [config.audit.file]
  for (const file of auditFiles) {
    const problem = await unwritable(file)
    if (problem !== null) problems.push(`${config.source ?? '<dev>'}: DG_FILE_UNREADABLE audit file ${file} cannot be written: ${problem}`)
    const unsealed = continuationProblem(file)
    if (unsealed !== null) problems.push(`${config.source ?? '<dev>'}: DG_AUDIT_MALFORMED ${unsealed}`)
  }
  // Sessions are recorded where the config or the policy sets level session: their folder must take files.
  const sessions = config.audit.sessions
  const recorded = config.audit.level === 'session' ||
    policy.compiledTeams.some((team) => team.audit?.level === 'session' || [...team.allow, ...team.deny].some((rule) => rule.ref.audit === 'session'))
  const sessionsProblem = recorded ? await unwritable(sessions.dir) : null
  if (sessionsProblem !== null) problems.push(`${config.source ?? '<dev>'}: DG_SESSION_UNRECORDED audit.sessions ${sessions.dir} cannot take recordings: ${sessionsProblem}; sessions at level session would be refused`)
  const shortfall = descriptorShortfall(config.limits, openFilesLimit())
  if (shortfall !== null) warnings.push(`warning: ${shortfall}`)
  const daemon = await probeUpstream(config.upstream, 2000)
  if (daemon !== null) warnings.push(`warning: ${daemon} (serve starts anyway and answers 502 until it is up)`)
  const limits = config.limits
  for (const socket of config.sockets) {
    const problem = await socketPlaceProblem(socket.path)
    if (problem !== null) problems.push(`${config.source ?? '<dev>'}: DG_BAD_VALUE sockets: ${problem}`)
    if (matchIdentity(policy, socketConnection(socket.identity, socket.path).principal) === null) {
      warnings.push(`warning: socket ${socket.path} has identity ${socket.identity}, which no identity in ${config.policyFile} matches: every request on it will be refused (add match: { socket: ${socket.identity} })`)
    }
  }
  const lines = [
    `dockgate: checked ${config.source ?? 'the development setup'}`,
    ...tlsLines(config, listenFd),
    ...config.sockets.map((socket) => `  socket    ${socket.path} as ${socket.identity}, mode ${socket.mode.toString(8).padStart(4, '0')}${socket.uid === null ? '' : `, owner ${socket.uid}`}${socket.gid === null ? '' : `, group ${socket.gid}`}`),
    `  upstream  ${config.upstream.url}${daemon === null ? ' (answers /_ping)' : ' (not answering, see the warning)'}`,
    `  policy    ${config.policyFile}: ${policy.teams.length} team(s), ${policy.identities.length} identity entr${policy.identities.length === 1 ? 'y' : 'ies'}`,
    `  audit     ${auditFiles.join(', ')}`,
    `  sessions  ${recorded ? `${sessions.dir} (level session: recordings up to ${sessions.maxBytes} bytes and ${sessions.maxSeconds} s, input ${sessions.input ? 'recorded' : 'not recorded'})` : 'not recorded (no level session in the config or policy)'}`,
    `  admin     ${config.admin === null ? 'off' : formatAdmin(config.admin)}`,
    `  limits    maxConnections ${limits.maxConnections}, connectionsPerIdentity ${limits.connectionsPerIdentity}, streamsPerIdentity ${limits.streamsPerIdentity}, ` +
      `requestsPerSecond ${limits.requestsPerSecond ?? 'unlimited'}${limits.requestsPerSecond === null ? '' : ` (burst ${limits.requestBurst})`}, ` +
      `headerBytes ${limits.headerBytes}, headersTimeoutSeconds ${limits.headersTimeoutSeconds}, bodyBytes ${limits.bodyBytes}, ` +
      `unverifiedConnections ${limits.unverifiedConnections}, unverifiedPerAddress ${limits.unverifiedPerAddress}`,
    `  shutdown  graceSeconds ${config.shutdown.graceSeconds}`,
    `  workers   ${config.workers}`
  ]
  return { lines, problems, warnings }
}

// The file if it exists, else the nearest folder that exists (serve creates the rest).
async function unwritable (file: string): Promise<string | null> {
  let path = file
  for (;;) {
    try {
      await access(path, constants.W_OK)
      return null
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      if (code !== 'ENOENT' || dirname(path) === path) return `${path} is not writable by this user (${code})`
      path = dirname(path)
    }
  }
}

// The TLS listener's lines, or that there is none.
function tlsLines (config: Settings['config'], listenFd: number | null): string[] {
  if (config.tls === null || config.listen === null) return ['  listen    none (no tls: section; only the socket listeners serve)']
  const server = expiryOf(config.tls, new Date()).find((item) => item.kind === 'server-cert')
  return [
    `  listen    ${listenFd === null ? `${config.listen.host}:${config.listen.port}` : `inherited socket (fd ${listenFd}, systemd socket activation)`}`,
    `  tls       server certificate ${server?.subject ?? '?'} valid until ${server?.at ?? '?'}; CRLs: ${config.tls.crls.length === 0 ? 'none (no revocation checking)' : config.tls.crlFiles.join(', ')}`
  ]
}

// What serve would refuse at the socket's path before trying: a missing or
// unwritable folder, or something there that is not a socket.
async function socketPlaceProblem (path: string): Promise<string | null> {
  const there = await lstat(path).catch(() => null)
  if (there !== null && !there.isSocket()) return `${path} exists and is not a socket; serve refuses to replace it`
  try {
    await access(dirname(path), constants.W_OK)
    return null
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    return code === 'ENOENT' ? `the folder ${dirname(path)} for ${path} does not exist` : `the folder ${dirname(path)} for ${path} is not writable by this user (${code})`
  }
}
