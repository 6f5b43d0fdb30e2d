/**
 * One writer per audit file. A second `dockgate serve` with the same config
 * (an operator trying something beside the service) would otherwise append
 * its own FileOpened record to the live file before failing to listen, and
 * two writers interleaving break the hash chain for good.
 *
 * The lock is `FILE.lock`, created exclusively, holding the holder's pid
 * and, on Linux, its start time. Node has no flock, so a lock left by a
 * process that died (SIGKILL, power loss) is recognised as stale: its pid
 * is gone, or is now another process (the start time differs: after a
 * container restart the same pid is someone else), or is this very process
 * (the previous life of a container's pid 1). A stale lock is taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'

/** Who holds a lock, as written into the lock file. */
interface Holder {
  readonly pid: number
  /** Clock ticks since boot when the process started (Linux), or null. */
  readonly started: number | null
}

/** Thrown when another live process holds the lock; the message names it. */
export class AuditFileInUse extends Error {}

/** Locks this process holds now: a lock file naming this pid and not in here is from a previous life. */
const heldHere = new Set<string>()

/**
 * Takes the lock for `file`, or throws {@link AuditFileInUse}. Returns the
 * function that releases it (idempotent). Other errors (no folder, no
 * permission) are thrown as they are.
 */
export function lockAuditFile (file: string): () => void {
  const path = `${file}.lock`
  const me: Holder = { pid: process.pid, started: startTicks(process.pid) }
  if (heldHere.has(path)) throw new AuditFileInUse(`the audit file ${file} is already open in this process (lock ${path})`)
  for (let attempt = 0; attempt < 2; attempt++) {
    if (tryCreate(path, me)) {
      heldHere.add(path)
      return releaser(path)
    }
    const holder = readHolder(path)
    if (holder !== null && holds(holder)) {
      throw new AuditFileInUse(`the audit file ${file} is being written by another dockgate process (pid ${holder.pid}, lock ${path}); ` +
        'stop it first, or give this one its own audit.file')
    }
    // Stale: the holder is gone. Remove it and try once more, so that two
    // processes taking over the same stale lock cannot both win.
    try { unlinkSync(path) } catch { /* taken over by someone else meanwhile */ }
  }
  throw new AuditFileInUse(`the audit file ${file} is locked by another process that keeps taking it over (lock ${path})`)
}

function tryCreate (path: string, me: Holder): boolean {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o640)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, JSON.stringify(me) + '\n')
  } finally {
    closeSync(fd)
  }
  return true
}

function releaser (path: string): () => void {
  let released = false
  return () => {
    if (released) return
    released = true
    heldHere.delete(path)
    try { unlinkSync(path) } catch { /* already gone: nothing to release */ }
  }
}

function readHolder (path: string): Holder | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<Holder>
    if (typeof parsed.pid !== 'number') return null
    return { pid: parsed.pid, started: typeof parsed.started === 'number' ? parsed.started : null }
  } catch {
    // Unreadable or half-written: a holder that died while writing it.
    return null
  }
}

/** True iff the recorded holder is a live process other than this one. */
function holds (holder: Holder): boolean {
  if (holder.pid === process.pid) return false
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  const started = startTicks(holder.pid)
  return holder.started === null || started === null || started === holder.started
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot), or null where there is no /proc. */
function startTicks (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const value = Number(fields[19])
    return Number.isSafeInteger(value) ? value : null
  } catch {
    return null
  }
}
