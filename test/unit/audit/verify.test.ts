/**
 * Tamper evidence: every attack on an audit file, one named test each,
 * against files written by the real writer. What an auditor needs is the
 * FILE:LINE of the first problem and a verdict they can trust.
 */
import { execFile } from 'node:child_process'
import { appendFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { GENESIS, openLine, seal, sha256 } from '../../../src/audit/chain.js'
import { openAuditLog } from '../../../src/audit/log.js'
import { clock, linesOf, trailDir, trailFiles, verify, writeLines, writeSamples, writeTrail } from '../../support/trail.js'

const run = promisify(execFile)
const CLI = resolve(import.meta.dirname, '..', '..', '..', 'dist', 'main.js')

/** A single file with a FileOpened record and `n` records. */
async function oneFile (n = 6): Promise<{ dir: string; file: string; lines: string[] }> {
  const { dir, file } = trailDir()
  await writeTrail(file, n)
  return { dir, file, lines: linesOf(file) }
}

/** Files from size rotation: three (two rotated, one active) for 5 records, more for more. */
async function rotatedSet (records = 5): Promise<{ dir: string; files: string[] }> {
  const { dir, file } = trailDir()
  const time = clock('2026-11-24T10:00:00.000Z')
  // Each record is ~700 bytes: a 1.6 KB limit puts two records per file.
  await writeTrail(file, records, { rotate: { maxBytes: 1600, daily: false }, now: () => { time.advance(1000); return time.now() } })
  return { dir, files: trailFiles(dir) }
}

describe('sealing', () => {
  it('appends seq, prev and hash last, and the hash covers everything before it', () => {
    const first = seal('{"a":1}\n', null)
    const line = first.bytes.toString().trimEnd()
    expect(line).toBe(`{"a":1,"seq":0,"prev":"${GENESIS}","hash":"${first.head.hash}"}`)
    expect(sha256(`{"a":1,"seq":0,"prev":"${GENESIS}"}`)).toBe(first.head.hash)
    const second = seal('{"b":2}', first.head)
    expect(openLine(second.bytes.toString().trimEnd())).toMatchObject({ kind: 'sealed', seq: 1, prev: first.head.hash })
  })
})

describe('dockgate audit verify: attacks', () => {
  it('an intact file verifies, with no problem', async () => {
    const { file } = await oneFile()
    expect(verify([file])).toMatchObject({ problems: [], chains: 1 })
  })

  it('a deleted line is reported at the line after the gap', async () => {
    const { file, lines } = await oneFile()
    writeLines(file, [...lines.slice(0, 3), ...lines.slice(4)])
    const { problems } = verify([file])
    expect(problems[0]).toMatchObject({ line: 4, code: 'DG_AUDIT_GAP' })
    expect(problems[0]?.message).toContain('record seq 3 is missing')
  })

  it('a deleted last line is not visible in the file alone, but verify prints the head to compare with the off-host copy', async () => {
    const { file, lines } = await oneFile()
    const head = openLine(lines.at(-2) ?? '')
    writeLines(file, lines.slice(0, -1))
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', file])
    expect(stdout).toContain(`head: seq ${head.kind === 'sealed' ? head.seq : -1} hash ${head.kind === 'sealed' ? head.hash : ''}`)
  })

  it('an edited line is reported at its own line', async () => {
    const { file, lines } = await oneFile()
    writeLines(file, lines.map((l, i) => (i === 2 ? l.replace('"status":403', '"status":200') : l)))
    const { problems } = verify([file])
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatchObject({ line: 3, code: 'DG_AUDIT_EDITED' })
  })

  it('an edited last line is reported too', async () => {
    const { file, lines } = await oneFile()
    writeLines(file, lines.map((l, i) => (i === lines.length - 1 ? l.replace('"decision":"deny"', '"decision":"allow"') : l)))
    expect(verify([file]).problems).toMatchObject([{ line: lines.length, code: 'DG_AUDIT_EDITED' }])
  })

  it('an edited line whose hash the editor recomputed is reported where the chain breaks', async () => {
    const { file, lines } = await oneFile()
    const original = lines[2] ?? ''
    const edited = original.replace('"status":403', '"status":200').replace(/,"hash":"[0-9a-f]{64}"\}$/, '}')
    const rehashed = edited.slice(0, -1) + `,"hash":"${sha256(edited)}"}`
    writeLines(file, lines.map((l, i) => (i === 2 ? rehashed : l)))
    expect(verify([file]).problems).toMatchObject([{ line: 4, code: 'DG_AUDIT_GAP' }])
  })

  it('reordered lines are reported', async () => {
    const { file, lines } = await oneFile()
    const swapped = [...lines]
    ;[swapped[2], swapped[3]] = [swapped[3] ?? '', swapped[2] ?? '']
    writeLines(file, swapped)
    const { problems } = verify([file])
    expect(problems[0]).toMatchObject({ line: 3, code: 'DG_AUDIT_GAP' })
    expect(problems.map((p) => p.message).join('\n')).toContain('out of order')
  })

  it('a copied (repeated) line is reported', async () => {
    const { file, lines } = await oneFile()
    writeLines(file, [...lines.slice(0, 4), lines[3] ?? '', ...lines.slice(4)])
    expect(verify([file]).problems[0]).toMatchObject({ line: 5, code: 'DG_AUDIT_GAP' })
  })

  it('a line that is not a record is reported', async () => {
    const { file, lines } = await oneFile()
    writeLines(file, [...lines.slice(0, 2), '{"note":"added by hand"}', ...lines.slice(2)])
    expect(verify([file]).problems[0]).toMatchObject({ line: 3, code: 'DG_AUDIT_MALFORMED' })
  })

  it('a rotated set verifies as one chain, given in any order', async () => {
    const { files } = await rotatedSet()
    expect(files.length).toBeGreaterThanOrEqual(3)
    expect(verify([...files].reverse())).toMatchObject({ problems: [], chains: 1 })
  })

  it('a missing rotated file is reported at the first line of the file after it', async () => {
    const { files } = await rotatedSet()
    const [first, missing, ...rest] = files
    rmSync(missing ?? '')
    const { problems } = verify([first ?? '', ...rest])
    expect(problems[0]).toMatchObject({ file: rest[0], line: 1, code: 'DG_AUDIT_FILE_MISSING' })
    expect(problems[0]?.message).toContain('a rotated file is missing')
  })

  it('a missing oldest file is reported, unless --partial-start says the oldest were deleted on purpose', async () => {
    const { files } = await rotatedSet()
    const rest = files.slice(1)
    expect(verify(rest).problems).toMatchObject([{ file: rest[0], line: 1, code: 'DG_AUDIT_FILE_MISSING' }])
    expect(verify(rest, true).problems).toEqual([])
  })

  it('with --partial-start, a missing middle file is still reported: only the oldest file may lack its predecessor', async () => {
    const { files } = await rotatedSet(9)
    expect(files.length).toBeGreaterThanOrEqual(5)
    const [, second, missing, after, ...rest] = files
    const { problems } = verify([second ?? '', after ?? '', ...rest], true)
    expect(problems).toMatchObject([{ file: after, line: 1, code: 'DG_AUDIT_FILE_MISSING' }])
    expect(problems[0]?.message).toContain(`its first record names ${missing?.split('/').pop() ?? ''}`)
  })

  it('the first lines cut from a later file are reported, with or without --partial-start', async () => {
    const { files } = await rotatedSet()
    const later = files[1] ?? ''
    writeLines(later, linesOf(later).slice(1))
    for (const partial of [false, true]) {
      const { problems } = verify(files, partial)
      expect(problems).toMatchObject([{ file: later, line: 1, code: 'DG_AUDIT_GAP' }])
      expect(problems[0]?.message).toContain(`the first records of ${later} were removed`)
    }
  })

  it('with --partial-start, the oldest file given may not have its first lines cut either', async () => {
    const { files } = await rotatedSet()
    const rest = files.slice(1)
    writeLines(rest[0] ?? '', linesOf(rest[0] ?? '').slice(1))
    expect(verify(rest, true).problems).toMatchObject([{ file: rest[0], line: 1, code: 'DG_AUDIT_GAP' }])
  })

  it('a file cut back to a restart record is reported: a file never begins with a restart that continues a chain', async () => {
    const { file } = trailDir()
    await writeTrail(file, 2)
    await writeTrail(file, 2, {}, 2)
    const lines = linesOf(file)
    writeLines(file, lines.slice(3))
    for (const partial of [false, true]) {
      expect(verify([file], partial).problems).toMatchObject([{ line: 1, code: 'DG_AUDIT_GAP', message: expect.stringContaining('is a restart record') as unknown }])
    }
  })

  it('with --partial-start, a file created again after its predecessor was deleted in use is still reported', async () => {
    const { file } = trailDir()
    const audit = openAuditLog({ file })
    writeSamples(audit, 2)
    rmSync(file)
    writeSamples(audit, 1, 2)
    await audit.close()
    expect(verify([file], true).problems).toMatchObject([{ line: 1, code: 'DG_AUDIT_FILE_MISSING', message: expect.stringContaining('deleted while dockgate was writing it') as unknown }])
  })

  it('a second chain of the same file name that starts from nothing beside an earlier one is reported (the active file was deleted while stopped)', async () => {
    const { dir, file } = trailDir()
    const time = clock('2026-11-24T10:00:00.000Z')
    const now = (): Date => { time.advance(1000); return time.now() }
    await writeTrail(file, 5, { rotate: { maxBytes: 1600, daily: false }, now })
    rmSync(file)
    await writeTrail(file, 2, { now }, 5)
    const files = trailFiles(dir)
    for (const partial of [false, true]) {
      const { problems } = verify(files, partial)
      expect(problems).toMatchObject([{ file, line: 1, code: 'DG_AUDIT_CHAIN_RESTARTED' }])
      expect(problems[0]?.message).toContain(`starts a new chain of audit.jsonl (seq 0, `)
    }
  })

  it('two files continuing from the same record are reported', async () => {
    const { dir, files } = await rotatedSet()
    const copy = join(dir, 'copy.jsonl')
    writeFileSync(copy, readFileSync(files[1] ?? ''))
    expect(verify([...files, copy]).problems.map((p) => p.code)).toContain('DG_AUDIT_FILE_MISSING')
  })

  it('several workers\' rotated sets, given together in any order, verify as one chain each', async () => {
    const { dir } = trailDir()
    const time = clock('2026-11-24T10:00:00.000Z')
    const now = (): Date => { time.advance(1000); return time.now() }
    for (const worker of ['audit-w1.jsonl', 'audit-w2.jsonl']) await writeTrail(join(dir, worker), 5, { rotate: { maxBytes: 1600, daily: false }, now })
    const files = trailFiles(dir)
    expect(files.length).toBeGreaterThanOrEqual(6)
    expect(verify([...files].sort())).toMatchObject({ problems: [], chains: 2 })
    const w2 = files.filter((f) => f.includes('audit-w2.2026'))
    rmSync(w2[0] ?? '')
    expect(verify(files.filter((f) => f !== w2[0])).problems).toMatchObject([{ code: 'DG_AUDIT_FILE_MISSING' }])
  })

  it('several workers\' files verify as separate chains', async () => {
    const { dir } = trailDir()
    await writeTrail(join(dir, 'audit-w1.jsonl'), 3)
    await writeTrail(join(dir, 'audit-w2.jsonl'), 4)
    expect(verify([join(dir, 'audit-w1.jsonl'), join(dir, 'audit-w2.jsonl')])).toMatchObject({ problems: [], chains: 2 })
  })

  it('an incomplete last line left by a crash is acknowledged when the writer continues the file, and is then a note, not a problem', async () => {
    const { file, lines } = await oneFile(3)
    writeFileSync(file, lines.map((l) => l + '\n').join('') + (lines[1] ?? '').slice(0, 40))
    expect(verify([file]).problems).toMatchObject([{ line: lines.length + 1, code: 'DG_AUDIT_MALFORMED' }])
    await writeTrail(file, 2, {}, 10)
    const after = verify([file])
    expect(after.problems).toEqual([])
    expect(after.notes[0]).toContain('incomplete record the writer found and acknowledged')
  })

  it('a torn line that was edited afterwards is not accepted as the acknowledged one', async () => {
    const { file, lines } = await oneFile(3)
    writeFileSync(file, lines.map((l) => l + '\n').join('') + (lines[1] ?? '').slice(0, 40))
    await writeTrail(file, 1, {}, 10)
    const now = linesOf(file)
    const torn = lines.length
    writeLines(file, now.map((l, i) => (i === torn ? l.replace('"time"', '"tim3"') : l)))
    expect(verify([file]).problems).toMatchObject([{ line: torn + 1, code: 'DG_AUDIT_MALFORMED' }])
  })
})

