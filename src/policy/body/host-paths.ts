/**
 * Host paths: lexical cleaning exactly like Go's path.Clean (which dockerd
 * applies to bind sources), and the globs of `containers.bindMounts`.
 *
 * Globs are absolute, clean paths whose segments may contain `*` (any run
 * of characters within one segment) or be `**` (any number of segments,
 * including none, so `/srv/ci/**` covers `/srv/ci` itself). Matching is on
 * the cleaned path, so `/srv/ci/../../etc` is judged as `/etc`.
 *
 * Symbolic links are NOT resolved: dockgate cannot see the daemon's file
 * system, and a check would race with the mount anyway. A directory that a
 * team's containers can write to and that is allowed as a bind source lets
 * them plant a symlink to any host path (see docs/policy.md, "Decisions and
 * known limits").
 */
import { compileGlob, globMatches, type Glob } from '../identity.js'

/** Go's path.Clean for absolute and relative slash paths. */
export function cleanPath (path: string): string {
  if (path === '') return '.'
  const rooted = path.startsWith('/')
  const out: string[] = []
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue
    if (segment === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop()
      else if (!rooted) out.push('..')
      continue
    }
    out.push(segment)
  }
  const joined = out.join('/')
  if (rooted) return `/${joined}`
  return joined === '' ? '.' : joined
}

/** A compiled bind-mount glob. */
export interface PathGlob {
  readonly text: string
  readonly segments: readonly (Glob | '**')[]
}

/** Compiles a glob, or says why it is not one (not absolute, not clean, `**` inside a segment). */
export function compilePathGlob (text: string): PathGlob | string {
  if (!text.startsWith('/')) return `bind-mount pattern "${text}" must be an absolute host path like /srv/ci/**`
  if (text !== '/' && cleanPath(text) !== text) {
    return `bind-mount pattern "${text}" is not a clean path (no //, . or .. segments, no trailing /); write ${cleanPath(text)}`
  }
  const parts = text === '/' ? [] : text.slice(1).split('/')
  const segments: (Glob | '**')[] = []
  for (const part of parts) {
    if (part === '**') segments.push('**')
    else if (part.includes('**')) return `'**' must be a whole segment in bind-mount pattern "${text}"`
    else segments.push(compileGlob(part))
  }
  return Object.freeze({ text, segments: Object.freeze(segments) })
}

/** True iff the (already cleaned, absolute) `path` matches `glob`. */
export function pathGlobMatches (glob: PathGlob, path: string): boolean {
  const parts = path === '/' ? [] : path.slice(1).split('/')
  const memo = new Map<number, boolean>()
  const go = (g: number, p: number): boolean => {
    const key = g * (parts.length + 1) + p
    const known = memo.get(key)
    if (known !== undefined) return known
    let result: boolean
    const segment = glob.segments[g]
    if (segment === undefined) result = p === parts.length
    else if (segment === '**') result = go(g + 1, p) || (p < parts.length && go(g, p + 1))
    else result = p < parts.length && globMatches(segment, parts[p] ?? '') && go(g + 1, p + 1)
    memo.set(key, result)
    return result
  }
  return go(0, 0)
}
