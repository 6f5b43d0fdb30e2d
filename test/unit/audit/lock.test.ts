/**
 * One writer per audit file: a second process (or open) is refused before
 * it writes anything, and a lock left by a writer that died is taken over.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { openAuditLog } from '../../../src/audit/log.js'
import { AuditFileInUse, lockAuditFile } from '../../../src/audit/lock.js'
import { trailDir, verify, writeSamples } from '../../support/trail.js'

/** A live process other than this one, and its start time as /proc tells it. */
async function withOtherProcess (use: (pid: number) => void): Promise<void> {
  const child = spawn('sleep', ['30'])
  try {
    await new Promise((resolve) => child.once('spawn', resolve))
    use(child.pid ?? 0)
  } finally {
    child.kill('SIGKILL')
  }
}

const startTicksOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
}

describe('the audit file lock', () => {
  it('refuses a second writer before it writes anything, and lets one in after the first closes', async () => {
    const { file } = trailDir()
    const first = openAuditLog({ file })
    writeSamples(first, 2)
    const before = readFileSync(file, 'utf8')
    expect(() => openAuditLog({ file })).toThrow(AuditFileInUse)
    expect(readFileSync(file, 'utf8')).toBe(before)
    await first.close()
    expect(existsSync(`${file}.lock`)).toBe(false)
    const second = openAuditLog({ file })
    writeSamples(second, 1, 2)
    await second.close()
    expect(verify([file]).problems).toEqual([])
  })

  it('names the process that holds it', async () => {
    const { file } = trailDir()
    await withOtherProcess((pid) => {
      writeFileSync(`${file}.lock`, JSON.stringify({ pid, started: startTicksOf(pid) }))
      expect(() => lockAuditFile(file)).toThrow(`the audit file ${file} is being written by another dockgate process (pid ${pid}, lock ${file}.lock); ` +
        'stop it first, or give this one its own audit.file')
    })
  })

  it('takes over a lock whose holder died, whose pid is now another process, or that names this process', async () => {
    const { file } = trailDir()
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, started: 1 }))
    lockAuditFile(file)()
    await withOtherProcess((pid) => {
      writeFileSync(`${file}.lock`, JSON.stringify({ pid, started: startTicksOf(pid) + 1 }))
      lockAuditFile(file)()
    })
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, started: 0 }))
    lockAuditFile(file)()
    writeFileSync(`${file}.lock`, '{"pi')
    const release = lockAuditFile(file)
    expect(JSON.parse(readFileSync(`${file}.lock`, 'utf8'))).toMatchObject({ pid: process.pid })
    release()
    expect(existsSync(`${file}.lock`)).toBe(false)
  })
})
