/**
 * `dockgate certs init|issue`: the command-line face of src/certs. Parses
 * flags strictly (an unknown or misspelt flag is an error, never ignored),
 * prints what was written and how to use it, and maps failures to exit
 * codes: 2 for usage and bad values, 1 for everything else.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CertInputError } from '../certs/errors.js'
import { MAX_DAYS } from '../certs/issue.js'
import { shellQuote } from '../certs/shell.js'
import { DEFAULT_CERTS_DIR, DEFAULT_DAYS, initCertificates, issueClientBundle } from '../certs/store.js'

const USAGE = `usage: dockgate certs init  [--dir ${DEFAULT_CERTS_DIR}] [--host NAME]... [--days N] [--ca-days N] [--force]
       dockgate certs issue --cn NAME [--ou TEAM]... [--dir ${DEFAULT_CERTS_DIR}] [--days N]
`

/** Bad command-line usage; reported with the usage text and exit code 2. */
class UsageError extends Error {}

const INIT_OPTIONS = {
  'dir': { type: 'string', default: DEFAULT_CERTS_DIR },
  'host': { type: 'string', multiple: true, default: [] as string[] },
  'days': { type: 'string' },
  'ca-days': { type: 'string' },
  'force': { type: 'boolean', default: false }
} as const

const ISSUE_OPTIONS = {
  dir: { type: 'string', default: DEFAULT_CERTS_DIR },
  cn: { type: 'string' },
  ou: { type: 'string', multiple: true, default: [] as string[] },
  days: { type: 'string' }
} as const

/**
 * Runs `dockgate certs ...` with the arguments after `certs`. Never throws:
 * returns 0 on success, 2 for usage errors (unknown flag, bad value, unsafe
 * name; usage printed to stderr) and 1 for other failures (existing or
 * missing CA, I/O errors), each reported on stderr as `dockgate: ...`.
 */
export async function runCertsCommand (argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv
  try {
    switch (subcommand) {
      case 'init': return await runInit(rest)
      case 'issue': return await runIssue(rest)
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE)
        return 0
      default:
        throw new UsageError(subcommand === undefined ? 'certs needs a subcommand' : `unknown certs subcommand '${subcommand}'`)
    }
  } catch (err) {
    return reportFailure(err)
  }
}

async function runInit (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: INIT_OPTIONS, strict: true, allowPositionals: false }))
  const result = await initCertificates(values.dir, {
    hosts: values.host,
    days: parseDays('--days', values.days, DEFAULT_DAYS.server),
    caDays: parseDays('--ca-days', values['ca-days'], DEFAULT_DAYS.ca),
    force: values.force
  })
  const lines = [
    ...result.written.map((path) => `wrote ${path}`),
    `CA valid until ${result.caValidTo}`,
    `server certificate valid until ${result.serverValidTo} for: ${result.serverNames.join(', ')}`
  ]
  if (result.replacedCa) {
    lines.push('replaced the previous CA: certificates it issued no longer work; reissue them with `dockgate certs issue`')
  }
  lines.push(`next: dockgate certs issue --cn NAME --ou TEAM${dirFlag(values.dir)}`)
  process.stdout.write(lines.join('\n') + '\n')
  return 0
}

async function runIssue (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: ISSUE_OPTIONS, strict: true, allowPositionals: false }))
  if (values.cn === undefined) throw new UsageError('certs issue needs --cn NAME')
  const result = await issueClientBundle(values.dir, {
    cn: values.cn,
    ous: values.ou,
    days: parseDays('--days', values.days, DEFAULT_DAYS.client)
  })
  const subject = [`CN=${values.cn}`, ...values.ou.map((ou) => `OU=${ou}`)].join(', ')
  process.stdout.write([
    `${result.replaced ? 'replaced' : 'wrote'} client bundle ${result.paths.dir} (ca.pem, cert.pem, key.pem)`,
    `subject ${subject}, serial ${result.serialHex}, valid until ${result.validTo}`,
    'to use it with the docker CLI:',
    `  export DOCKER_CERT_PATH=${shellQuote(resolve(result.paths.dir))}`,
    '  export DOCKER_TLS_VERIFY=1'
  ].join('\n') + '\n')
  return 0
}

// parseArgs throws TypeErrors for unknown flags, missing values and stray
// positionals; all of those are the caller's typing, so usage errors.
function asUsageError<T> (parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
}

function parseDays (flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const days = /^[1-9][0-9]*$/.test(raw) ? Number(raw) : Number.NaN
  if (!(days <= MAX_DAYS)) throw new UsageError(`${flag} must be a positive integer of at most ${MAX_DAYS}, got '${raw}'`)
  return days
}

function reportFailure (err: unknown): number {
  if (err instanceof UsageError || err instanceof CertInputError) {
    process.stderr.write(`dockgate: ${err.message}\n${USAGE}`)
    return 2
  }
  process.stderr.write(`dockgate: ${err instanceof Error ? err.message : String(err)}\n`)
  return 1
}

function dirFlag (dir: string): string {
  return dir === DEFAULT_CERTS_DIR ? '' : ` --dir ${shellQuote(dir)}`
}
