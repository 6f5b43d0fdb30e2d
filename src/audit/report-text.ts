/**
 * The auditor's report as plain text (`dockgate audit report --text`): the
 * same figures as the page, for a terminal, a mail or a ticket. Pure.
 * Record texts are printed as JSON strings where they could hold control
 * characters (subjects, rule texts), so nothing from the trail can move a
 * terminal's cursor.
 */
import type { ReportPage } from './report-html.js'

const q = (s: string): string => (/^[\x20-\x7e]*$/.test(s) ? s : JSON.stringify(s))

/** The text summary. */
export function reportText (page: ReportPage): string {
  const { data, verdict } = page
  const out: string[] = []
  out.push(`dockgate audit report: ${data.first ?? '-'} to ${data.last ?? '-'} (${verdict.files.length} file(s))`)
  out.push(verdict.intact ? 'verdict: intact' : 'verdict: NOT VERIFIED: problems were found (below)')
  for (const line of verdict.text.trimEnd().split('\n')) out.push(`  ${line}`)
  out.push('')
  out.push(`records ${data.records}, requests ${data.requests}, refused ${data.refusals}, would be refused ${data.wouldRefuse}, TLS rejections ${data.tlsRejections}`)
  out.push('')
  out.push('per team:            requests   refused')
  const totals = new Map<string, { requests: number; refusals: number }>()
  for (const bucket of data.timeline.series()) {
    for (const [team, cell] of bucket.cells) {
      const t = totals.get(team) ?? { requests: 0, refusals: 0 }
      t.requests += cell.requests
      t.refusals += cell.refusals
      totals.set(team, t)
    }
  }
  for (const [team, t] of [...totals].sort((a, b) => b[1].requests - a[1].requests)) {
    out.push(`  ${q(team).padEnd(18)} ${String(t.requests).padStart(9)} ${String(t.refusals).padStart(9)}`)
  }
  out.push('')
  out.push('top refused rules:')
  for (const r of data.refusedRules.top(10)) out.push(`  ${String(r.count).padStart(7)}  ${q(r.meta.ref)}  ${q(r.meta.text)}  ${r.meta.code}`)
  out.push('top refused identities:')
  for (const r of data.refusedIdentities.top(10)) out.push(`  ${String(r.count).padStart(7)}  ${q(r.key)}  (${q(r.meta.teams)})`)
  out.push('')
  const revoked = data.certificates.filter((c) => c.revoked !== null || page.crlRevoked.has(c.serial.toUpperCase().replace(/^0+(?=.)/, '')))
  out.push(`certificates seen: ${data.certificates.length}, revoked: ${revoked.length}`)
  for (const c of revoked) out.push(`  revoked: ${q(c.subject)} serial ${c.serial}: ${c.revoked ?? page.crlRevoked.get(c.serial.toUpperCase().replace(/^0+(?=.)/, '')) ?? ''}`)
  const recorded = page.sessions.filter((s) => s.cast?.kind === 'ok').length
  const bad = page.sessions.filter((s) => s.cast?.kind === 'bad')
  out.push(`sessions: ${page.sessions.length} listed, ${recorded} with a playable recording`)
  for (const s of bad) out.push(`  recording problem: ${s.session.auditID}: ${s.cast?.kind === 'bad' ? s.cast.why : ''}`)
  out.push(`changes: ${data.changes.length}`)
  for (const c of data.changes) out.push(`  ${c.time}  ${c.what}: ${q(c.detail)}`)
  return out.join('\n') + '\n'
}
