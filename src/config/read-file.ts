/**
 * Reads a file named by the config, turning OS failures into a reason a
 * person can act on instead of an exception.
 */
import { readFile } from 'node:fs/promises'
import { userInfo } from 'node:os'

/** The file's text, or why it could not be read (`no such file or directory (ENOENT)`). */
export type FileRead = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string }

/** Reads `absolutePath` as UTF-8. Never throws. */
export async function readTextFile (absolutePath: string): Promise<FileRead> {
  try {
    return { ok: true, text: await readFile(absolutePath, 'utf8') }
  } catch (err) {
    return { ok: false, reason: osReason(err) }
  }
}

// Node's messages read `ENOENT: no such file or directory, open '/x'`; the
// path is already in our message, so keep the reason and the code.
function osReason (err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  const code = (err as NodeJS.ErrnoException).code
  const match = /^[A-Z]+: ([^,]+)/.exec(err.message)
  const reason = match?.[1] !== undefined && code !== undefined ? `${match[1]} (${code})` : err.message
  return code === 'EACCES' ? `${reason}; dockgate runs as ${whoAmI()}, which must be able to read it` : reason
}

function whoAmI (): string {
  try {
    const { username, uid } = userInfo()
    return `user ${username} (uid ${uid})`
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`
  }
}
