/**
 * The auditor's report as one self-contained HTML page: inline CSS, one
 * inline script (the recording player), inline SVG charts, and nothing
 * fetched from anywhere. Pure.
 *
 * Invariants: every text from the trail (subjects, rule texts, targets,
 * recordings) reaches the page escaped ({@link escapeHtml}) or as JSON in a
 * `<script type="application/json">` element with `<`, `>`, `&` and the
 * line separators escaped, so no record can close an element or start a
 * script; and the page's Content-Security-Policy allows only its own
 * style sheet and script (by SHA-256), no connections, no other sources.
 */
import { createHash } from 'node:crypto'
import type { CastCheck } from './cast.js'
import { REPORT_CSS, REPORT_JS } from './report-assets.js'
import { escapeHtml, teamCharts } from './report-charts.js'
import type { CertificateSeen, ReportData, Session } from './report-data.js'

/** The verification verdict shown at the top. */
export interface ReportVerdict {
  readonly intact: boolean
  /** `audit verify`'s own text for these files. */
  readonly text: string
  readonly files: readonly string[]
}

/** A session with its recording checked (null: the record names none). */
export interface ShownSession {
  readonly session: Session
  readonly cast: CastCheck | null
}

/** Everything the page shows. */
export interface ReportPage {
  readonly data: ReportData
  readonly verdict: ReportVerdict
  readonly sessions: readonly ShownSession[]
  /** Serial (normalised) to why the certs store says it is revoked, from the config's CRLs; empty without --config. */
  readonly crlRevoked: ReadonlyMap<string, string>
  readonly generatedAt: string
}

const e = escapeHtml
const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`

/** JSON text safe inside a `<script>` element: nothing in it can end the element. */
export function scriptJson (value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/** The whole page. */
export function reportHtml (page: ReportPage): string {
  const { data, verdict } = page
  const csp = `default-src 'none'; script-src ${hash(REPORT_JS)}; style-src ${hash(REPORT_CSS)}; img-src data:; base-uri 'none'; form-action 'none'`
  const period = `${data.window.since === null ? (data.first ?? '-') : new Date(data.window.since).toISOString()} to ${data.window.until === null ? (data.last ?? '-') : new Date(data.window.until).toISOString()}`
  return '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${e(csp)}">` +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>dockgate audit report</title>' +
    `<style>${REPORT_CSS}</style></head><body><main>` +
    `<h1>dockgate audit report</h1><p class="sub">${e(period)} · ${verdict.files.length} file(s) · generated ${e(page.generatedAt)}</p>` +
    verdictBox(verdict) + tiles(data, page) +
    `<h2 id="over-time">Requests and refusals over time, per team</h2>${teamCharts(data.timeline)}` +
    refusedSection(data) + certificatesSection(data.certificates, data.certificatesLeftOut, page.crlRevoked) +
    sessionsSection(page.sessions, data.sessionsLeftOut) + changesSection(data) +
    `</main><script>${REPORT_JS}</script></body></html>\n`
}

function verdictBox (verdict: ReportVerdict): string {
  const head = verdict.intact
    ? 'Trail verified: intact. No record is missing, edited or reordered between each chain\'s first record and its head.'
    : 'Trail NOT verified: problems were found. Do not rely on the figures below until they are explained.'
  return `<section id="verdict" class="verdict ${verdict.intact ? 'ok' : 'bad'}" data-intact="${String(verdict.intact)}"><strong>${e(head)}</strong>` +
    `<pre>${e(verdict.text)}</pre><p class="note">Files: ${verdict.files.map((f) => `<code>${e(f)}</code>`).join(', ')}</p></section>`
}

function tiles (data: ReportData, page: ReportPage): string {
  const recorded = page.sessions.filter((s) => s.cast?.kind === 'ok').length
  const tile = (id: string, n: number, label: string): string => `<div class="tile" id="${id}"><b>${n}</b><span>${e(label)}</span></div>`
  return '<div class="tiles">' + tile('t-records', data.records, 'records in period') + tile('t-requests', data.requests, 'requests') +
    tile('t-refused', data.refusals, 'refused') + tile('t-would', data.wouldRefuse, 'would be refused (dry-run)') +
    tile('t-tls', data.tlsRejections, 'TLS rejections') + tile('t-certs', data.certificates.length + data.certificatesLeftOut, 'certificates seen') +
    tile('t-sessions', page.sessions.length, 'sessions listed') + tile('t-recorded', recorded, 'recordings playable') + '</div>' +
    (data.suppressedRefusals > 0 ? `<p class="note">${data.suppressedRefusals} further refusal(s) by limits were counted in Suppressed records, not written one by one.</p>` : '')
}

function refusedSection (data: ReportData): string {
  const approx = (c: { approximate: boolean }): string => (c.approximate ? '<p class="note">Approximate: the trail has more distinct values than the report keeps; the counts of the least frequent ones may be missing.</p>' : '')
  const rules = data.refusedRules.top(20).map((r) => `<tr><td class="n">${r.count}</td><td class="mono">${e(r.meta.ref)}</td><td class="mono">${e(r.meta.text)}</td><td class="mono">${e(r.meta.code)}</td></tr>`).join('')
  const ids = data.refusedIdentities.top(20).map((r) => `<tr><td class="n">${r.count}</td><td class="mono">${e(r.key)}</td><td>${e(r.meta.teams)}</td></tr>`).join('')
  const codes = data.refusalCodes.top(30).map((r) => `<tr><td class="n">${r.count}</td><td class="mono">${e(r.key)}</td></tr>`).join('')
  const none = '<tr><td colspan="4" class="note">none</td></tr>'
  return '<h2 id="refused">Top refused rules and identities</h2>' +
    `<table id="refused-rules"><tr><th>refused</th><th>rule</th><th>text</th><th>code</th></tr>${rules || none}</table>${approx(data.refusedRules)}` +
    `<h3>Identities refused most</h3><table id="refused-identities"><tr><th>refused</th><th>identity</th><th>teams</th></tr>${ids || none}</table>${approx(data.refusedIdentities)}` +
    `<h3>Refusals by code</h3><table id="refusal-codes"><tr><th>refused</th><th>code</th></tr>${codes || none}</table>`
}

