/**
 * A large trail streams through `dockgate audit report` in bounded memory:
 * 200,000 records (116 MiB: the fields the report reads, and the
 * chain's), each from a different certificate and
 * every tenth a session, go through the built CLI's report in a child
 * process whose heap is sampled while it runs. Its heap grows by less than
 * a fixed bound, and by about as much as for a trail a tenth the size: the
 * records are counted into bounded aggregates, never kept.
 */
import { execFile } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { seal, type ChainHead } from '../../src/audit/chain.js'

const run = promisify(execFile)
const DIST = resolve(import.meta.dirname, '..', '..', 'dist', 'cli', 'audit-report.js')

/** Writes `count` sealed records: distinct certificates, 20 teams, a refusal in 7, a session in 10, over 30 days. */
function bigTrail (file: string, count: number): void {
  const fd = openSync(file, 'w')
  const start = Date.UTC(2026, 10, 1)
  // Every file the writer creates begins with its FileOpened record.
  const opened = seal(JSON.stringify({ time: new Date(start).toISOString(), schema: 1, auditID: '00000000-0000-4000-8000-ffffffffffff', stage: 'FileOpened', opened: { reason: 'start', file: 'audit.jsonl', host: 'gw1', pid: 1, version: '0.1.0', previous: null } }), null)
  let head: ChainHead | null = opened.head
  let chunk: Buffer[] = [opened.bytes]
  for (let i = 0; i < count; i++) {
    const time = new Date(start + Math.floor(i * (30 * 86_400_000 / count))).toISOString()
    const team = `team-${i % 20}`
    const refused = i % 7 === 0
    const session = i % 10 === 0
    const serial = (0x100000 + i).toString(16).toUpperCase()
    const record = {
      time, auditID: `a-${i}`, stage: refused ? 'Refused' : 'ResponseComplete',
      identity: { subject: `CN=user-${i},OU=${team}`, issuer: 'CN=dockgate CA', serial, fingerprint256: `FP:${serial}`, teams: [team] },
      request: { method: 'POST', target: `/v1.41/containers/c${i}/${session ? 'attach' : 'start'}`, upgrade: session ? 'tcp' : null },
      decision: refused ? 'deny' : 'allow',
      rule: { ref: `/etc/dockgate/policy.yaml:${10 + (i % 3000)}`, text: `POST /containers/*/start #${i % 3000}`, team },
      ...(refused ? { code: 'DG_DENIED', status: 403 } : { status: session ? 101 : 204, sessionMs: session ? 900 : undefined })
    }
    const sealed = seal(JSON.stringify(record), head)
    head = sealed.head
    chunk.push(sealed.bytes)
    if (chunk.length === 5000) {
      writeSync(fd, Buffer.concat(chunk))
      chunk = []
    }
  }
  writeSync(fd, Buffer.concat(chunk))
  closeSync(fd)
}

/** Runs the built report in a child with a sampled heap; resolves with its heap growth in bytes. */
async function heapGrowth (dir: string, file: string): Promise<number> {
  const driver = join(dir, 'driver.mjs')
  writeFileSync(driver, `
    import { runAuditReport } from ${JSON.stringify(DIST)}
    globalThis.gc()
    const base = process.memoryUsage().heapUsed
    let peak = base
    const sample = () => { peak = Math.max(peak, process.memoryUsage().heapUsed) }
    const timer = setInterval(sample, 2)
    process.stderr.write = () => true
    const code = await runAuditReport([${JSON.stringify(file)}, '--html', ${JSON.stringify(join(dir, 'report.html'))}])
    clearInterval(timer)
    sample()
    console.log(JSON.stringify({ code, growth: peak - base }))
  `)
  // A small young generation, so the peak measures what is kept rather than garbage not yet collected.
  const { stdout } = await run(process.execPath, ['--expose-gc', '--max-semi-space-size=1', '--max-old-space-size=256', driver], { timeout: 240_000 })
  const result = JSON.parse(stdout) as { code: number; growth: number }
  expect(result.code).toBe(0)
  return result.growth
}

describe('dockgate audit report on a large trail', () => {
  it('streams 200,000 records in bounded memory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-report-big-'))
    const small = join(dir, 'small.jsonl')
    const big = join(dir, 'big.jsonl')
    bigTrail(small, 20_000)
    bigTrail(big, 200_000)
    const size = statSync(big).size
    expect(size).toBeGreaterThan(100 * 1024 * 1024)
    const smallGrowth = await heapGrowth(dir, small)
    const bigGrowth = await heapGrowth(dir, big)
    rmSync(dir, { recursive: true, force: true })
    process.stdout.write(`report memory: heap growth ${(smallGrowth / 1048576).toFixed(1)} MiB for 20k records, ${(bigGrowth / 1048576).toFixed(1)} MiB for 200k (${(size / 1048576).toFixed(0)} MiB)\n`)
    expect(bigGrowth).toBeLessThan(48 * 1024 * 1024)
    expect(bigGrowth).toBeLessThan(smallGrowth * 2 + 8 * 1024 * 1024)
  }, 300_000)
})
