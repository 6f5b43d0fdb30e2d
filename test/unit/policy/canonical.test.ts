import { describe, expect, it } from 'vitest'
import { canonicalize, encodePath, nonCanonicalRefusal, renderTarget } from '../../../src/policy/canonical.js'
import type { CanonicalTarget } from '../../../src/policy/types.js'

function accept (raw: string): CanonicalTarget {
  const result = canonicalize(raw)
  if (!result.ok) throw new Error(`expected ${JSON.stringify(raw)} to be accepted, refused: ${result.reason}`)
  return result.target
}

function refuse (raw: string): string {
  const result = canonicalize(raw)
  if (result.ok) throw new Error(`expected ${JSON.stringify(raw)} to be refused, got ${JSON.stringify(result.target)}`)
  return result.reason
}

// Targets real Docker clients send; every one must pass and round-trip.
const ACCEPTED = [
  '/_ping',
  '/v1.41/_ping',
  '/v1.47/containers/json?all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D',
  '/containers/json',
  '/v1.41/containers/abc123/start',
  '/v1.41/containers/create?name=web',
  '/v1.41/images/nginx:latest/json',
  '/v1.41/images/sha256:0123abcd/json',
  '/v1.41/images/library/nginx/json',
  '/v1.41/distribution/nginx@sha256:abc/json',
  '/v1.41/exec/e1/start',
  '/v1.41/containers/x/attach?stream=1&stdin=1&stdout=1',
  '/v1.41/containers/x/attach/ws?stream=1',
  '/v1.41/networks/n1/connect',
  '/v1.41/volumes/data',
  '/v1.41/plugins/vieux/sshfs:latest/enable',
  '/v1.41/images/127.0.0.1:5000/team/app:1/push',
  '/v1.41/events?since=0&until=9',
  "/v1.41/containers/a-b_c.d~e!$&'()*+,=:@/json",
  '/v999.999/info',
  '/v1.0/info',
  '/CONTAINERS/json',
  '/containers/v1.41',
  '/v',
  '/version',
  '/v1.41/version',
  '/x?a=%zz&b=%00',
  '/x?q=/..//',
  '/x?a?b'
]

describe('canonicalize: accepted targets', () => {
  it.each(ACCEPTED)('accepts %s and reconstructs it exactly', (raw) => {
    const target = accept(raw)
    expect(renderTarget(target)).toBe(raw)
    const rebuilt = (target.apiVersion === null ? '' : `/v${target.apiVersion}`) + target.path + (target.query === '' ? '' : `?${target.query}`)
    expect(rebuilt).toBe(raw)
  })

  it('splits the API version off and keeps the path and query', () => {
    expect(accept('/v1.41/containers/json?all=1')).toEqual({
      path: '/containers/json', segments: ['containers', 'json'], apiVersion: '1.41', query: 'all=1'
    })
  })

  it('leaves apiVersion null for unversioned requests', () => {
    expect(accept('/_ping')).toEqual({ path: '/_ping', segments: ['_ping'], apiVersion: null, query: '' })
  })

  it('treats an upper-case path as a literal (no rule written in lower case matches it)', () => {
    expect(accept('/CONTAINERS/json').segments).toEqual(['CONTAINERS', 'json'])
  })

  it('returns frozen results', () => {
    const target = accept('/v1.41/containers/json')
    expect(Object.isFrozen(target)).toBe(true)
    expect(Object.isFrozen(target.segments)).toBe(true)
  })
})