function certificatesSection (certs: readonly CertificateSeen[], leftOut: number, crl: ReadonlyMap<string, string>): string {
  const serialKey = (s: string): string => s.toUpperCase().replace(/^0+(?=.)/, '')
  const rows = certs.map((c) => {
    const revoked = [c.revoked, crl.get(serialKey(c.serial)) ?? null].filter((x): x is string => x !== null)
    return `<tr class="${revoked.length > 0 ? 'revoked' : ''}"><td class="mono">${e(c.subject)}</td><td class="mono">${e(c.serial)}</td><td class="mono">${e(c.issuer)}</td>` +
      `<td>${e(c.teams.join(', '))}</td><td>${e(c.first)}</td><td>${e(c.last)}</td><td class="n">${c.requests}</td><td class="n">${c.refusals}</td>` +
      `<td class="${revoked.length > 0 ? 'warn' : ''}">${revoked.length > 0 ? e(revoked.join('; ')) : 'no'}</td></tr>`
  }).join('')
  const revokedCount = certs.filter((c) => c.revoked !== null || crl.has(serialKey(c.serial))).length
  return `<h2 id="certificates">Certificates seen and revoked</h2><p class="note"><span id="certs-revoked">${revokedCount}</span> of ${certs.length} certificate(s) seen are revoked` +
    `${crl.size > 0 ? ' (by the trail or by the configured CRLs)' : ' (by the trail; give --config to check the CRLs too)'}.</p>` +
    `<table id="certificates-table"><tr><th>subject</th><th>serial</th><th>issuer</th><th>teams</th><th>first seen</th><th>last seen</th><th>requests</th><th>refused</th><th>revoked</th></tr>` +
    `${rows || '<tr><td colspan="9" class="note">none</td></tr>'}</table>` +
    (leftOut > 0 ? `<p class="note">${leftOut} request(s) of further certificates are not listed (the report lists at most 5000).</p>` : '')
}

function sessionsSection (sessions: readonly ShownSession[], leftOut: number): string {
  const head = '<h2 id="sessions">Sessions and recordings</h2>'
  if (sessions.length === 0) return `${head}<p class="note" id="no-sessions">No hijacked sessions (exec, attach, run -i) in this period.</p>`
  const rows = sessions.map((s, i) => sessionRow(s, i)).join('')
  return head + `<table id="sessions-table"><tr><th>time</th><th>identity</th><th>team</th><th>request</th><th>open</th><th>bytes in / out</th><th>recording</th></tr>${rows}</table>` +
    (leftOut > 0 ? `<p class="note">${leftOut} older session(s) are not listed (the report lists at most 500).</p>` : '')
}

function sessionRow ({ session: s, cast }: ShownSession, i: number): string {
  const open = s.sessionMs === null ? '-' : `${(s.sessionMs / 1000).toFixed(1)} s`
  const cells = `<td>${e(s.time)}</td><td class="mono">${e(s.who)}</td><td>${e(s.team)}</td><td class="mono">${e(s.target)}<br><span class="note">${e(s.auditID)}</span></td>` +
    `<td class="n">${open}</td><td class="n">${s.bytesIn} / ${s.bytesOut}</td>`
  if (cast === null || s.recording === null) return `<tr>${cells}<td class="note">not recorded</td></tr>`
  const facts = `${s.recording.bytes} bytes, SHA-256 ${s.recording.sha256.slice(0, 12)}…${s.recording.truncated === null ? '' : `, cut short (${s.recording.truncated} cap)`}${s.recording.input ? ', input recorded' : ''}`
  if (cast.kind !== 'ok') {
    return `<tr>${cells}<td class="${cast.kind === 'bad' ? 'warn recording-bad' : 'note'}">${e(cast.why)}<br><code>${e(cast.path)}</code></td></tr>`
  }
  const id = `cast-${i}`
  const player = `<div class="player" data-cast="${id}"><button type="button">Play</button><select aria-label="speed"><option value="1">1×</option><option value="2">2×</option>` +
    '<option value="8">8×</option><option value="32">32×</option></select><button type="button" class="end">End</button><span class="status note"></span><pre></pre></div>' +
    `<script type="application/json" id="${id}">${scriptJson(cast.text)}</script>`
  return `<tr>${cells}<td class="note">${e(facts)}<br><code>${e(cast.path)}</code></td></tr><tr><td colspan="7">${player}</td></tr>`
}

function changesSection (data: ReportData): string {
  const rows = data.changes.map((c) => `<tr><td>${e(c.time)}</td><td>${e(c.what)}</td><td class="mono">${e(c.detail)}</td></tr>`).join('')
  return '<h2 id="changes">Changes of the gateway and its policy</h2>' +
    '<p class="note">Gateway starts and audit file recoveries (FileOpened records), and policy edits seen as a rule position that starts deciding with another rule text.</p>' +
    `<table id="changes-table"><tr><th>time</th><th>what</th><th>detail</th></tr>${rows || '<tr><td colspan="3" class="note">none</td></tr>'}</table>` +
    (data.changesLeftOut > 0 ? `<p class="note">${data.changesLeftOut} further change(s) not listed.</p>` : '')
}
