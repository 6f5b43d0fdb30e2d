/**
 * `dockgate certs revoke|list|crl|renew`: running the team CA after `init`.
 * Same conventions as certs.ts (strict flags, UsageError for typing
 * mistakes); each prints what it changed and what a gateway does about it.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { listCertificates, regenerateCrl, renewClient, renewServer, revokeCertificates, type ListedCertificate, type RevokeTarget } from '../certs/authority.js'
import { REVOCATION_REASONS, type RevocationReason } from '../certs/crl.js'
import type { IndexEntry } from '../certs/index-file.js'
import { DEFAULT_CRL_HOURS, type PublishedCrl } from '../certs/ledger.js'
import { shellQuote } from '../certs/shell.js'
import { DEFAULT_CERTS_DIR, DEFAULT_DAYS } from '../certs/store.js'
import { asUsageError, dirFlag, parseDays, parseDuration, UsageError, validityHours } from './certs-args.js'

const DIR = { type: 'string', default: DEFAULT_CERTS_DIR } as const
const REVOKE_OPTIONS = { dir: DIR, cn: { type: 'string' }, serial: { type: 'string' }, reason: { type: 'string' } } as const
const LIST_OPTIONS = { dir: DIR, expiring: { type: 'string' } } as const
const CRL_OPTIONS = { dir: DIR, days: { type: 'string' }, hours: { type: 'string' } } as const
const RENEW_OPTIONS = {
  dir: DIR,
  cn: { type: 'string' },
  server: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  host: { type: 'string', multiple: true, default: [] as string[] },
  days: { type: 'string' },
  hours: { type: 'string' }
} as const

const WATCH_HINT = 'a gateway whose tls.crl names this file reloads it within a second (or on SIGHUP): ' +
  'it refuses these certificates at the handshake and closes their open connections'

/** `certs revoke (--cn NAME | --serial HEX) [--reason R]`: revoke and republish the CRL at once. */
export async function runRevoke (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: REVOKE_OPTIONS, strict: true, allowPositionals: false }))
  if ((values.cn === undefined) === (values.serial === undefined)) throw new UsageError('certs revoke needs exactly one of --cn NAME or --serial HEX')
  const target: RevokeTarget = values.cn !== undefined ? { cn: values.cn } : { serial: values.serial ?? '' }
  const result = await revokeCertificates(values.dir, target, parseReason(values.reason), DEFAULT_CRL_HOURS)
  const lines = [
    ...result.revoked.map((entry) => `revoked ${entry.serial} ${describe(entry)} (${entry.revoked?.reason ?? ''})`),
    ...result.alreadyRevoked.map((entry) => `already revoked: ${entry.serial} ${describe(entry)} on ${entry.revoked?.at ?? ''}`)
  ]
  if (result.unknownSerial) lines.push('that serial is not in the index (issued elsewhere or before the index existed); it is on the CRL now')
  lines.push(crlLine(result.crl), WATCH_HINT)
  process.stdout.write(lines.join('\n') + '\n')
  return 0
}

/** `certs list [--expiring 7d]`: one line per certificate in the index. */
export async function runList (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: LIST_OPTIONS, strict: true, allowPositionals: false }))
  const within = values.expiring === undefined ? undefined : parseDuration('--expiring', values.expiring)
  const rows = await listCertificates(values.dir, within === undefined ? {} : { expiringWithinSeconds: within })
  process.stdout.write(formatTable([
    ['SERIAL', 'KIND', 'SUBJECT', 'TEAMS', 'SANS', 'NOT AFTER', 'STATUS'],
    ...rows.map(listRow)
  ]))
  if (rows.length === 0) {
    process.stdout.write(within === undefined ? 'no certificates in the index\n' : `no valid certificate expires within ${values.expiring ?? ''}\n`)
  }
  return 0
}

/** `certs crl [--days N | --hours N]`: a fresh CRL (run it from cron well before nextUpdate). */
export async function runCrl (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: CRL_OPTIONS, strict: true, allowPositionals: false }))
  const crl = await regenerateCrl(values.dir, validityHours(values) ?? DEFAULT_CRL_HOURS)
  process.stdout.write(crlLine(crl) + '\n')
  return 0
}

