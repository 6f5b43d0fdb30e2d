/**
 * The team CA's day-to-day operations on top of the index: revoke, list,
 * regenerate the CRL, renew. Every change to the index happens under the
 * CA lock and every revocation republishes the CRL at once, so a gateway
 * watching `DIR/ca/crl.pem` applies it within one reload.
 */
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { CertInputError, CertStoreError } from './errors.js'
import { isSerialHex, normalizeSerial } from '../shared/serial.js'
import type { RevocationReason } from './crl.js'
import { readIndex, withCaLock, type IndexEntry } from './index-file.js'
import { CLOCK_SKEW_MS, issueServerCertificate } from './issue.js'
import { entryFor, fingerprintOf, publishCrl, recordIssued, republishCrl, type PublishedCrl } from './ledger.js'
import { certLayout, DEFAULT_DAYS, issueClientBundle, readCa, writeServer, type ClientBundleResult } from './store.js'

/** Which certificates to revoke: every unrevoked client certificate with this CN, or one serial. */
export type RevokeTarget = { readonly cn: string } | { readonly serial: string }

/** What `revoke` did. `unknownSerial`: the serial was not in the index and was revoked anyway. */
export interface RevokeResult {
  readonly revoked: readonly IndexEntry[]
  readonly alreadyRevoked: readonly IndexEntry[]
  readonly unknownSerial: boolean
  readonly crl: PublishedCrl
}

/**
 * Marks the target revoked in the index and publishes a new CRL. A serial
 * the index does not know (a certificate issued before the index existed,
 * or seen in the audit trail) is revoked too, and stays on the CRL.
 * Throws {@link CertInputError} for a bad serial or a CN with no certificate.
 */
export async function revokeCertificates (dir: string, target: RevokeTarget, reason: RevocationReason, hours: number, now = new Date()): Promise<RevokeResult> {
  if ('serial' in target && !isSerialHex(target.serial)) throw new CertInputError(`--serial '${target.serial}' is not a hex serial number`)
  const ca = await readCa(dir)
  const { caDir } = certLayout(dir)
  return await withCaLock(caDir, async () => {
    const index = await readIndex(caDir, fingerprintOf(ca))
    const matches = index.certificates.filter((entry) => 'cn' in target
      ? entry.kind === 'client' && entry.cn === target.cn
      : normalizeSerial(entry.serial) === normalizeSerial(target.serial))
    if (matches.length === 0 && 'cn' in target) {
      throw new CertInputError(`no client certificate with CN '${target.cn}' in the index; \`dockgate certs list\` shows them`)
    }
    const revocation = { at: now.toISOString(), reason }
    const toRevoke = new Set(matches.filter((entry) => entry.revoked === null))
    const unknown: IndexEntry[] = matches.length === 0 && 'serial' in target ? [unknownEntry(target.serial, revocation)] : []
    const certificates = [...index.certificates.map((entry) => toRevoke.has(entry) ? { ...entry, revoked: revocation } : entry), ...unknown]
    const crl = await publishCrl(caDir, ca, { ...index, certificates }, hours, now)
    return {
      revoked: [...[...toRevoke].map((entry) => ({ ...entry, revoked: revocation })), ...unknown],
      alreadyRevoked: matches.filter((entry) => entry.revoked !== null),
      unknownSerial: unknown.length > 0,
      crl
    }
  })
}

/** Publishes a fresh CRL valid for `hours` (what `dockgate certs crl` runs, e.g. from cron). */
export async function regenerateCrl (dir: string, hours: number, now = new Date()): Promise<PublishedCrl> {
  return await republishCrl(certLayout(dir).caDir, await readCa(dir), hours, now)
}

/** One row of `list`: the entry and its state at the time asked. */
export interface ListedCertificate {
  readonly entry: IndexEntry
  readonly status: 'valid' | 'expired' | 'revoked'
  /** Seconds until notAfter (negative when past); null for entries without one. */
  readonly secondsLeft: number | null
}

/**
 * Every certificate in the index, oldest first. With `expiringWithinSeconds`,
 * only valid (unrevoked, unexpired) certificates that expire within it.
 */
export async function listCertificates (dir: string, options: { expiringWithinSeconds?: number; now?: Date } = {}): Promise<ListedCertificate[]> {
  const ca = await readCa(dir)
  const now = (options.now ?? new Date()).getTime()
  const index = await readIndex(certLayout(dir).caDir, fingerprintOf(ca))
  const rows = index.certificates.map((entry): ListedCertificate => {
    const secondsLeft = entry.notAfter === null ? null : Math.floor((Date.parse(entry.notAfter) - now) / 1000)
    const status = entry.revoked !== null ? 'revoked' : secondsLeft !== null && secondsLeft <= 0 ? 'expired' : 'valid'
    return { entry, status, secondsLeft }
  })
  const within = options.expiringWithinSeconds
  if (within === undefined) return rows
  return rows.filter((row) => row.status === 'valid' && row.secondsLeft !== null && row.secondsLeft <= within)
}

