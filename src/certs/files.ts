/**
 * Small file-system helpers for key material: atomic writes with an exact
 * mode and private directories. Kept apart from the layout so the layout
 * reads as policy (what goes where) and this as mechanism.
 */
import { randomBytes } from 'node:crypto'
import { chmod, mkdir, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** Mode for private keys: readable by the owner only. */
export const PRIVATE_FILE_MODE = 0o600
/** Mode for certificates, which are public by nature. */
export const PUBLIC_FILE_MODE = 0o644
/** Mode for directories that hold private keys. */
export const PRIVATE_DIR_MODE = 0o700

/**
 * Writes `contents` to `path` so that readers see either the old file or the
 * complete new one, never a torn write, and the file has exactly `mode`.
 * The mode is set at creation (so a key is never briefly world-readable) and
 * again with chmod, because the umask can only narrow the creation mode.
 * Invariant: on failure no temporary file is left behind.
 */
export async function writeFileAtomic (path: string, contents: string, mode: number): Promise<void> {
  // Same directory as the target: rename is only atomic within one file system.
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(contents)
      await handle.chmod(mode)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (err) {
    await rm(temp, { force: true })
    throw err
  }
}

/**
 * Creates `path` (and missing parents) and makes `path` itself exactly 0700,
 * also when it already existed with a wider mode.
 */
export async function ensurePrivateDir (path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE })
  await chmod(path, PRIVATE_DIR_MODE)
}

/** Whether something exists at `path`; errors other than "not found" propagate. */
export async function pathExists (path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

/**
 * Renames `folder` to `<folder>.replaced-<UTC time>` (`ca.replaced-20261124T120000Z`,
 * with `-2`, `-3`, ... should that exist) in the same parent, so the rename
 * is atomic and nothing in it is lost. Returns the new path.
 */
export async function moveAside (folder: string, now: Date): Promise<string> {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  for (let attempt = 1; ; attempt++) {
    const target = `${folder}.replaced-${stamp}${attempt === 1 ? '' : `-${attempt}`}`
    if (await pathExists(target)) continue
    await rename(folder, target)
    return target
  }
}
