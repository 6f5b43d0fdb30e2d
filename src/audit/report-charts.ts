/**
 * Inline SVG charts of requests and refusals over time, one per team, for
 * the auditor's report. Pure; every text goes through {@link escapeHtml}.
 */
import type { Timeline } from './report-counters.js'

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const WIDTH = 520
const HEIGHT = 130
const LEFT = 40
const BOTTOM = 18
const MAX_BARS = 72

/** Bar data for one team: requests and refusals per display bin. */
interface Bins { readonly start: number; readonly width: number; readonly requests: number[]; readonly refusals: number[] }

/** One `<div class="chart">` per team (most requests first), or a note when nothing was counted. */
export function teamCharts (timeline: Timeline): string {
  const series = timeline.series()
  const first = series[0]?.start
  const lastBucket = series[series.length - 1]
  if (first === undefined || lastBucket === undefined) return '<p class="note">No requests in this period.</p>'
  const end = lastBucket.start + timeline.bucketMs
  const bins = Math.min(MAX_BARS, Math.max(1, Math.round((end - first) / timeline.bucketMs)))
  const width = (end - first) / bins
  const perTeam = new Map<string, Bins>()
  for (const team of timeline.teamNames()) perTeam.set(team, { start: first, width, requests: new Array<number>(bins).fill(0), refusals: new Array<number>(bins).fill(0) })
  for (const bucket of series) {
    const i = Math.min(bins - 1, Math.floor((bucket.start - first) / width))
    for (const [team, cell] of bucket.cells) {
      const b = perTeam.get(team)
      if (b === undefined) continue
      b.requests[i] = (b.requests[i] ?? 0) + cell.requests
      b.refusals[i] = (b.refusals[i] ?? 0) + cell.refusals
    }
  }
  const total = (b: Bins): number => b.requests.reduce((s, n) => s + n, 0)
  const ordered = [...perTeam].sort((a, b) => total(b[1]) - total(a[1]))
  return '<div class="legend"><span><i class="req"></i>requests</span><span><i class="ref"></i>refused</span></div><div class="charts">' +
    ordered.map(([team, b]) => chart(team, b)).join('') + '</div>'
}

function chart (team: string, b: Bins): string {
  const requests = b.requests.reduce((s, n) => s + n, 0)
  const refusals = b.refusals.reduce((s, n) => s + n, 0)
  const max = Math.max(1, ...b.requests)
  const plotW = WIDTH - LEFT - 4
  const plotH = HEIGHT - BOTTOM - 6
  const barW = plotW / b.requests.length
  const y = (n: number): number => 6 + plotH - (n / max) * plotH
  const bars = b.requests.map((n, i) => {
    const x = LEFT + i * barW
    const refused = b.refusals[i] ?? 0
    if (n === 0) return ''
    const from = new Date(b.start + i * b.width).toISOString().slice(0, 16).replace('T', ' ')
    const title = `<title>${escapeHtml(`${team} from ${from} UTC: ${n} request(s), ${refused} refused`)}</title>`
    const req = `<rect class="req" x="${x.toFixed(1)}" y="${y(n).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${(y(0) - y(n)).toFixed(1)}">${title}</rect>`
    const ref = refused === 0 ? '' : `<rect class="ref" x="${x.toFixed(1)}" y="${y(refused).toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${(y(0) - y(refused)).toFixed(1)}">${title}</rect>`
    return req + ref
  }).join('')
  const day = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ')
  const end = b.start + b.width * b.requests.length
  const axis = `<line class="axis" x1="${LEFT}" y1="${y(0)}" x2="${WIDTH - 4}" y2="${y(0)}"/><line class="axis" x1="${LEFT}" y1="6" x2="${LEFT}" y2="${y(0)}"/>` +
    `<text class="lbl" x="${LEFT - 4}" y="12" text-anchor="end">${max}</text><text class="lbl" x="${LEFT - 4}" y="${y(0)}" text-anchor="end">0</text>` +
    `<text class="lbl" x="${LEFT}" y="${HEIGHT - 4}">${escapeHtml(day(b.start))}</text><text class="lbl" x="${WIDTH - 4}" y="${HEIGHT - 4}" text-anchor="end">${escapeHtml(day(end))} UTC</text>`
  return `<div class="chart" data-team="${escapeHtml(team)}"><h3>${escapeHtml(team)}: <span class="count-requests">${requests}</span> request(s), ` +
    `<span class="count-refused">${refusals}</span> refused</h3><svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="100%" role="img" ` +
    `aria-label="${escapeHtml(`${team}: requests and refusals over time`)}">${axis}${bars}</svg></div>`
}