describe('canonicalize: names with characters a path must encode (issue 17)', () => {
  it('accepts a space in a network name as %20, judges the decoded name, and forwards the one spelling', () => {
    const result = canonicalize('/v1.41/networks/test%2001', 'DELETE')
    if (!result.ok) throw new Error(result.reason)
    expect(result.target.segments).toEqual(['networks', 'test 01'])
    expect(result.target.path).toBe('/networks/test%2001')
    expect(renderTarget(result.target)).toBe('/v1.41/networks/test%2001')
    expect(encodePath(result.target.segments)).toBe('/networks/test%2001')
  })
  it.each([
    ['/networks/a%7Bb%7D', ['networks', 'a{b}']],
    ['/networks/%22q%22%5B0%5D', ['networks', '"q"[0]']]
  ])('accepts the other name characters a path cannot hold: %s', (raw, segments) => {
    const result = canonicalize(raw)
    expect(result.ok && result.target.segments).toEqual(segments)
  })
  it.each([
    ['/networks/a%2fb', "percent-encoding (%) in path: %2f is '/', which no name may hold"],
    ['/networks/a%5Cb', "percent-encoding (%) in path: %5C is '\\', which no name may hold"],
    ['/networks/a%2520b', "percent-encoding (%) in path: %25 is '%', which no name may hold"],
    ['/networks/a%3Bb', "percent-encoding (%) in path: %3B is ';', which no name may hold"],
    ['/networks/a%3Fb', "percent-encoding (%) in path: %3F is '?', which no name may hold"],
    ['/networks/a%23b', "percent-encoding (%) in path: %23 is '#', which no name may hold"],
    ['/networks/a%00b', 'percent-encoding (%) in path: %00, which no name may hold'],
    ['/networks/a%0Ab', 'percent-encoding (%) in path: %0A, which no name may hold'],
    ['/networks/a%7fb', 'percent-encoding (%) in path: %7f, which no name may hold'],
    ['/networks/caf%C3%A9', 'percent-encoding (%) in path: %C3, which no name may hold'],
    ['/networks/a%7bb', 'percent-encoding (%) in path: write %7B, with upper-case hex'],
    ['/networks/%2e%2e', "percent-encoding (%) in path: %2e is '.', which needs no encoding; send it as it is"],
    ['/networks/a%2', 'percent-encoding (%) in path not followed by two hex digits'],
    ['/networks/a%zz', 'percent-encoding (%) in path not followed by two hex digits']
  ])('refuses %s: %s', (raw, reason) => {
    expect(refuse(raw)).toBe(reason)
  })
})

