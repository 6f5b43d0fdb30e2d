/**
 * The README is a landing page that links into docs/, and the docs pages
 * link to each other's sections: every markdown link to a local file must
 * name a file that exists, and every `#anchor` must be a heading of the
 * page it points into (slugged as GitHub does), so moving or renaming a
 * section cannot leave a dead link behind. The README must also link every
 * docs page (and SECURITY.md), or a page is unreachable from the landing page.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const DOCS = join(ROOT, 'docs')
const pages = [join(ROOT, 'README.md'), join(ROOT, 'SECURITY.md'), ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort().map((f) => join(DOCS, f))]

/** The page's lines outside fenced code blocks, where links and headings render. */
function prose (file: string): string[] {
  let fenced = false
  return readFileSync(file, 'utf8').split('\n').filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced
      return false
    }
    return !fenced
  })
}

/** GitHub's heading ids: lower case, punctuation dropped, each space a hyphen, repeats numbered. */
function anchors (file: string): Set<string> {
  const seen = new Map<string, number>()
  const ids = new Set<string>()
  for (const line of prose(file)) {
    const heading = /^#{1,6} (.*)$/.exec(line)?.[1]
    if (heading === undefined) continue
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '').trim()
    const base = text.toLowerCase().replace(/[^\p{L}\p{N}\p{M} _-]/gu, '').replace(/ /g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    ids.add(count === 0 ? base : `${base}-${count}`)
  }
  return ids
}

/** Every link target in the page's prose (inline code spans are not links). */
function links (file: string): string[] {
  const targets: string[] = []
  for (const line of prose(file)) {
    for (const m of line.replace(/`[^`]*`/g, '``').matchAll(/\]\(([^)\s]+)\)/g)) targets.push(m[1] ?? '')
  }
  return targets
}

describe('documentation links', () => {
  for (const page of pages) {
    const name = relative(ROOT, page)
    it(`every local link and anchor in ${name} resolves`, () => {
      const broken: string[] = []
      for (const target of links(page)) {
        if (/^[a-z]+:/i.test(target)) continue
        const [path = '', anchor] = target.split('#')
        const file = path === '' ? page : resolve(dirname(page), path)
        if (!existsSync(file)) {
          broken.push(`${target}: no such file`)
          continue
        }
        if (anchor === undefined) continue
        if (!file.endsWith('.md')) broken.push(`${target}: an anchor into a file that is not markdown`)
        else if (!anchors(file).has(anchor)) broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, file)}`)
      }
      expect(broken).toEqual([])
    })
  }

  it('the README links every page in docs/', () => {
    const linked = new Set(links(join(ROOT, 'README.md')).map((t) => t.split('#')[0]))
    const unlinked = pages.slice(1).map((p) => relative(ROOT, p)).filter((p) => !linked.has(p))
    expect(unlinked).toEqual([])
  })
})
