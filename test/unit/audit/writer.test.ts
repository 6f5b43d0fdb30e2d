/**
 * The audit writer's promises, each against real files: the chain continues
 * across restart, rotation (size and day), logrotate's rename + SIGHUP and a
 * deleted file; a full disk leaves the file line-clean, refuses (or, with
 * `continue`, does not) and recovers by itself, saying what was lost.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FastifyBaseLogger } from 'fastify'
import { auditEventLogger } from '../../../src/runtime/audit-trail.js'
import { openAuditLog, type AuditEvent } from '../../../src/audit/log.js'
import { isRotatedName } from '../../../src/audit/rotation.js'
import { clock, linesOf, sampleRecord, trailDir, trailFiles, verify, writeSamples, writeTrail } from '../../support/trail.js'

type Opened = { stage: string; opened?: { reason: string; previous: { file: string | null; seq: number } | null; outage?: { failedWrites: number; error: string } } }
const parsed = (file: string): Opened[] => linesOf(file).map((l) => JSON.parse(l) as Opened)

/** A writeSync that fails with ENOSPC while `full` is set, after writing `partial` bytes of the buffer. */
function fullDisk (partial = 0): { writeSync: typeof writeSync; full: (on: boolean) => void } {
  let full = false
  const write = ((fd: number, buffer: Buffer, offset: number, length: number): number => {
    if (!full) return writeSync(fd, buffer, offset, length)
    if (partial > 0 && length > partial) writeSync(fd, buffer, offset, partial)
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
  }) as typeof writeSync
  return { writeSync: write, full: (on) => { full = on } }
}

describe('the chain continues', () => {
  it('across a restart: the second start appends a FileOpened record linked to the last record', async () => {
    const { file } = trailDir()
    await writeTrail(file, 2)
    await writeTrail(file, 2, {}, 2)
    const records = parsed(file)
    expect(records.filter((r) => r.stage === 'FileOpened').map((r) => r.opened?.reason)).toEqual(['start', 'start'])
    expect(records[3]?.opened?.previous).toMatchObject({ file: 'audit.jsonl', seq: 2 })
    expect(verify([file]).problems).toEqual([])
  })

  it('tells the operational log where the chain continues from, and that a first start has nothing before it', async () => {
    const { file } = trailDir()
    const events: AuditEvent[] = []
    await writeTrail(file, 1, { onEvent: (e) => events.push(e) })
    await writeTrail(file, 1, { onEvent: (e) => events.push(e) }, 1)
    expect(events.filter((e) => e.kind === 'opened')).toMatchObject([
      { reason: 'start', previousFile: null },
      { reason: 'start', previousFile: 'audit.jsonl' }
    ])
  })

  it('refuses to start on a file that does not end with a sealed record, saying what to do', () => {
    const { file } = trailDir()
    writeFileSync(file, '{"time":"2026-01-01T00:00:00.000Z","stage":"ResponseComplete"}\n')
    expect(() => openAuditLog({ file })).toThrow(/does not end with a sealed audit record .*move the file aside \(keep it for the auditor\)/)
  })

  it('across a UTC day: the first record of a new day goes to a new file', async () => {
    const { dir, file } = trailDir()
    const time = clock('2026-11-23T23:59:58.000Z')
    const audit = openAuditLog({ file, rotate: { maxBytes: 0, daily: true }, now: time.now })
    writeSamples(audit, 2)
    time.set('2026-11-24T00:00:01.000Z')
    writeSamples(audit, 2, 2)
    await audit.close()
    expect(readdirSync(dir).sort()).toEqual(['audit.2026-11-24T00-00-01.000Z.jsonl', 'audit.jsonl'])
    expect(parsed(file)[0]?.opened?.reason).toBe('rotate-daily')
    expect(linesOf(join(dir, 'audit.2026-11-24T00-00-01.000Z.jsonl')).every((l) => l.includes('"time":"2026-11-23'))).toBe(true)
    expect(verify(trailFiles(dir))).toMatchObject({ problems: [], chains: 1 })
  })

  it('across a UTC day with a restart in between: the first record after the restart goes to a new file', async () => {
    const { dir, file } = trailDir()
    const time = clock('2026-11-23T23:59:58.000Z')
    await writeTrail(file, 2, { rotate: { maxBytes: 0, daily: true }, now: time.now })
    time.set('2026-11-24T08:00:00.000Z')
    await writeTrail(file, 2, { rotate: { maxBytes: 0, daily: true }, now: time.now }, 2)
    expect(readdirSync(dir).sort()).toEqual(['audit.2026-11-24T08-00-00.000Z.jsonl', 'audit.jsonl'])
    const active = parsed(file)
    expect(active[0]?.opened?.reason).toBe('rotate-daily')
    expect(active.filter((r) => r.stage === 'Refused')).toHaveLength(2)
    const rotated = linesOf(join(dir, 'audit.2026-11-24T08-00-00.000Z.jsonl')).map((l) => JSON.parse(l) as Opened & { time: string })
    expect(rotated.filter((r) => r.stage === 'Refused').every((r) => r.time.startsWith('2026-11-23'))).toBe(true)
    expect(verify(trailFiles(dir))).toMatchObject({ problems: [], chains: 1 })
  })

  it('under a size limit, no file grows past maxBytes', async () => {
    const { dir, file } = trailDir()
    await writeTrail(file, 30, { rotate: { maxBytes: 4096, daily: false } })
    const files = trailFiles(dir)
    expect(files.length).toBeGreaterThan(3)
    for (const f of files) expect(statSync(f).size).toBeLessThanOrEqual(4096)
    expect(verify(files)).toMatchObject({ problems: [], chains: 1 })
  })

  it('after logrotate renames the file and sends SIGHUP: reopen starts a new file that names where the records went', async () => {
    const { dir, file } = trailDir()
    const audit = openAuditLog({ file })
    writeSamples(audit, 2)
    expect(audit.reopen()).toEqual({ reopened: false, error: null })
    renameSync(file, join(dir, 'audit.jsonl.1'))
    writeSamples(audit, 1, 2)
    expect(audit.reopen()).toEqual({ reopened: true, error: null })
    writeSamples(audit, 1, 3)
    await audit.close()
    expect(parsed(file)[0]?.opened).toMatchObject({ reason: 'reopen', previous: { file: 'audit.jsonl.1', seq: 3 } })
    expect(verify([join(dir, 'audit.jsonl.1'), file])).toMatchObject({ problems: [], chains: 1 })
  })

  it('after the file is deleted: it is created again before the next request, and verify shows what is missing', async () => {
    const { file } = trailDir()
    const audit = openAuditLog({ file })
    writeSamples(audit, 2)
    rmSync(file)
    expect(audit.blocked()).toBeNull()
    writeSamples(audit, 1, 2)
    await audit.close()
    expect(parsed(file)[0]?.opened?.reason).toBe('recreate')
    expect(verify([file]).problems).toMatchObject([{ line: 1, code: 'DG_AUDIT_FILE_MISSING' }])
  })
})

