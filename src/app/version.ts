/**
 * dockgate's own version, from package.json, for `dockgate_build_info`
 * and the startup log. Read at runtime: package.json sits outside the
 * compiled tree, whether run from dist/ or src/.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** The package version, or `unknown` if package.json cannot be read. */
export function packageVersion (): string {
  try {
    const file = fileURLToPath(new URL('../../package.json', import.meta.url))
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown }
    return typeof parsed.version === 'string' ? parsed.version : 'unknown'
  } catch {
    return 'unknown'
  }
}