/** How to renew: validity (the latest certificate's length unless given), and `force` to renew a revoked identity. */
export interface RenewOptions {
  readonly days?: number
  readonly hours?: number
  readonly force?: boolean
  readonly now?: Date
}

/**
 * Issues a new key and certificate for the client `cn` with the subject
 * and alternative names of its latest certificate, for the same length of
 * time unless told otherwise. The earlier certificate is left as it is
 * (valid until it expires or is revoked), so clients can switch over;
 * `previous` is its index entry. Throws {@link CertStoreError} when the
 * latest certificate is revoked and `force` is not set: renewing would
 * quietly give a revoked identity access again.
 */
export async function renewClient (dir: string, cn: string, options: RenewOptions = {}): Promise<ClientBundleResult & { previous: IndexEntry }> {
  const ca = await readCa(dir)
  const index = await readIndex(certLayout(dir).caDir, fingerprintOf(ca))
  const latest = index.certificates.filter((entry) => entry.kind === 'client' && entry.cn === cn).at(-1)
  if (latest === undefined) throw new CertInputError(`no client certificate with CN '${cn}' in the index; issue one with \`dockgate certs issue\``)
  if (latest.revoked !== null && options.force !== true) {
    throw new CertStoreError(`the latest certificate of '${cn}' (${latest.serial}) was revoked on ${latest.revoked.at} (${latest.revoked.reason}); ` +
      'renewing it would give that identity access again. If access should be restored, issue a certificate deliberately with ' +
      `\`dockgate certs issue --cn ${cn}${latest.ous.map((ou) => ` --ou ${ou}`).join('')}\` (or renew with --force)`)
  }
  const hours = options.hours ?? (options.days === undefined ? originalHours(latest) : undefined)
  const issued = await issueClientBundle(dir, {
    cn,
    ous: latest.ous,
    days: options.days ?? DEFAULT_DAYS.client,
    ...(hours === undefined ? {} : { hours }),
    altNames: { dns: latest.sanDns, uri: latest.sanUri, email: latest.sanEmail },
    ...(options.now === undefined ? {} : { now: options.now })
  })
  return { ...issued, previous: latest }
}

/** What `renew --server` wrote. */
export interface ServerRenewal {
  readonly written: readonly string[]
  readonly names: readonly string[]
  readonly serialHex: string
  readonly validTo: string
}

/**
 * Reissues the server certificate (new key) for `hosts`, or for the names
 * of the current server certificate when none are given. A gateway
 * watching the files serves it to new connections without a restart.
 */
export async function renewServer (dir: string, hosts: readonly string[], days: number, now = new Date()): Promise<ServerRenewal> {
  const layout = certLayout(dir)
  const ca = await readCa(dir)
  const names = hosts.length > 0 ? hosts : await currentServerNames(layout.serverCert)
  const server = issueServerCertificate(ca, { hosts: names, days, now })
  const written = await writeServer(layout, ca, server)
  const entry = entryFor('server', server.certPem, now)
  await recordIssued(layout.caDir, ca, [entry])
  return { written, names: [...entry.sanDns, ...entry.sanIp], serialHex: server.serialHex, validTo: new X509Certificate(server.certPem).validTo }
}

async function currentServerNames (certFile: string): Promise<string[]> {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(await readFile(certFile))
  } catch {
    throw new CertStoreError(`cannot read the server certificate ${certFile}; name the hosts with --host`)
  }
  return (cert.subjectAltName ?? '').split(', ')
    .map((san) => /^(?:DNS|IP Address):(.+)$/.exec(san)?.[1])
    .filter((name): name is string => name !== undefined)
}

// The validity the certificate was issued with: notAfter − notBefore, less
// the five minutes of backdating, in whole hours.
function originalHours (entry: IndexEntry): number | undefined {
  if (entry.notBefore === null || entry.notAfter === null) return undefined
  const hours = Math.round((Date.parse(entry.notAfter) - Date.parse(entry.notBefore) - CLOCK_SKEW_MS) / 3_600_000)
  return hours >= 1 ? hours : undefined
}

function unknownEntry (serial: string, revoked: IndexEntry['revoked']): IndexEntry {
  return {
    serial: normalizeSerial(serial), kind: 'unknown', cn: '', ous: [], sanDns: [], sanIp: [], sanUri: [], sanEmail: [],
    notBefore: null, notAfter: null, issuedAt: revoked?.at ?? new Date().toISOString(), revoked
  }
}
