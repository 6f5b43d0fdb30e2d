/**
 * Small file-system steps of the audit writer (file-writer.ts), each with
 * the reason it is done that way.
 */
import { basename, dirname } from 'node:path'
import { closeSync, fdatasyncSync, openSync, readlinkSync } from 'node:fs'
import { sha256 } from './chain.js'

/**
 * An incomplete line described as a UTF-8 reader (the verifier) sees it: a
 * write cut inside a character reads back as U+FFFD, so raw bytes would
 * not match.
 */
export function tornFacts (torn: Buffer): { bytes: number; sha256: string } {
  const seen = Buffer.from(torn.toString('utf8'), 'utf8')
  return { bytes: seen.length, sha256: sha256(seen) }
}


/** Syncs a file's folder: a new file's name must survive a power loss too, not just its contents. */
export function syncFolder (file: string): void {
  const fd = openSync(dirname(file), 'r')
  try {
    // Some file systems cannot sync a folder; the file itself is synced.
    ignoreErrors(() => { fdatasyncSync(fd) })
  } finally {
    closeSync(fd)
  }
}

/** Runs a best-effort cleanup after an error that is already being reported. */
export function ignoreErrors (action: () => void): void {
  try {
    action()
  } catch {
    // the original error is the one that matters
  }
}

/** Where an open file is now, by name (Linux knows; elsewhere null): logrotate renamed it. */
export function nameOfOpenFile (fd: number): string | null {
  try {
    const target = readlinkSync(`/proc/self/fd/${fd}`)
    return target.endsWith(' (deleted)') ? null : basename(target)
  } catch {
    return null
  }
}

/** An error's message, for logs and records. */
export function messageOf (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
