/**
 * Watches the files a gateway loads and calls back, debounced, when any may
 * have changed. Directories are watched rather than files: editors and
 * `dockgate certs` replace files by renaming a new one over the old, which
 * leaves a watch on the old inode silent forever.
 */
import { createHash } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname } from 'node:path'

/** A running watch; `close` stops it and cancels a pending callback. */
export interface FileWatch {
  close: () => void
}

/**
 * Calls `onChange` once `debounceMs` after the last event concerning any of
 * `files` (several writes in a burst give one call), and only once their
 * contents read the same twice, `settleMs` apart (`debounceMs` unless
 * given): a file written in place in steps with a pause could otherwise be
 * applied half-written. Changed contents or a new event start the wait
 * again. Events for other files in the same folders are ignored, except
 * Kubernetes' `..data`-style symlink swaps, which replace every mounted
 * file at once. `onError` hears about folders that cannot be watched; the
 * rest are still watched.
 */
export function watchFiles (files: readonly string[], onChange: () => void, debounceMs: number, onError: (dir: string, err: Error) => void, settleMs = debounceMs): FileWatch {
  const namesByDir = new Map<string, Set<string>>()
  for (const file of files) {
    const names = namesByDir.get(dirname(file)) ?? new Set<string>()
    names.add(basename(file))
    namesByDir.set(dirname(file), names)
  }
  let timer: NodeJS.Timeout | null = null
  let pause: NodeJS.Timeout | null = null
  let generation = 0
  const schedule = (): void => {
    generation += 1
    if (timer !== null) clearTimeout(timer)
    const mine = generation
    timer = setTimeout(() => { timer = null; void settle(mine) }, debounceMs)
  }
  // A newer event (or close) makes this check stale: that event's own timer decides.
  const settle = async (mine: number): Promise<void> => {
    const first = await fingerprint(files)
    await new Promise((resolve) => { pause = setTimeout(resolve, settleMs) })
    const second = await fingerprint(files)
    if (mine !== generation) return
    if (second === first) onChange()
    else schedule()
  }
  const watchers: FSWatcher[] = []
  for (const [dir, names] of namesByDir) {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || names.has(name) || name.startsWith('..')) schedule()
      })
      watcher.on('error', (err) => { onError(dir, err) })
      watchers.push(watcher)
    } catch (err) {
      onError(dir, err as Error)
    }
  }
  return {
    close: () => {
      generation += 1
      if (timer !== null) clearTimeout(timer)
      if (pause !== null) clearTimeout(pause)
      for (const watcher of watchers) watcher.close()
    }
  }
}

/**
 * What `files` hold now, as one hash, to tell a real change from an
 * editor's swap file or a touch. Unreadable files count as their error
 * code, so fixing one is a change. Never rejects.
 */
export async function fingerprint (files: readonly string[]): Promise<string> {
  const hash = createHash('sha256')
  for (const file of files) {
    hash.update(file).update('\0')
    hash.update(await readFile(file).catch((err: NodeJS.ErrnoException) => err.code ?? 'unreadable')).update('\0')
  }
  return hash.digest('hex')
}
