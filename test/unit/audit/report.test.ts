import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseWhen, runAuditReport } from '../../../src/cli/audit-report.js'
import { HOSTILE_CN, SAMPLE, writeSampleTrail } from '../../support/report-trail.js'

/** Runs `dockgate audit report ARGS`, capturing stdout and stderr. */
async function report (args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''
  let err = ''
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c) => { out += String(c); return true })
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c) => { err += String(c); return true })
  try {
    return { code: await runAuditReport(args), out, err }
  } finally {
    o.mockRestore()
    e.mockRestore()
  }
}

async function sample (): Promise<{ dir: string; file: string; html: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dg-report-'))
  return { dir, file: await writeSampleTrail(dir), html: join(dir, 'report.html') }
}

const between = (html: string, id: string): string => new RegExp(`id="${id}"><b>(\\d+)</b>`).exec(html)?.[1] ?? ''

afterEach(() => { vi.restoreAllMocks() })

describe('dockgate audit report', () => {
  it('shows the verdict, the counts per team, the top refused rule, the revoked certificate and the recorded session', async () => {
    const { file, html } = await sample()
    const run = await report([file, '--html', html, '--text'])
    expect(run.code).toBe(0)
    const page = readFileSync(html, 'utf8')
    expect(page).toContain('data-intact="true"')
    expect(between(page, 't-requests')).toBe(String(SAMPLE.requests))
    expect(between(page, 't-refused')).toBe(String(SAMPLE.refused))
    expect(between(page, 't-would')).toBe(String(SAMPLE.wouldRefuse))
    expect(between(page, 't-certs')).toBe(String(SAMPLE.certificates))
    for (const [team, want] of Object.entries(SAMPLE.perTeam)) {
      expect(page).toMatch(new RegExp(`data-team="${team}"><h3>${team}: <span class="count-requests">${want.requests}</span> request\\(s\\), <span class="count-refused">${want.refused}</span>`))
    }
    expect(page).toMatch(new RegExp(`<td class="n">${SAMPLE.topRule.count}</td><td class="mono">${SAMPLE.topRule.ref}</td>`))
    expect(page).toContain('<span id="certs-revoked">1</span>')
    expect(page).toMatch(/CN=carol,OU=data<\/td><td class="mono">0C1D<\/td>.*open connection closed as revoked/)
    expect(page.match(/policy changed/g)).toHaveLength(1)
    expect(page).toContain('policy changed</td><td class="mono">/etc/dockgate/policy.yaml:9 now decides as &#34;web: @containers-read&#34; (was &#34;web: @read-only&#34;)')
    expect(page).toContain('data-cast="cast-0"')
    expect(page).toContain(SAMPLE.castText)
    expect(run.out).toContain(`requests ${SAMPLE.requests}, refused ${SAMPLE.refused}`)
    expect(run.out).toContain('verdict: intact')
  })

  it('escapes an identity CN with <script> so it can never run (hostile certificate subject)', async () => {
    const { file, html } = await sample()
    expect((await report([file, '--html', html])).code).toBe(0)
    const page = readFileSync(html, 'utf8')
    expect(page).not.toContain(HOSTILE_CN)
    expect(page).not.toContain('<script>document')
    expect(page).not.toContain('<img')
    expect(page).toContain('CN=&#60;script&#62;document.documentElement.setAttribute(&#34;data-pwned&#34;,&#34;1&#34;)&#60;/script&#62;')
    // Exactly the page's own script runs: the player; the recording is JSON data, never script.
    expect(page.match(/<script>/g)).toHaveLength(1)
    expect(page).toMatch(/<script type="application\/json" id="cast-0">"[^<]*"<\/script>/)
  })

  it('embeds no external URL and allows only its own script and style', async () => {
    const { file, html } = await sample()
    await report([file, '--html', html])
    const page = readFileSync(html, 'utf8')
    expect(page).not.toMatch(/https?:/i)
    expect(page).not.toMatch(/(src|href|action)\s*=\s*["']?\s*\/\//i)
    expect(page).not.toMatch(/<[^>]*\s(src|href|action|srcset)\s*=/i)
    expect(page).toMatch(/Content-Security-Policy" content="default-src &#39;none&#39;; script-src &#39;sha256-/)
  })

  it('says at the top that the trail is not verified when a line was edited, and exits 1', async () => {
    const { file, html } = await sample()
    const lines = readFileSync(file, 'utf8').split('\n')
    lines[3] = (lines[3] ?? '').replace('"status":200', '"status":201')
    writeFileSync(file, lines.join('\n'))
    const run = await report([file, '--html', html])
    expect(run.code).toBe(1)
    const page = readFileSync(html, 'utf8')
    expect(page).toContain('data-intact="false"')
    expect(page).toMatch(/audit.jsonl:4 DG_AUDIT_EDITED/)
  })

  it('never plays a recording that differs from what its record says', async () => {
    const { dir, file, html } = await sample()
    const cast = join(dir, 'sessions', 'a1.cast')
    writeFileSync(cast, readFileSync(cast, 'utf8').replace(SAMPLE.castText, SAMPLE.castText.toUpperCase()))
    const run = await report([file, '--html', html, '--text'])
    const page = readFileSync(html, 'utf8')
    expect(page).not.toContain('data-cast=')
    expect(page).toMatch(/recording-bad">the recording&#39;s SHA-256 is [0-9a-f]{12}…, its record says/)
    expect(run.out).toContain('recording problem')
  })

  it('counts only records inside --since and --until', async () => {
    const { file } = await sample()
    const run = await report([file, '--text', '--since', '2026-11-03', '--until', '2026-11-03T09:30Z'])
    expect(run.out).toContain(`requests ${SAMPLE.perTeam.data.requests}, refused ${SAMPLE.perTeam.data.refused}`)
  })

  it('refuses usage errors and unreadable files with exit 2', async () => {
    const { file } = await sample()
    expect((await report([file])).code).toBe(2)
    expect((await report([file, '--text', '--since', 'yesterday'])).code).toBe(2)
    expect((await report(['/nonexistent/audit.jsonl', '--text'])).code).toBe(2)
  })

  it('reads dates as UTC and ages back from now', () => {
    expect(parseWhen('2026-11-01')).toBe(Date.UTC(2026, 10, 1))
    expect(parseWhen('2026-11-01T12:00')).toBe(Date.UTC(2026, 10, 1, 12))
    expect(parseWhen('30d', 100 * 86_400_000)).toBe(70 * 86_400_000)
    expect(parseWhen('soon')).toBeNaN()
  })
})
