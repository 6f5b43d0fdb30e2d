/**
 * The style sheet and the one script of the auditor's report page, inlined
 * into it (report-html.ts) and allowed by hash in its Content-Security-Policy,
 * so nothing else can run or load, even if a record's text ever slipped
 * through unescaped.
 *
 * The script is a small asciicast v2 player written for the report (no
 * external player: the page must work offline and load nothing): it reads
 * each embedded recording from a `<script type="application/json">`
 * element, shows the session's last screen at once, and replays the "o"
 * (output) events with their timing on request (or at once, at 32×, when
 * the page is opened with `#play`), into a `<pre>` through a
 * minimal terminal model (carriage return, backspace, tab, cursor moves,
 * erase line and screen; colours and other sequences are dropped). Text
 * reaches the page only through `textContent`, never as HTML.
 */

/** The page's CSS. */
export const REPORT_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2433;background:#f5f6f8}
main{max-width:1120px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #d5d9e0;padding-bottom:4px}
.sub{color:#5b6474;margin:0 0 16px}
.verdict{padding:12px 16px;border-radius:6px;margin:16px 0;border:1px solid}
.verdict.ok{background:#e8f6ec;border-color:#7cc48f}.verdict.bad{background:#fdecec;border-color:#e08585}
.verdict strong{font-size:16px}
.verdict pre{white-space:pre-wrap;margin:8px 0 0;font-size:12px}
.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:10px 14px;min-width:120px}
.tile b{display:block;font-size:22px}.tile span{color:#5b6474;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}
th,td{border:1px solid #d5d9e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#eceff3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.mono,code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.chart{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:8px}
.chart h3{margin:0 0 4px;font-size:14px}
.req{fill:#8da2c0}.ref{fill:#d64545}.axis{stroke:#9aa3b2;stroke-width:1}.lbl{fill:#5b6474;font-size:10px}
.legend span{margin-right:14px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
.legend .req{background:#8da2c0}.legend .ref{background:#d64545}
.warn{color:#a33}.note{color:#5b6474;font-size:12px}
.player{margin:6px 0 12px}
.player pre{background:#111;color:#e6e6e6;padding:8px;max-height:420px;overflow:auto;margin:4px 0;font-size:12px;white-space:pre-wrap}
.player button,.player select{font-size:12px;margin-right:6px}
`

/** The page's script: the recording player. */
export const REPORT_JS = `(function () {
  'use strict'
  function Screen () { this.lines = [[]]; this.r = 0; this.c = 0; this.pending = '' }
  Screen.prototype.line = function () { while (this.lines.length <= this.r) this.lines.push([]); return this.lines[this.r] }
  Screen.prototype.put = function (ch) {
    var l = this.line(); while (l.length < this.c) l.push(' ')
    l[this.c] = ch; this.c += 1
  }
  Screen.prototype.csi = function (params, final) {
    var p = params.replace(/[?>=]/g, '').split(';').map(function (x) { return parseInt(x, 10) })
    var n = isNaN(p[0]) ? 0 : p[0]; var m = Math.max(n, 1)
    if (final === 'A') this.r = Math.max(0, this.r - m)
    else if (final === 'B') this.r += m
    else if (final === 'C') this.c += m
    else if (final === 'D') this.c = Math.max(0, this.c - m)
    else if (final === 'G') this.c = m - 1
    else if (final === 'H' || final === 'f') { this.r = Math.max(0, m - 1); this.c = Math.max(0, (isNaN(p[1]) ? 1 : p[1]) - 1) }
    else if (final === 'K') { var l = this.line(); if (n === 0) l.length = Math.min(l.length, this.c); else if (n === 1) { for (var i = 0; i < this.c && i < l.length; i++) l[i] = ' ' } else l.length = 0 }
    else if (final === 'J') { if (n >= 2) { this.lines = [[]]; this.r = 0; this.c = 0 } else if (n === 0) { this.lines.length = this.r + 1; this.line().length = Math.min(this.line().length, this.c) } }
  }
  Screen.prototype.write = function (data) {
    var s = this.pending + data; this.pending = ''
    for (var i = 0; i < s.length; i++) {
      var ch = s[i]
      if (ch === '\\x1b') {
        var rest = s.slice(i + 1)
        var csi = /^\\[([0-?]*)[ -\\/]*([@-~])/.exec(rest)
        var osc = /^\\][^\\x07\\x1b]*(\\x07|\\x1b\\\\)/.exec(rest)
        if (csi) { this.csi(csi[1], csi[2]); i += csi[0].length }
        else if (osc) i += osc[0].length
        else if (/^(\\[[0-?]*[ -\\/]*|\\][^\\x07\\x1b]*|\\x1b?)$/.test(rest)) { this.pending = s.slice(i); return }
        else i += 1
      } else if (ch === '\\r') this.c = 0
      else if (ch === '\\n') { this.r += 1; this.line() }
      else if (ch === '\\b') this.c = Math.max(0, this.c - 1)
      else if (ch === '\\t') this.c = (Math.floor(this.c / 8) + 1) * 8
      else if (ch >= ' ' && ch !== '\\x7f') this.put(ch)
    }
    if (this.lines.length > 5000) { var cut = this.lines.length - 5000; this.lines.splice(0, cut); this.r = Math.max(0, this.r - cut) }
  }
  Screen.prototype.text = function () { return this.lines.map(function (l) { return l.join('').replace(/\\s+$/, '') }).join('\\n').replace(/\\n+$/, '') }

  function parse (text) {
    var lines = text.split('\\n'); var events = []
    for (var i = 1; i < lines.length; i++) {
      if (lines[i] === '') continue
      var e; try { e = JSON.parse(lines[i]) } catch (err) { continue }
      if (Array.isArray(e) && typeof e[0] === 'number' && e[1] === 'o' && typeof e[2] === 'string') events.push(e)
    }
    return events
  }

  function setup (holder) {
    var source = document.getElementById(holder.getAttribute('data-cast'))
    var events = parse(JSON.parse(source.textContent))
    var pre = holder.querySelector('pre'); var status = holder.querySelector('.status')
    var play = holder.querySelector('button'); var speed = holder.querySelector('select')
    var timer = null; var at = 0; var screen = new Screen()
    function show (done) { pre.textContent = screen.text(); status.textContent = done ? events.length + ' output event(s), end of session' : 'playing ' + at + '/' + events.length }
    function all () { screen = new Screen(); events.forEach(function (e) { screen.write(e[2]) }); at = events.length; show(true) }
    function stop () { if (timer !== null) clearTimeout(timer); timer = null; play.textContent = 'Play' }
    function step () {
      if (at >= events.length) { stop(); show(true); holder.setAttribute('data-played', 'true'); return }
      screen.write(events[at][2]); at += 1; show(false)
      var next = events[at]; var wait = next ? Math.min(2, next[0] - events[at - 1][0]) * 1000 / Number(speed.value) : 0
      timer = setTimeout(step, Math.max(0, wait))
    }
    play.addEventListener('click', function () {
      if (timer !== null) { stop(); return }
      if (at >= events.length) { screen = new Screen(); at = 0 }
      play.textContent = 'Pause'; step()
    })
    holder.querySelector('.end').addEventListener('click', function () { stop(); all() })
    all()
    // #play in the address plays every recording at once: a link can open the page playing.
    if (location.hash === '#play') { speed.value = '32'; play.click() }
  }

  var holders = document.querySelectorAll('[data-cast]')
  for (var i = 0; i < holders.length; i++) setup(holders[i])
  document.documentElement.setAttribute('data-players', String(holders.length))
})()
`