describe('canonicalize: known attacks and ambiguities are refused', () => {
  it('Tecnativa #1: percent-encoded letters (%6a%73%6f%6e = json)', () => {
    expect(refuse('/v1.41/containers/%6a%73%6f%6e')).toBe("percent-encoding (%) in path: %6a is 'j', which needs no encoding; send it as it is")
  })
  it('Tecnativa %31 bypass: encoded version digit', () => {
    expect(refuse('/v%31.41/containers/json')).toBe("percent-encoding (%) in path: %31 is '1', which needs no encoding; send it as it is")
  })
  it('dot-dot traversal to reach exec', () => {
    expect(refuse('/containers/x/../../exec')).toBe("dot segment '..' in path")
  })
  it('single dot segment', () => {
    expect(refuse('/containers/./json')).toBe("dot segment '.' in path")
  })
  it('encoded dot-dot (%2e%2e)', () => {
    expect(refuse('/containers/%2e%2e/exec')).toBe("percent-encoding (%) in path: %2e is '.', which needs no encoding; send it as it is")
  })
  it('encoded slash (%2F), which Go decodes into a separator', () => {
    expect(refuse('/containers/a%2Fb/json')).toBe("percent-encoding (%) in path: %2F is '/', which no name may hold")
  })
  it('overlong UTF-8 encoding of a dot, raw or escaped', () => {
    expect(refuse('/containers/%c0%ae%c0%ae/json')).toBe('percent-encoding (%) in path: %c0, which no name may hold')
    expect(refuse('/containers/\u00c0\u00ae/json')).toBe('non-ASCII character in path')
  })
  it('NUL byte in path and in query', () => {
    expect(refuse('/containers/json\u0000')).toBe('control character in path')
    expect(refuse('/containers/json?a=\u0000')).toBe('control character in query')
  })
  it('doubled slash', () => {
    expect(refuse('/containers//json')).toBe('doubled slash in path')
  })
  it('leading doubled slash (protocol-relative look)', () => {
    expect(refuse('//evil/containers/json')).toBe('doubled slash in path')
  })
  it('trailing slash', () => {
    expect(refuse('/containers/json/')).toBe('trailing slash in path')
    expect(refuse('/_ping/')).toBe('trailing slash in path')
  })
  it('the root path alone', () => {
    expect(refuse('/')).toBe('empty path (/)')
    expect(refuse('/?x=1')).toBe('empty path (/)')
  })
  it('loose version prefix that dockerd still strips (/v1)', () => {
    expect(refuse('/v1/containers/json')).toBe("malformed API version prefix 'v1'")
  })
  it.each(['/v1..41/x', '/v.1/x', '/v1.41.0/x', '/v1./x', '/v1.4100/x', '/v..../x'])('malformed version %s', (raw) => {
    expect(refuse(raw)).toMatch(/^malformed API version prefix/)
  })
  it('double version prefix', () => {
    expect(refuse('/v1.41/v1.40/containers/json')).toBe('doubled API version prefix')
    expect(refuse('/v1.41/v1/containers/json')).toBe('doubled API version prefix')
  })
  it('version with nothing after it', () => {
    expect(refuse('/v1.41')).toBe('API version prefix with no path after it')
    expect(refuse('/v1.41/')).toBe('trailing slash in path')
    expect(refuse('/v1.41?x=1')).toBe('API version prefix with no path after it')
  })
  it('backslashes', () => {
    expect(refuse('\\containers\\json')).toBe('target does not start with /')
    expect(refuse('/containers\\json')).toBe('backslash in path')
  })
  it('semicolon (matrix parameters)', () => {
    expect(refuse('/containers/json;x')).toBe('semicolon in path')
  })
  it('absolute-form target', () => {
    expect(refuse('http://evil/containers/json')).toBe('absolute-form target (a full URL); send only the path')
  })
  it('authority-form and asterisk-form targets', () => {
    expect(refuse('evil:2375')).toBe('target does not start with /')
    expect(refuse('*')).toBe('asterisk-form target (*) is not an API path')
    expect(refuse('')).toBe('empty request target')
  })
  it('fragment', () => {
    expect(refuse('/containers/json#frag')).toBe('fragment (#) in request target')
    expect(refuse('/containers/json?a=1#frag')).toBe('fragment (#) in request target')
  })
  it('spaces, tabs, CR/LF and DEL', () => {
    expect(refuse('/containers/json x')).toBe('space in path')
    expect(refuse('/containers/json\t')).toBe('control character in path')
    expect(refuse('/containers/json\r\nX-Injected: 1')).toBe('control character in path')
    expect(refuse('/containers/\u007fjson')).toBe('control character in path')
    expect(refuse('/x?a=b c')).toBe('space in query')
    expect(refuse('/x?a=\u00e9')).toBe('non-ASCII character in query')
  })
  it('characters outside RFC 3986 pchar', () => {
    for (const ch of ['"', '<', '>', '[', ']', '^', '`', '{', '|', '}']) {
      expect(refuse(`/containers/a${ch}b/json`)).toBe(`character '${ch}' not allowed in path`)
    }
  })
  // dockerd routes /containers/{name:.*}/exec: a legacy link alias (web/db)
  // names a container across two segments, past deny rules written with {id}
  // and past body rules keyed on the one-segment form.
  it('a container, exec, network or volume name spanning segments (link-alias bypass)', () => {
    expect(refuse('/v1.41/containers/web/db/exec')).toBe(
      'container name with a slash in /containers/web/db/exec (dockerd would read one name where rules see several segments); address the container by its own name or ID')
    expect(refuse('/v1.23/containers/web/db/start')).toContain('container name with a slash')
    expect(refuse('/containers/web/db/update')).toContain('container name with a slash')
    expect(refuse('/containers/web/db/attach/ws')).toContain('container name with a slash')
    expect(refuse('/containers/web/attach/wx')).toContain('container name with a slash')
    expect(refuse('/exec/a/b/start')).toContain('exec instance name with a slash')
    expect(refuse('/networks/a/b/connect')).toContain('network name with a slash')
    expect(refuse('/volumes/a/b')).toContain('volume name with a slash')
  })
  // dockerd routes DELETE /containers/{name:.*} and GET|DELETE
  // /networks/{id:.*}: with the name last, three segments are one name.
  it('a container or network name ending the path across segments, for the methods whose route ends in the name', () => {
    const refused = (target: string, method: string): string => {
      const result = canonicalize(target, method)
      if (result.ok) throw new Error(`expected ${method} ${target} to be refused`)
      return result.reason
    }
    expect(refused('/v1.41/containers/web/db', 'DELETE')).toBe(
      'container name with a slash in /containers/web/db (dockerd would read one name where rules see several segments); address the container by its own name or ID')
    expect(refused('/containers/web/json', 'DELETE')).toContain('container name with a slash')
    expect(refused('/networks/a/b', 'GET')).toContain('network name with a slash in /networks/a/b')
    expect(refused('/networks/a/b', 'delete')).toContain('network name with a slash')
    for (const [method, target] of [['POST', '/containers/web/start'], ['GET', '/containers/web/json'], ['DELETE', '/containers/web'], ['POST', '/networks/n/connect'], ['DELETE', '/networks/n'], ['GET', '/networks']]) {
      expect(canonicalize(target ?? '', method).ok, `${method} ${target}`).toBe(true)
    }
    expect(canonicalize('/containers/web/db').ok).toBe(true)
  })
  // docker rm --link web/db (docker-py remove_container(link=True)) sends
  // DELETE /containers/web/db?link=1: dockerd removes the alias from web
  // and returns before removing any container.
  it('a legacy link removal: DELETE /containers/{name}/{alias} with a true link query, read as dockerd reads it', () => {
    for (const query of ['link=1', 'link=True', 'v=False&link=True&force=False', 'link=yes', 'link=%20on', 'l%69nk=1', 'link=1&link=0']) {
      const result = canonicalize(`/v1.41/containers/web/db?${query}`, 'DELETE')
      expect(result.ok, query).toBe(true)
      if (result.ok) expect(result.target.segments).toEqual(['containers', 'web', 'db'])
    }
    for (const query of ['link=0', 'link=false', 'link=FALSE', 'link=no', 'link=none', 'link=', 'link=%20', 'LINK=1', 'links=1', 'force=1', 'link=0&link=1']) {
      const result = canonicalize(`/v1.41/containers/web/db?${query}`, 'DELETE')
      expect(result.ok ? 'accepted' : result.reason, query).toContain('container name with a slash in /containers/web/db')
    }
    expect(canonicalize('/containers/web/db/x?link=1', 'DELETE').ok).toBe(false)
    expect(canonicalize('/networks/a/b?link=1', 'DELETE').ok).toBe(false)
  })
  it('an empty query after ?, which could not be forwarded byte for byte', () => {
    expect(refuse('/containers/json?')).toBe("empty query after '?'")
  })
})