/** `certs renew --cn NAME` or `certs renew --server`: new key and serial, same names. */
export async function runRenew (args: string[]): Promise<number> {
  const { values } = asUsageError(() => parseArgs({ args, options: RENEW_OPTIONS, strict: true, allowPositionals: false }))
  if (values.server === (values.cn !== undefined)) throw new UsageError('certs renew needs exactly one of --cn NAME or --server')
  if (values.force && values.server) throw new UsageError('--force is for renewing a revoked client identity (--cn NAME)')
  if (values.server) {
    if (values.hours !== undefined) throw new UsageError('--hours is for client certificates; give the server --days')
    const result = await renewServer(values.dir, values.host, parseDays('--days', values.days, DEFAULT_DAYS.server))
    process.stdout.write([
      ...result.written.map((path) => `wrote ${path}`),
      `server certificate ${result.serialHex} valid until ${result.validTo} for: ${result.names.join(', ')}`,
      'a gateway watching these files serves the new certificate to new connections; open ones keep theirs'
    ].join('\n') + '\n')
    return 0
  }
  const hours = validityHours(values)
  const result = await renewClient(values.dir, values.cn ?? '', { ...(hours === undefined ? {} : { hours }), force: values.force })
  process.stdout.write([
    `wrote client bundle ${result.paths.dir} (new key), serial ${result.serialHex}, valid until ${result.validTo}`,
    ...previousLines(result.previous, values.dir),
    `  export DOCKER_CERT_PATH=${shellQuote(resolve(result.paths.dir))}`
  ].join('\n') + '\n')
  return 0
}

// What became of the certificate renewed: only a valid one needs cutting off.
function previousLines (previous: IndexEntry, dir: string): string[] {
  if (previous.revoked !== null) {
    return [`the previous certificate ${previous.serial} stays revoked (since ${previous.revoked.at}, ${previous.revoked.reason}); ` +
      'the new one is not: --force gave this identity access again']
  }
  if (previous.notAfter !== null && Date.parse(previous.notAfter) <= Date.now()) {
    return [`the previous certificate ${previous.serial} expired on ${previous.notAfter}`]
  }
  return [
    `the previous certificate ${previous.serial} stays valid${previous.notAfter === null ? '' : ` until ${previous.notAfter}`} unless revoked; to cut it off now:`,
    `  dockgate certs revoke --serial ${previous.serial} --reason superseded${dirFlag(dir)}`
  ]
}

function parseReason (raw: string | undefined): RevocationReason {
  if (raw === undefined) return 'unspecified'
  if (Object.hasOwn(REVOCATION_REASONS, raw)) return raw as RevocationReason
  throw new UsageError(`--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}; got '${raw}'`)
}

function crlLine (crl: PublishedCrl): string {
  return `wrote ${crl.path}: CRL number ${crl.number}, ${crl.revoked} revoked, next update due ${crl.nextUpdate}`
}

function describe (entry: IndexEntry): string {
  if (entry.kind === 'unknown') return '(not in the index)'
  return [`CN=${entry.cn}`, ...entry.ous.map((ou) => `OU=${ou}`)].join(',')
}

function listRow (row: ListedCertificate): string[] {
  const { entry } = row
  const sans = [...entry.sanDns, ...entry.sanIp, ...entry.sanUri, ...entry.sanEmail]
  const status = row.status === 'revoked'
    ? `revoked ${entry.revoked?.at.slice(0, 10) ?? ''} (${entry.revoked?.reason ?? ''})`
    : row.status === 'expired' ? 'expired' : `valid, ${formatLeft(row.secondsLeft ?? 0)} left`
  return [entry.serial, entry.kind, entry.kind === 'unknown' ? '-' : `CN=${entry.cn}`, entry.ous.join(',') || '-',
    sans.join(',') || '-', entry.notAfter ?? '-', status]
}

function formatLeft (seconds: number): string {
  return seconds >= 2 * 86_400 ? `${Math.floor(seconds / 86_400)}d` : `${Math.max(0, Math.floor(seconds / 3600))}h`
}

function formatTable (rows: string[][]): string {
  const widths = rows[0]?.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length))) ?? []
  return rows.map((row) => row.map((cell, col) => col === row.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)).join('  ')).join('\n') + '\n'
}
