/**
 * Bookkeeping every issuing command shares: turning an issued certificate
 * into an index entry, adding it to the index, and publishing the CRL that
 * follows from the index. Kept apart from store.ts (files and layout) and
 * authority.ts (the revoke/list/renew commands) so both can use it.
 */
import { X509Certificate } from 'node:crypto'
import { join } from 'node:path'
import { issueCrl } from './crl.js'
import { PUBLIC_FILE_MODE, writeFileAtomic } from './files.js'
import { emptyIndex, indexPath, readIndex, withCaLock, writeIndex, type CertIndex, type EntryKind, type IndexEntry } from './index-file.js'
import type { Ca } from './issue.js'

/** Default CRL lifetime: a month. `dockgate certs crl` from cron (weekly) keeps it fresh. */
export const DEFAULT_CRL_HOURS = 30 * 24
const HOUR_MS = 60 * 60 * 1000
// Revoked certificates stay listed a day past expiry, for gateways whose clocks lag.
const EXPIRED_ENTRY_GRACE_MS = 24 * HOUR_MS

/** `DIR/ca/crl.pem`: where the CRL is published, next to the CA. */
export function crlPath (caDir: string): string {
  return join(caDir, 'crl.pem')
}

/** The index entry for a certificate just issued; names come from the certificate itself. */
export function entryFor (kind: Exclude<EntryKind, 'unknown'>, certPem: string, now: Date): IndexEntry {
  const cert = new X509Certificate(certPem)
  const subject = (cert.toLegacyObject().subject ?? {}) as unknown as Record<string, string | string[] | undefined>
  const list = (value: string | string[] | undefined): string[] => value === undefined ? [] : Array.isArray(value) ? value : [value]
  const sans = (cert.subjectAltName ?? '').split(', ').filter((s) => s !== '')
  const sanOf = (type: string): string[] => sans.filter((s) => s.startsWith(`${type}:`)).map((s) => s.slice(type.length + 1))
  return {
    serial: cert.serialNumber.toUpperCase(),
    kind,
    cn: list(subject.CN)[0] ?? '',
    ous: list(subject.OU),
    sanDns: sanOf('DNS'),
    sanIp: sanOf('IP Address'),
    sanUri: sanOf('URI'),
    sanEmail: sanOf('email'),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    issuedAt: now.toISOString(),
    revoked: null
  }
}

/** Adds `entries` to the index of `ca`, under the CA lock. */
export async function recordIssued (caDir: string, ca: Ca, entries: readonly IndexEntry[]): Promise<void> {
  await withCaLock(caDir, async () => {
    const index = await readIndex(caDir, fingerprintOf(ca))
    await writeIndex(caDir, { ...index, certificates: [...index.certificates, ...entries] })
  })
}

/** A published CRL: where, its number, how many it revokes, and when it goes stale. */
export interface PublishedCrl {
  readonly path: string
  readonly number: number
  readonly revoked: number
  readonly nextUpdate: string
}

/**
 * Writes a new CRL from `index` (the caller holds the CA lock) and the
 * index with its CRL number bumped. Revoked certificates that expired more
 * than a day ago are left out: they are refused as expired anyway, and
 * short-lived certificates would otherwise grow the list forever.
 */
export async function publishCrl (caDir: string, ca: Ca, index: CertIndex, hours: number, now: Date): Promise<PublishedCrl> {
  const listed = index.certificates.filter((entry) => entry.revoked !== null &&
    (entry.notAfter === null || Date.parse(entry.notAfter) + EXPIRED_ENTRY_GRACE_MS > now.getTime()))
  const number = index.crlNumber + 1
  const nextUpdate = new Date(now.getTime() + hours * HOUR_MS)
  const pem = issueCrl(ca, {
    revoked: listed.map((entry) => ({
      serialHex: entry.serial,
      revokedAt: new Date(entry.revoked?.at ?? now),
      reason: entry.revoked?.reason ?? 'unspecified'
    })),
    number,
    nextUpdate,
    now
  })
  // Index first: a CRL number is never reused, even if writing the CRL fails.
  await writeIndex(caDir, { ...index, crlNumber: number })
  await writeFileAtomic(crlPath(caDir), pem, PUBLIC_FILE_MODE)
  return { path: crlPath(caDir), number, revoked: listed.length, nextUpdate: nextUpdate.toISOString() }
}

/**
 * A new CA's index (holding `serverCertPem`'s entry, if given) and its first,
 * empty CRL, so `tls.crl` can be configured from the start. Replaces any
 * index of an earlier CA, which no longer means anything. Returns the paths.
 */
export async function startLedger (caDir: string, ca: Ca, serverCertPem: string | null, now: Date): Promise<string[]> {
  const index = { ...emptyIndex(fingerprintOf(ca)), certificates: serverCertPem === null ? [] : [entryFor('server', serverCertPem, now)] }
  await withCaLock(caDir, async () => {
    await writeIndex(caDir, index)
    await publishCrl(caDir, ca, index, DEFAULT_CRL_HOURS, now)
  })
  return [indexPath(caDir), crlPath(caDir)]
}

/** Publishes a fresh CRL from the current index (under the CA lock), valid for `hours`. */
export async function republishCrl (caDir: string, ca: Ca, hours: number, now: Date): Promise<PublishedCrl> {
  return await withCaLock(caDir, async () => await publishCrl(caDir, ca, await readIndex(caDir, fingerprintOf(ca)), hours, now))
}

/** The SHA-256 fingerprint an index is bound to. */
export function fingerprintOf (ca: Ca): string {
  return new X509Certificate(ca.certPem).fingerprint256
}