describe('canonicalize: properties over generated targets', () => {
  // A small seeded generator (no fast-check dependency): deterministic, so a
  // failure reproduces, and biased towards the characters that matter.
  const ALPHABET = ['/', '/', '/', 'a', 'b', 'json', 'containers', '.', '..', 'v1.41', 'v1', 'v', '1', '.', '%2F', '%', '?', '#', ';', '\\', ' ', 'a', 'json', '_ping', '~', '*', ':', '@', '\u0000', '\u00e9', '&', '=']
  function generate (seed: number, count: number): string[] {
    let state = seed
    const next = (n: number): number => { // xorshift32
      state ^= state << 13
      state ^= state >>> 17
      state ^= state << 5
      return (state >>> 0) % n
    }
    // Mostly origin-form, as real requests are; some not, to exercise the refusals.
    return Array.from({ length: count }, () => (next(10) === 0 ? '' : '/') +
      Array.from({ length: 1 + next(8) }, () => ALPHABET[next(ALPHABET.length)] ?? '').join(''))
  }
  const samples = generate(42, 50000)
  const accepted = samples.map((raw) => ({ raw, result: canonicalize(raw) }))
    .flatMap(({ raw, result }) => result.ok ? [{ raw, target: result.target }] : [])

  it('accepts a meaningful share of the samples (the generator is not vacuous)', () => {
    expect(accepted.length).toBeGreaterThan(1000)
    expect(accepted.some(({ target }) => target.apiVersion !== null)).toBe(true)
    expect(accepted.some(({ target }) => target.query !== '')).toBe(true)
  })

  it('reconstructs every accepted target exactly', () => {
    for (const { raw, target } of accepted) expect(renderTarget(target)).toBe(raw)
  })

  it('never yields an empty, dot or escaped segment, nor a version-like first segment', () => {
    for (const { target } of accepted) {
      expect(target.segments.length).toBeGreaterThan(0)
      for (const segment of target.segments) {
        expect(['', '.', '..']).not.toContain(segment)
        expect(segment).not.toMatch(/[%\\;#?\s]/)
      }
      expect(target.segments[0]).not.toMatch(/^v[0-9.]+$/)
      expect(target.path).toBe(`/${target.segments.join('/')}`)
    }
  })
})

describe('nonCanonicalRefusal', () => {
  it('answers 400 DG_NON_CANONICAL with the reason', () => {
    expect(nonCanonicalRefusal('doubled slash in path')).toEqual({
      code: 'DG_NON_CANONICAL',
      status: 400,
      message: 'dockgate: request target is not canonical: doubled slash in path'
    })
  })
})