describe('what a start tells the operational log', () => {
  const warnings = (): { logger: FastifyBaseLogger; lines: string[] } => {
    const lines: string[] = []
    const log = (level: string) => (_fields: unknown, message: string) => { lines.push(`${level}: ${message}`) }
    return { logger: { info: log('info'), warn: log('warn'), error: log('error') } as unknown as FastifyBaseLogger, lines }
  }

  it('warns when the active file is missing while rotated files of it exist: a new chain starts', async () => {
    const { dir, file } = trailDir()
    await writeTrail(file, 5, { rotate: { maxBytes: 1600, daily: false } })
    const rotated = trailFiles(dir).filter((f) => f !== file).map((f) => f.split('/').pop())
    rmSync(file)
    writeFileSync(join(dir, 'audit-w2.2026-11-24T00-00-00.000Z.jsonl'), '')
    const events: AuditEvent[] = []
    const { logger, lines } = warnings()
    const log = auditEventLogger(logger, 'refuse')
    await writeTrail(file, 1, { onEvent: (e) => { events.push(e); log(e) } })
    const fresh = events.find((e) => e.kind === 'new-chain')
    expect(fresh).toMatchObject({ file })
    expect([...(fresh?.kind === 'new-chain' ? fresh.rotated : [])].sort()).toEqual(rotated.sort())
    expect(lines.find((l) => l.startsWith('warn: '))).toMatch(new RegExp(`^warn: audit file ${file} was missing or empty at start while ${rotated.length} rotated file\\(s\\) of it exist ` +
      '\\(newest: audit\\.2026[^)]*\\): a new chain starts; records written after the newest rotated file may have been deleted'))
  })

  it('does not warn on a first start, on a start that continues the file, or for another writer\'s rotated files', async () => {
    const { dir, file } = trailDir()
    writeFileSync(join(dir, 'audit-w2.2026-11-24T00-00-00.000Z.jsonl'), '')
    const events: AuditEvent[] = []
    await writeTrail(file, 1, { onEvent: (e) => events.push(e) })
    writeFileSync(join(dir, 'audit.2026-11-24T00-00-00.000Z.jsonl'), '')
    await writeTrail(file, 1, { onEvent: (e) => events.push(e) }, 1)
    expect(events.map((e) => e.kind)).toEqual(['opened', 'opened'])
  })

  it('warns when it finds an incomplete last line, besides acknowledging it in the record', async () => {
    const { file } = trailDir()
    await writeTrail(file, 2)
    writeFileSync(file, linesOf(file).map((l) => l + '\n').join('') + '{"time":"2026-')
    const events: AuditEvent[] = []
    const { logger, lines } = warnings()
    const log = auditEventLogger(logger, 'refuse')
    await writeTrail(file, 1, { onEvent: (e) => { events.push(e); log(e) } }, 2)
    expect(events.find((e) => e.kind === 'torn')).toEqual({ kind: 'torn', file, bytes: 14 })
    expect(lines).toContain(`warn: audit file ${file} ended with an incomplete line of 14 byte(s) (a crash or power loss while writing); ` +
      'it was ended and acknowledged in the FileOpened record (opened.torn), and audit verify reports it as a note')
  })

  it('knows dockgate\'s and logrotate\'s rotated names, and not another writer\'s', () => {
    for (const name of ['audit.2026-11-24T00-00-00.012Z.jsonl', 'audit.2026-11-24T00-00-00.012Z-1.jsonl.gz', 'audit.jsonl.1', 'audit.jsonl.2.gz', 'audit.jsonl-20261124']) {
      expect(isRotatedName('audit.jsonl', name), name).toBe(true)
    }
    for (const name of ['audit.jsonl', 'audit-w2.jsonl', 'audit-w2.2026-11-24T00-00-00.012Z.jsonl', 'audit.notes.jsonl', 'audit.jsonl.bak']) {
      expect(isRotatedName('audit.jsonl', name), name).toBe(false)
    }
    expect(isRotatedName('audit-w2.jsonl', 'audit-w2.2026-11-24T00-00-00.012Z.jsonl')).toBe(true)
  })
})