describe('dockgate audit verify (the built CLI)', () => {
  it('exits 0 for an intact rotated set, reading logrotate\'s gzipped files too', async () => {
    const { files } = await rotatedSet()
    const gz = `${files[0] ?? ''}.gz`
    writeFileSync(gz, gzipSync(readFileSync(files[0] ?? '')))
    rmSync(files[0] ?? '')
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', gz, ...files.slice(1)])
    expect(stdout).toMatch(/verified \d+ file\(s\), 1 chain\(s\): intact/)
    expect(stdout).toContain('starts at its first record')
  })

  it('exits 1 and names FILE:LINE of the first problem', async () => {
    const { file, lines } = await oneFile()
    writeLines(file, [...lines.slice(0, 2), ...lines.slice(3)])
    const failed = await run(process.execPath, [CLI, 'audit', 'verify', file]).catch((err: { code: number; stdout: string }) => err)
    expect(failed).toMatchObject({ code: 1 })
    expect((failed as { stdout: string }).stdout.split('\n')[0]).toMatch(new RegExp(`^${file}:3 DG_AUDIT_GAP record seq 2 is missing`))
    expect((failed as { stdout: string }).stdout).toContain(`the first is at ${file}:3`)
  })

  it('says what an intact verdict proves, and that records cut from the end can only be seen against the off-host copy', async () => {
    const { file } = await oneFile()
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', file])
    expect(stdout).toContain('intact: no record is missing, edited or reordered between each chain\'s first record and its head')
    expect(stdout).not.toMatch(/intact: no record is missing, edited or out of order$/m)
    expect(stdout).toContain('records removed after the head leave no trace in these files: compare each head with the copy kept off the host')
  })

  it('--head: a cut tail is found against an anchor from the off-host copy (exit 1, naming the hash)', async () => {
    const { file, lines } = await oneFile()
    const anchor = openLine(lines.at(-1) ?? '')
    const hash = anchor.kind === 'sealed' ? anchor.hash : ''
    const intact = await run(process.execPath, [CLI, 'audit', 'verify', '--head', hash, file])
    expect(intact.stdout).toContain(`--head: the anchor is in the files (seq ${anchor.kind === 'sealed' ? anchor.seq : -1} in ${file})`)
    writeLines(file, lines.slice(0, -2))
    const failed = await run(process.execPath, [CLI, 'audit', 'verify', '--head', hash.toUpperCase(), file]).catch((err: { code: number; stdout: string }) => err)
    expect(failed).toMatchObject({ code: 1 })
    expect((failed as { stdout: string }).stdout.split('\n')[0]).toBe(`${file}:${lines.length - 2} DG_AUDIT_HEAD_MISSING the --head anchor ${hash} is in no file given: ` +
      `records up to it were removed from the end of the trail (this chain now ends at seq ${lines.length - 3}, line ${lines.length - 2}), or the anchor belongs to another host's or writer's trail`)
  })

  it('--head takes several anchors, repeated or comma-separated, and refuses what is not a hash', async () => {
    const { file, lines } = await oneFile()
    const [a, b] = [lines[2], lines.at(-1)].map((l) => { const o = openLine(l ?? ''); return o.kind === 'sealed' ? o.hash : '' })
    const both = await run(process.execPath, [CLI, 'audit', 'verify', '--head', `${a ?? ''},${b ?? ''}`, file])
    expect(both.stdout).toContain('--head: all 2 anchors are in the files')
    const missing = '0'.repeat(63) + '1'
    const one = await run(process.execPath, [CLI, 'audit', 'verify', '--head', a ?? '', '--head', missing, file]).catch((err: { code: number; stdout: string }) => err)
    expect(one).toMatchObject({ code: 1, stdout: expect.stringContaining(`DG_AUDIT_HEAD_MISSING the --head anchor ${missing}`) as unknown })
    expect((one as { stdout: string }).stdout).not.toContain(`anchor ${a ?? ''}`)
    const bad = await run(process.execPath, [CLI, 'audit', 'verify', '--head', 'abc123', file]).catch((err: { code: number; stderr: string }) => err)
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--head takes a record\'s full hash (64 hex digits), not \'abc123\'') as unknown })
  })

  it('exits 2 for a file it cannot read', async () => {
    const failed = await run(process.execPath, [CLI, 'audit', 'verify', '/nonexistent/audit.jsonl']).catch((err: { code: number; stderr: string }) => err)
    expect(failed).toMatchObject({ code: 2 })
    expect((failed as { stderr: string }).stderr).toContain('cannot read /nonexistent/audit.jsonl')
  })

  it('prints the published record schema', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'schema'])
    expect(stdout).toBe(readFileSync(resolve(import.meta.dirname, '..', '..', '..', 'schema', 'audit-record.v1.json'), 'utf8'))
  })
})

