/**
 * The order of CRLs from one CA, and what replacing the CRLs in use by
 * another set would do: roll revocations back (refused), or only add
 * revocations (applied even while the rest of a reload is refused).
 */
import type { Diagnostic } from '../shared/diagnostics.js'
import type { CrlFacts } from './crl.js'

/**
 * Refuses to roll revocations back: a reloaded CRL from the same CA that is
 * older than the newest one in use is a restored backup or a replayed file,
 * and would quietly un-revoke certificates. Older means a lower cRLNumber
 * when both carry one (clocks on CA hosts disagree; the number does not),
 * else an earlier thisUpdate. One message per such CRL; empty when `next`
 * is as new or newer.
 */
export function crlRollbacks (current: readonly CrlFacts[], next: readonly CrlFacts[]): Diagnostic[] {
  const inUse = newestByCa(current)
  const problems: Diagnostic[] = []
  for (const [ca, crl] of newestByCa(next)) {
    const previous = inUse.get(ca)
    if (previous === undefined || compareCrls(crl, previous) >= 0) continue
    problems.push({
      file: crl.file, line: 0, col: 0, code: 'DG_TLS_MATERIAL',
      message: `this CRL from ${crl.issuer} (${describeCrl(crl)}) is older than the one in use ` +
        `(${describeCrl(previous)}); an older CRL could un-revoke certificates, so it is not loaded ` +
        '(restart dockgate to load an older CRL on purpose)'
    })
  }
  return problems
}

/** What replacing the CRLs in use by another set would do; see {@link crlTightening}. */
export type CrlTightening =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'tightens'; readonly newlyRevoked: number }
  | { readonly kind: 'loosens'; readonly reason: string }

/**
 * Whether `next` only tightens `current`, so it can be applied even while
 * the rest of a reload is refused. Invariant: `tightens` only when, for
 * every CA with a CRL in use, `next` has one as new or newer
 * ({@link compareCrls}) and revokes at least every serial in use; anything
 * else (a rollback, a dropped serial, a CA left out) is `loosens`.
 */
export function crlTightening (current: readonly CrlFacts[], next: readonly CrlFacts[]): CrlTightening {
  const pems = (crls: readonly CrlFacts[]): string => crls.map((crl) => crl.pem).join('\n')
  if (pems(current) === pems(next)) return { kind: 'unchanged' }
  const loosened = olderOrMissing(current, next) ?? droppedSerials(current, next)
  if (loosened !== null) return { kind: 'loosens', reason: loosened }
  const inUse = serialsByCa(current)
  let added = 0
  for (const [ca, serials] of serialsByCa(next)) added += [...serials].filter((serial) => inUse.get(ca)?.has(serial) !== true).length
  return { kind: 'tightens', newlyRevoked: added }
}

function olderOrMissing (current: readonly CrlFacts[], next: readonly CrlFacts[]): string | null {
  const newest = newestByCa(next)
  for (const [ca, inUse] of newestByCa(current)) {
    const candidate = newest.get(ca)
    if (candidate === undefined) return `there is no CRL from ${inUse.issuer} any more`
    if (compareCrls(candidate, inUse) < 0) return `the CRL from ${inUse.issuer} is older than the one in use`
  }
  return null
}

function droppedSerials (current: readonly CrlFacts[], next: readonly CrlFacts[]): string | null {
  const kept = serialsByCa(next)
  for (const [ca, serials] of serialsByCa(current)) {
    const dropped = [...serials].filter((serial) => kept.get(ca)?.has(serial) !== true)
    if (dropped.length > 0) return `it no longer revokes ${dropped.join(', ')}`
  }
  return null
}

function serialsByCa (crls: readonly CrlFacts[]): Map<string, Set<string>> {
  const byCa = new Map<string, Set<string>>()
  for (const crl of crls) {
    const serials = byCa.get(crl.caFingerprint256) ?? new Set<string>()
    for (const serial of crl.revokedSerials) serials.add(serial)
    byCa.set(crl.caFingerprint256, serials)
  }
  return byCa
}

/**
 * Orders two CRLs of one CA: negative when `a` is older than `b`, 0 when
 * as new, positive when newer. By cRLNumber when both have one, because a
 * CRL signed on a host whose clock is behind can carry an earlier
 * thisUpdate and still be the newer list; by thisUpdate otherwise.
 */
export function compareCrls (a: CrlFacts, b: CrlFacts): number {
  if (a.crlNumber !== null && b.crlNumber !== null) return a.crlNumber < b.crlNumber ? -1 : a.crlNumber > b.crlNumber ? 1 : 0
  return a.thisUpdate.getTime() - b.thisUpdate.getTime()
}

function describeCrl (crl: CrlFacts): string {
  return (crl.crlNumber === null ? '' : `number ${crl.crlNumber}, `) + `issued ${crl.thisUpdate.toISOString()}`
}

function newestByCa (crls: readonly CrlFacts[]): Map<string, CrlFacts> {
  const newest = new Map<string, CrlFacts>()
  for (const crl of crls) {
    const seen = newest.get(crl.caFingerprint256)
    if (seen === undefined || compareCrls(seen, crl) < 0) newest.set(crl.caFingerprint256, crl)
  }
  return newest
}
