/**
 * `dockgate certs init|issue|revoke|list|crl|renew`: the command-line face
 * of src/certs, a small CA for teams. Parses flags strictly (an unknown or
 * misspelt flag is an error, never ignored), prints what was written and
 * how to use it, and maps failures to exit codes: 2 for usage and bad
 * values, 1 for everything else. Never prints a private key.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { CertInputError } from '../certs/errors.js'
import { shellQuote } from '../certs/shell.js'
import { DEFAULT_CERTS_DIR, DEFAULT_DAYS, initCertificates, issueClientBundle } from '../certs/store.js'
import { asUsageError, dirFlag, parseDays, UsageError, validityHours } from './certs-args.js'
import { runCrl, runList, runRenew, runRevoke } from './certs-manage.js'

const USAGE = `usage: dockgate certs init   [--dir ${DEFAULT_CERTS_DIR}] [--host NAME]... [--days N] [--ca-days N] [--force]
       dockgate certs issue  --cn NAME [--ou TEAM]... [--san-dns NAME]... [--san-uri URI]... [--san-email ADDR]...
                             [--days N | --hours N] [--dir ${DEFAULT_CERTS_DIR}]
       dockgate certs revoke (--cn NAME | --serial HEX) [--reason REASON] [--dir ${DEFAULT_CERTS_DIR}]
       dockgate certs list   [--expiring 7d] [--dir ${DEFAULT_CERTS_DIR}]
       dockgate certs crl    [--days N | --hours N] [--dir ${DEFAULT_CERTS_DIR}]
       dockgate certs renew  --cn NAME [--days N | --hours N] [--force] [--dir ${DEFAULT_CERTS_DIR}]
       dockgate certs renew  --server [--host NAME]... [--days N] [--dir ${DEFAULT_CERTS_DIR}]
`

const INIT_OPTIONS = {
  'dir': { type: 'string', default: DEFAULT_CERTS_DIR },
  'host': { type: 'string', multiple: true, default: [] as string[] },
  'days': { type: 'string' },
  'ca-days': { type: 'string' },
  'force': { type: 'boolean', default: false }
} as const

const ISSUE_OPTIONS = {
  'dir': { type: 'string', default: DEFAULT_CERTS_DIR },
  'cn': { type: 'string' },
  'ou': { type: 'string', multiple: true, default: [] as string[] },
  'san-dns': { type: 'string', multiple: true, default: [] as string[] },
  'san-uri': { type: 'string', multiple: true, default: [] as string[] },
  'san-email': { type: 'string', multiple: true, default: [] as string[] },
  'days': { type: 'string' },
  'hours': { type: 'string' }
} as const

type Subcommand = (args: string[]) => Promise<number>
const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = {
  init: runInit, issue: runIssue, revoke: runRevoke, list: runList, crl: runCrl, renew: runRenew
}

/**
 * Runs `dockgate certs ...` with the arguments after `certs`. Never throws:
 * returns 0 on success, 2 for usage errors (unknown flag, bad value, unsafe
 * name; usage printed to stderr) and 1 for other failures (existing or
 * missing CA, I/O errors), each reported on stderr as `dockgate: ...`.
 */
export async function runCertsCommand (argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv
  try {
    if (subcommand === 'help' || subcommand === '--help' || subcommand === '-h') {
      process.stdout.write(USAGE)
      return 0
    }
    const run = subcommand === undefined ? undefined : SUBCOMMANDS[subcommand]
    if (run === undefined) throw new UsageError(subcommand === undefined ? 'certs needs a subcommand' : `unknown certs subcommand '${subcommand}'`)
    return await run(rest)
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
  if (result.previousCaMovedTo !== null) {
    lines.push(`moved the previous CA (its key, index and CRL) to ${result.previousCaMovedTo}; nothing was deleted`,
      'replaced the previous CA: certificates it issued no longer work; reissue them with `dockgate certs issue`')
  }
  lines.push(`next: dockgate certs issue --cn NAME --ou TEAM${dirFlag(values.dir)}`)
  process.stdout.write(lines.join('\n') + '\n')
  return 0
}

async function runIssue (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: ISSUE_OPTIONS, strict: true, allowPositionals: false }))
  if (values.cn === undefined) throw new UsageError('certs issue needs --cn NAME')
  const hours = validityHours(values)
  const result = await issueClientBundle(values.dir, {
    cn: values.cn,
    ous: values.ou,
    days: DEFAULT_DAYS.client,
    ...(hours === undefined ? {} : { hours }),
    altNames: { dns: values['san-dns'], uri: values['san-uri'], email: values['san-email'] }
  })
  const subject = [`CN=${values.cn}`, ...values.ou.map((ou) => `OU=${ou}`)].join(', ')
  process.stdout.write([
    `${result.replaced ? 'replaced' : 'wrote'} client bundle ${result.paths.dir} (ca.pem, cert.pem, key.pem)`,
    `subject ${subject}, serial ${result.serialHex}, valid until ${result.validTo}`,
    ...(result.altNames.length > 0 ? [`subjectAltName ${result.altNames.join(', ')}`] : []),
    'to use it with the docker CLI:',
    `  export DOCKER_CERT_PATH=${shellQuote(resolve(result.paths.dir))}`,
    '  export DOCKER_TLS_VERIFY=1'
  ].join('\n') + '\n')
  return 0
}

function reportFailure (err: unknown): number {
  if (err instanceof UsageError || err instanceof CertInputError) {
    process.stderr.write(`dockgate: ${err.message}\n${USAGE}`)
    return 2
  }
  process.stderr.write(`dockgate: ${err instanceof Error ? err.message : String(err)}\n`)
  return 1
}
