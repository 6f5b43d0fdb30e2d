/**
 * When the gateway's own material runs out: the server certificate, each
 * CA in `tls.ca`, and each CRL's nextUpdate. `expiryOf` gives the numbers
 * (for logs now and for metrics later); `describeExpiry` the log line and
 * level a person should see, naming the command that fixes it.
 */
import { X509Certificate } from 'node:crypto'
import type { TlsConfig } from './load.js'
import { caCertificates } from './tls-material.js'

/** Warnings start this long before anything expires. */
export const EXPIRY_WARNING_SECONDS = 14 * 24 * 60 * 60

/** One expiring thing. `secondsLeft` is negative once it has expired, null when it never does. */
export interface ExpiryItem {
  readonly kind: 'server-cert' | 'ca' | 'crl'
  readonly file: string
  /** Whose it is: the certificate subject, or the CRL's issuing CA. */
  readonly subject: string
  /** ISO time of notAfter (certificates) or nextUpdate (CRLs); null for a CRL without nextUpdate. */
  readonly at: string | null
  readonly secondsLeft: number | null
  /** For CRLs: how many certificates it revokes. */
  readonly revoked?: number
}

/** The state of an item for logging: fine, within the warning window, or past it. */
export type ExpiryLevel = 'ok' | 'warn' | 'expired'

/**
 * Every expiry of `tls` as seen at `now`. Pure; cheap enough to call per
 * metrics scrape. Order: server certificate, CAs in file order, CRLs.
 */
export function expiryOf (tls: TlsConfig, now: Date): ExpiryItem[] {
  const left = (at: Date): number => Math.floor((at.getTime() - now.getTime()) / 1000)
  const cert = (kind: 'server-cert' | 'ca', file: string, x509: X509Certificate): ExpiryItem => {
    const at = new Date(x509.validTo)
    return { kind, file, subject: oneLine(x509.subject), at: at.toISOString(), secondsLeft: left(at) }
  }
  return [
    cert('server-cert', tls.certFile, new X509Certificate(tls.cert)),
    ...caCertificates(tls.ca).map((ca) => cert('ca', tls.caFile, ca)),
    ...tls.crls.map((crl): ExpiryItem => ({
      kind: 'crl',
      file: crl.file,
      subject: crl.issuer,
      at: crl.nextUpdate?.toISOString() ?? null,
      secondsLeft: crl.nextUpdate === null ? null : left(crl.nextUpdate),
      revoked: crl.revokedSerials.length
    }))
  ]
}

/** Where `item` stands against {@link EXPIRY_WARNING_SECONDS}. */
export function expiryLevel (item: ExpiryItem): ExpiryLevel {
  if (item.secondsLeft === null || item.secondsLeft > EXPIRY_WARNING_SECONDS) return 'ok'
  return item.secondsLeft > 0 ? 'warn' : 'expired'
}

/** The log line for `item`; warnings and errors say what to run. */
export function describeExpiry (item: ExpiryItem): string {
  const level = expiryLevel(item)
  const when = item.at === null ? 'never' : item.at
  const days = item.secondsLeft === null ? '' : ` (${formatDays(Math.abs(item.secondsLeft))}${item.secondsLeft < 0 ? ' ago' : ''})`
  switch (item.kind) {
    case 'server-cert':
      if (level === 'ok') return `server certificate ${item.file} (${item.subject}) valid until ${when}${days}`
      return `server certificate ${item.file} ${level === 'warn' ? 'expires' : 'expired'} ${when}${days}; ` +
        (level === 'expired' ? 'clients refuse to connect; ' : '') + 'run `dockgate certs renew --server` (dockgate reloads it)'
    case 'ca':
      if (level === 'ok') return `CA ${item.file} (${item.subject}) valid until ${when}${days}`
      return `CA ${item.subject} in ${item.file} ${level === 'warn' ? 'expires' : 'expired'} ${when}${days}; ` +
        'every certificate it issued stops working with it: create a new CA with `dockgate certs init --force` and reissue'
    case 'crl':
      if (level === 'ok') return `CRL ${item.file} from ${item.subject}: ${item.revoked ?? 0} revoked, next update due ${when}${days}`
      if (level === 'warn') return `CRL ${item.file} from ${item.subject} goes stale ${when}${days}; run \`dockgate certs crl\` before then`
      return `CRL ${item.file} from ${item.subject} is stale since ${when}${days}: dockgate still refuses the ` +
        `${item.revoked ?? 0} certificate(s) it revokes, but the TLS handshake no longer checks it; run \`dockgate certs crl\` now`
  }
}

function formatDays (seconds: number): string {
  const days = seconds / 86_400
  if (days >= 2) return `${Math.floor(days)} days`
  const hours = seconds / 3600
  return hours >= 2 ? `${Math.floor(hours)} hours` : `${Math.floor(seconds / 60)} minutes`
}

function oneLine (subject: string): string {
  return subject.split('\n').reverse().join(',')
}