describe('rotation keeps one chain', () => {
  it('moves no record and duplicates none: every sample appears exactly once across the files', async () => {
    const { files } = await rotatedSet()
    const targets = files.flatMap((f) => linesOf(f)).map((l) => JSON.parse(l) as { request?: { target: string } }).flatMap((r) => r.request === undefined ? [] : [r.request.target])
    expect(targets).toEqual([0, 1, 2, 3, 4].map((n) => `/v1.41/containers/c${n}/json`))
  })

  it('names rotated files by their rotation time and starts each with a FileOpened record naming the file before it', async () => {
    const { files } = await rotatedSet()
    expect(files.slice(0, -1).every((f) => /audit\.2026-11-24T10-00-\d\d\.000Z\.jsonl$/.test(f))).toBe(true)
    const firstOf = (f: string): Record<string, unknown> => JSON.parse(linesOf(f)[0] ?? '') as Record<string, unknown>
    expect(firstOf(files[1] ?? '')).toMatchObject({ stage: 'FileOpened', opened: { reason: 'rotate-size', previous: { file: files[0]?.split('/').pop() } } })
  })
})

describe('appending to a file by hand', () => {
  it('a line appended to the file is reported (it does not chain)', async () => {
    const { file, lines } = await oneFile(2)
    appendFileSync(file, lines[1] + '\n')
    expect(verify([file]).problems[0]).toMatchObject({ line: lines.length + 1, code: 'DG_AUDIT_GAP' })
  })

  it('a renamed file still verifies: names are not part of the chain, the links are', async () => {
    const { dir, file } = await oneFile(2)
    renameSync(file, join(dir, 'evidence.jsonl'))
    expect(verify([join(dir, 'evidence.jsonl')]).problems).toEqual([])
  })
})
