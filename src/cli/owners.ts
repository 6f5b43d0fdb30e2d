/**
 * `dockgate owners list|orphans`: who owns what on the daemon, read over
 * its socket the way the gateway's owner index reads it (the
 * `dockgate.owner` label is the truth). `orphans` lists the containers,
 * volumes and networks no team owns: made before dockgate, directly on the
 * socket, or by an admin team. Only admin teams see them through dockgate;
 * docs/isolation.md says how to hand one to a team.
 *
 * Exit codes: 0 (for `orphans`: none found), 1 orphans found, 2 usage or
 * the daemon cannot be read.
 */
import { parseArgs } from 'node:util'
import { loadConfigFile } from '../config/load.js'
import { parseUpstream } from '../config/address.js'
import { formatDiagnostic } from '../shared/diagnostics.js'
import { OwnerIndex, type ObjectKind } from '../ownership/index.js'

const USAGE = `usage: dockgate owners list    [--config FILE | --upstream unix:///PATH] [--json]
       dockgate owners orphans [--config FILE | --upstream unix:///PATH] [--json]

list     every container, volume, network and image with its owner (the
         dockgate.owner label); images without one are shared by all teams
orphans  containers, volumes and networks without an owner: only admin teams
         see them through dockgate (exit 1 when there are any, for cron and CI)
The daemon is the config's upstream (--config, else $DOCKGATE_CONFIG, else
/etc/dockgate/dockgate.yaml), or --upstream.
`

/** Networks the daemon makes itself; nobody owns them, and they are not orphans. */
const PREDEFINED_NETWORKS = new Set(['bridge', 'host', 'none'])
const KINDS: readonly Exclude<ObjectKind, 'exec'>[] = ['container', 'volume', 'network', 'image']

/** One row of the listing. */
interface Row { readonly kind: string; readonly id: string; readonly name: string; readonly owner: string | null }

/** Runs `dockgate owners ...` with the arguments after `owners`; resolves with the exit code. */
export async function runOwnersCommand (argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv
  if (subcommand !== 'list' && subcommand !== 'orphans') {
    const help = subcommand === 'help' || subcommand === '--help' || subcommand === '-h'
    ;(help ? process.stdout : process.stderr).write(help ? USAGE : `dockgate: ${subcommand === undefined ? 'owners needs a subcommand' : `unknown owners subcommand '${subcommand}'`}\n${USAGE}`)
    return help ? 0 : 2
  }
  let values
  try {
    values = parseArgs({ args: rest, options: { config: { type: 'string' }, upstream: { type: 'string' }, json: { type: 'boolean' } }, strict: true }).values
  } catch (err) {
    process.stderr.write(`dockgate: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const socketPath = await daemonSocket(values.upstream, values.config)
  if (typeof socketPath !== 'string') {
    process.stderr.write(socketPath.problem)
    return 2
  }
  let problem: string | null = null
  let failed = (): void => {}
  const failure = new Promise<void>((resolve) => { failed = resolve })
  // The index retries a daemon it cannot reach; a command stops at the first problem instead.
  const index = new OwnerIndex({ socketPath, relistMs: 0, onProblem: (message) => { problem ??= message; failed() } })
  await Promise.race([index.ready, failure])
  await index.close()
  const unreadable = problem as string | null
  if (unreadable !== null) {
    process.stderr.write(`dockgate: cannot read the daemon at unix://${socketPath}: ${unreadable.replace(/; retrying in \d+ ms$/, '')}\n`)
    return 2
  }
  const rows = KINDS.flatMap((kind) => index.objects(kind).map((object): Row => ({ kind, id: object.id, name: displayName(kind, object.names), owner: object.owner })))
  const shown = subcommand === 'list' ? rows : rows.filter(isOrphan)
  process.stdout.write(values.json === true ? `${JSON.stringify(shown, null, 2)}\n` : table(shown))
  return subcommand === 'orphans' && shown.length > 0 ? 1 : 0
}

function isOrphan (row: Row): boolean {
  return row.owner === null && row.kind !== 'image' && !(row.kind === 'network' && PREDEFINED_NETWORKS.has(row.name))
}

function displayName (kind: string, names: readonly string[]): string {
  const [first = ''] = names
  return kind === 'container' ? first.replace(/^\//, '') : first
}

function table (rows: readonly Row[]): string {
  if (rows.length === 0) return '(none)\n'
  const lines = rows.map((row) => [row.kind, row.kind === 'volume' ? row.id : row.id.replace(/^sha256:/, '').slice(0, 12), row.name, row.owner ?? '-'])
  const all = [['KIND', 'ID', 'NAME', 'OWNER'], ...lines]
  const widths = [0, 1, 2].map((i) => Math.max(...all.map((line) => (line[i] ?? '').length)))
  return all.map((line) => line.map((cell, i) => i < 3 ? cell.padEnd(widths[i] ?? 0) : cell).join('  ')).join('\n') + '\n'
}

async function daemonSocket (upstream: string | undefined, config: string | undefined): Promise<string | { problem: string }> {
  if (upstream !== undefined) {
    const parsed = parseUpstream(upstream)
    return typeof parsed === 'string' ? { problem: `dockgate: --upstream ${parsed}\n` } : parsed.socketPath
  }
  const file = config ?? process.env.DOCKGATE_CONFIG ?? '/etc/dockgate/dockgate.yaml'
  const loaded = await loadConfigFile(file)
  if (!loaded.ok) return { problem: loaded.diagnostics.map((d) => `${formatDiagnostic(d)}\n`).join('') }
  return loaded.value.upstream.socketPath
}
