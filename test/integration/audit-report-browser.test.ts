/**
 * The auditor's report opened in a real browser (Debian's chromium,
 * headless): it renders without a single console message (no error, no
 * Content-Security-Policy violation), shows the expected counts after its
 * script ran, plays the recording's output through its terminal model, and
 * a hostile certificate subject stays text.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { runAuditReport } from '../../src/cli/audit-report.js'
import { openPage, skipWithoutChromium } from '../support/chromium.js'
import { SAMPLE, writeSampleTrail } from '../support/report-trail.js'

const skip = skipWithoutChromium()

describe.skipIf(skip)('the audit report in chromium', () => {
  let page: { dom: string; console: string[] }
  let html: string

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-report-browser-'))
    const file = await writeSampleTrail(dir)
    html = join(dir, 'report.html')
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    expect(await runAuditReport([file, '--html', html])).toBe(0)
    vi.restoreAllMocks()
    page = await openPage(html)
  }, 120_000)

  it('renders without console messages, its player ran and shows what the session printed', () => {
    expect(page.console).toEqual([])
    expect(page.dom).toContain('data-players="1"')
    // Colour sequences dropped, CR LF as new lines, input events not shown.
    expect(page.dom).toContain(`<pre>$ ${SAMPLE.castText}\n$ exit</pre>`)
  })

  it('plays the recording with its timing when opened with #play, ending on the same screen', async () => {
    const played = await openPage(html, '#play')
    expect(played.console).toEqual([])
    expect(played.dom).toMatch(/<div class="player" data-cast="cast-0" data-played="true">/)
    expect(played.dom).toContain(`<pre>$ ${SAMPLE.castText}\n$ exit</pre>`)
    expect(page.dom).not.toContain('data-played="true"')
  }, 60_000)

  it('shows the expected counts', () => {
    expect(page.dom).toMatch(new RegExp(`id="t-requests"><b>${SAMPLE.requests}</b>`))
    expect(page.dom).toMatch(new RegExp(`id="t-refused"><b>${SAMPLE.refused}</b>`))
    expect(page.dom).toContain('data-intact="true"')
    expect(page.dom.match(/<div class="chart"/g)).toHaveLength(3)
    expect(page.dom).toContain('<span id="certs-revoked">1</span>')
  })

  it('keeps a CN with <script> as text: nothing it carries ran', () => {
    // The injected script and onerror handler would set this attribute on <html>; as text it is only a string.
    expect(page.dom).not.toMatch(/<[a-z]+[^>]*\sdata-pwned=/)
    expect(page.dom).not.toMatch(/<img/i)
    expect(page.dom).toContain('CN=&lt;script&gt;document.documentElement.setAttribute("data-pwned","1")&lt;/script&gt;')
  })

  it('embeds no external URL in the rendered page', () => {
    expect(page.dom).not.toMatch(/https?:/i)
    expect(page.dom).not.toMatch(/<[^>]*\s(src|href|action|srcset)\s*=/i)
  })

  it('would see a console error (the check is not blind)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-report-browser-'))
    writeFileSync(join(dir, 'bad.html'), '<!DOCTYPE html><html><body><script>undefinedFunction()</script></body></html>')
    const bad = await openPage(join(dir, 'bad.html'))
    expect(bad.console.join('\n')).toContain('Uncaught ReferenceError')
  }, 60_000)
})