describe('when the disk is full', () => {
  it('refuses with the reason, keeps the file line-clean, and recovers saying how many records were lost', async () => {
    const { file } = trailDir()
    const disk = fullDisk(10)
    const events: AuditEvent[] = []
    const audit = openAuditLog({ file, writeSync: disk.writeSync, onEvent: (e) => events.push(e) })
    writeSamples(audit, 2)
    const before = statSync(file).size
    disk.full(true)
    expect(audit.write(sampleRecord(2))).toBe(false)
    expect(statSync(file).size).toBe(before)
    expect(audit.blocked()).toMatch(/^the audit trail cannot be written \(ENOSPC: no space left on device, write\); requests are refused until it can be written again \(audit.onFailure: refuse\)$/)
    expect(audit.health()).toMatchObject({ writable: false, writeFailures: 1 })
    expect(events.map((e) => e.kind)).toContain('write-failed')
    expect(events.find((e) => e.kind === 'not-written')).toMatchObject({ line: expect.stringContaining('/containers/c2/json') as unknown })
    disk.full(false)
    expect(audit.blocked()).toBeNull()
    writeSamples(audit, 1, 3)
    expect(audit.health()).toMatchObject({ writable: true, writeFailures: 1 })
    await audit.close()
    const records = parsed(file)
    expect(records.find((r) => r.opened?.reason === 'recover')?.opened?.outage).toMatchObject({ failedWrites: 1, error: 'ENOSPC: no space left on device, write' })
    expect(verify([file]).problems).toEqual([])
  })

  it('recovers on its own within a second, without a request (so a readiness probe sees it)', async () => {
    const { file } = trailDir()
    const disk = fullDisk()
    const audit = openAuditLog({ file, writeSync: disk.writeSync })
    disk.full(true)
    audit.write(sampleRecord(0))
    expect(audit.health().writable).toBe(false)
    disk.full(false)
    await expect.poll(() => audit.health().writable, { timeout: 3000 }).toBe(true)
    await audit.close()
  })

  it('with onFailure: continue, requests are not refused and each unwritten record goes to the operational log', async () => {
    const { file } = trailDir()
    const disk = fullDisk()
    const events: AuditEvent[] = []
    const audit = openAuditLog({ file, onFailure: 'continue', writeSync: disk.writeSync, onEvent: (e) => events.push(e) })
    disk.full(true)
    expect(audit.write(sampleRecord(7))).toBe(false)
    expect(audit.blocked()).toBeNull()
    expect(events.filter((e) => e.kind === 'not-written')).toHaveLength(1)
    disk.full(false)
    await audit.close()
  })

  it('cannot start without its trail: a file that cannot be opened stops startup', () => {
    const { dir } = trailDir()
    writeFileSync(join(dir, 'blocker'), '')
    expect(() => openAuditLog({ file: join(dir, 'blocker', 'audit.jsonl') })).toThrow(/EEXIST|ENOTDIR/)
    expect(existsSync(join(dir, 'blocker', 'audit.jsonl'))).toBe(false)
  })
})

describe('fsync', () => {
  it('writes the same chain with every record synced', async () => {
    const { file } = trailDir()
    await writeTrail(file, 3, { fsync: true })
    expect(verify([file]).problems).toEqual([])
  })
})
