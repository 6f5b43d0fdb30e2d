/**
 * Property tests of the canonical form (src/policy/canonical.ts) against a
 * model of how dockerd routes a target (test/support/dockerd-routing.ts:
 * Go's URL parsing, gorilla/mux's clean-and-redirect and decoded-path
 * matching, `/v{version:[0-9.]+}` prefixes, `{name:.*}` variables). For
 * generated targets (route templates with names, version prefixes, percent
 * encodings, dot segments, slashes, backslashes, `;`, case changes,
 * absolute forms, queries and fragments): either dockgate refuses the
 * target, or dockerd routes exactly the path, version and query dockgate
 * judged, and every name dockerd reads is the one segment the rules saw.
 *
 * The model is itself checked against the real daemon on its socket, and
 * so is what dockgate accepts: a target it accepts names, for dockerd, the
 * very object its segments name.
 */
import fc from 'fast-check'
import { describe, expect, inject, it } from 'vitest'
import { canonicalize } from '../../src/policy/canonical.js'
import { daemonRawGet } from '../support/daemon.js'
import { dockerdView, ROUTES, routeOf } from '../support/dockerd-routing.js'

const socket = inject('dockerSocket')

const NAME = fc.stringMatching(/^[a-z0-9][a-z0-9_.-]{0,7}$/)
/** A name, sometimes two joined by a slash (a link alias `web/db`, a network `a/b`). */
const NAME_OR_SPAN = fc.oneof({ weight: 4, arbitrary: NAME }, { weight: 1, arbitrary: fc.tuple(NAME, NAME).map(([a, b]) => `${a}/${b}`) })
const VERSIONS = ['', '/v1.41', '/v1.40', '/v1.24', '/v99.0', '/v1', '/v1.41a', '/v%31.41', '/v1.41.0', '/V1.41', '/v01.41', '/v1.41/v1.40', '/v.41']
const QUERIES = ['', '?all=1', '?a=%2F&b=..', '?', '?x=1#frag', '#frag', '?name=x%2Fy', '?filters=%7B%7D']

/** A route's path with its variables filled in. */
const routePath = (method: string): fc.Arbitrary<string> =>
  fc.constantFrom(...ROUTES.filter(([m]) => m === method).map(([, template]) => template))
    .chain((template) => fc.array(NAME_OR_SPAN, { minLength: 3, maxLength: 3 }).map((names) => {
      let i = 0
      return template.replace(/\{[^}]+\}/g, () => names[i++] ?? 'x')
    }))

/** One change a client could make to a path; `at` picks where. */
type Mutation = (path: string, at: number) => string
const pick = (path: string, at: number, where: RegExp): number => {
  const spots = [...path.matchAll(where)].map((m) => m.index)
  return spots.length === 0 ? -1 : spots[at % spots.length] ?? -1
}
const atSlash = (replacement: string): Mutation => (path, at) => {
  const i = pick(path, at, /\//g)
  return i < 0 ? path : path.slice(0, i) + replacement + path.slice(i + 1)
}
const MUTATIONS: readonly Mutation[] = [
  (path, at) => { // percent-encode one letter or digit, in either case of hex
    const i = pick(path, at, /[a-z0-9]/g)
    if (i < 0) return path
    const hex = path.charCodeAt(i).toString(16)
    return path.slice(0, i) + '%' + (at % 2 === 0 ? hex : hex.toUpperCase()) + path.slice(i + 1)
  },
  atSlash('%2F'), atSlash('%2f'), atSlash('\\'), atSlash('//'), atSlash('/./'), atSlash('/../'), atSlash('/%2e/'), atSlash('/%2e%2e/'), atSlash('/x/../'),
  (path) => `${path}/`,
  (path) => `${path};x=1`,
  (path, at) => { const i = pick(path, at, /[a-z]/g); return i < 0 ? path : path.slice(0, i) + path.charAt(i).toUpperCase() + path.slice(i + 1) },
  (path, at) => { const i = pick(path, at, /\//g); return i < 0 ? path : `${path.slice(0, i)}/%zz${path.slice(i)}` },
  (path) => `http://docker${path}`
]

/** Mostly none, so that a good share of targets is canonical; else one or two. */
const MUTATION_LIST = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Array<[number, number]>>([]) },
  { weight: 3, arbitrary: fc.array(fc.tuple(fc.nat(MUTATIONS.length - 1), fc.nat(20)), { minLength: 1, maxLength: 2 }) }
)
const VERSION = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('', '/v1.41', '/v1.24') }, { weight: 3, arbitrary: fc.constantFrom(...VERSIONS) })
const QUERY = fc.oneof({ weight: 2, arbitrary: fc.constantFrom('', '?all=1') }, { weight: 3, arbitrary: fc.constantFrom(...QUERIES) })

const TARGETS = (method: string): fc.Arbitrary<string> => fc.record({
  version: VERSION,
  path: routePath(method),
  mutations: MUTATION_LIST,
  query: QUERY
}).map(({ version, path, mutations, query }) => {
  let target = `${version}${path}`
  for (const [which, at] of mutations) target = (MUTATIONS[which] as Mutation)(target, at)
  return `${target}${query}`
})
const REQUESTS = fc.constantFrom('GET', 'POST', 'DELETE').chain((method) => TARGETS(method).map((target) => ({ method, target })))

describe('the canonical form against dockerd\'s routing (property tests)', () => {
  it('a target dockgate accepts is routed by dockerd to exactly the version, path and query it judged, with every name one segment', () => {
    let accepted = 0
    let refused = 0
    fc.assert(fc.property(REQUESTS, ({ method, target }) => {
      const canonical = canonicalize(target, method)
      if (!canonical.ok) {
        refused += 1
        return
      }
      accepted += 1
      const view = dockerdView(target)
      expect(view).toEqual({ kind: 'route', version: canonical.target.apiVersion, path: canonical.target.path, query: canonical.target.query })
      expect(`/${canonical.target.segments.join('/')}`).toBe(canonical.target.path)
      const route = routeOf(method, canonical.target.path)
      for (const name of route?.vars ?? []) expect(name, `${method} ${target} -> ${route?.template ?? ''}`).not.toContain('/')
    }), { numRuns: 400 })
    // Both sides must be well exercised for the property to mean anything.
    expect(accepted).toBeGreaterThan(60)
    expect(refused).toBeGreaterThan(60)
  })

  it('a refused target is refused whatever the method, except names dockerd reads across segments only for some methods', () => {
    fc.assert(fc.property(REQUESTS, ({ target }) => {
      const withoutMethod = canonicalize(target)
      if (!withoutMethod.ok) for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']) expect(canonicalize(target, method).ok).toBe(false)
    }), { numRuns: 300 })
  })
})

describe.skipIf(socket === '')('the model and the canonical form against the real daemon', () => {
  // Read-only routes whose answers do not change between two asks (other tests' containers come and go, so only the list's shape is compared).
  const readRequests = fc.record({
    version: VERSION,
    path: fc.oneof(
      fc.constantFrom('/_ping', '/version', '/containers/json'),
      fc.tuple(fc.constantFrom('/containers/{}/json', '/exec/{}/json', '/networks/{}', '/volumes/{}'), NAME_OR_SPAN).map(([t, name]) => t.replace('{}', `dg-prop-${name}`))
    ),
    mutations: MUTATION_LIST,
    query: fc.constantFrom('', '?all=1', '?x=1#frag', '?')
  }).map(({ version, path, mutations, query }) => {
    let target = `${version}${path}`
    for (const [which, at] of mutations) target = (MUTATIONS[which] as Mutation)(target, at)
    return `${target}${query}`
  })
  /** Mostly canonical reads of one named object, to see which object dockerd takes the name for. */
  const namedRequests = fc.record({
    version: VERSION,
    path: fc.tuple(fc.constantFrom('/containers/{}/json', '/exec/{}/json', '/networks/{}', '/volumes/{}'), NAME_OR_SPAN).map(([t, name]) => t.replace('{}', `dg-prop-${name}`)),
    mutations: MUTATION_LIST,
    query: fc.constantFrom('', '?all=1')
  }).map(({ version, path, mutations, query }) => {
    let target = `${version}${path}`
    for (const [which, at] of mutations) target = (MUTATIONS[which] as Mutation)(target, at)
    return `${target}${query}`
  })
  const comparable = (answer: { status: number; body: string }): unknown =>
    answer.body.startsWith('[') ? [answer.status, 'a list'] : [answer.status, answer.body]

  it('dockerd answers as the model says: Go\'s 400, gorilla\'s 301, or the route of the decoded path', async () => {
    await fc.assert(fc.asyncProperty(readRequests, async (target) => {
      const view = dockerdView(target)
      const answer = await daemonRawGet(socket, target)
      if (view.kind === 'bad-request') expect([answer.status, answer.body.startsWith('{')], target).toEqual([400, false])
      else if (view.kind === 'redirect') expect(answer.status, target).toBe(301)
      else {
        const decoded = `${view.version === null ? '' : `/v${view.version}`}${view.path}${target.includes('?') ? `?${view.query}` : ''}`
        expect(comparable(answer), target).toEqual(comparable(await daemonRawGet(socket, decoded)))
      }
    }), { numRuns: 80 })
  })

  it('a target dockgate accepts names, for dockerd, the very object its segments name', async () => {
    let checked = 0
    await fc.assert(fc.asyncProperty(fc.oneof({ weight: 1, arbitrary: readRequests }, { weight: 2, arbitrary: namedRequests }), async (target) => {
      const canonical = canonicalize(target, 'GET')
      if (!canonical.ok) return
      const answer = await daemonRawGet(socket, target)
      // dockerd declines an API version newer than its own once a route
      // matches (400, "client version 99.0 is too new") and answers 404 when
      // none does: either way nothing is served and no object is named.
      if (canonical.target.apiVersion === '99.0') {
        expect(answer.status === 400 ? answer.body : String(answer.status), target).toMatch(/too new|^404$/)
        return
      }
      if (canonical.target.path === '/containers/json') expect(answer.body.startsWith('['), target).toBe(true)
      // The names as dockerd decodes them (an escaped space is one).
      const named = routeOf('GET', `/${canonical.target.segments.join('/')}`)?.vars[0]
      if (named === undefined || answer.status !== 404) return
      // dockerd's "No such container: NAME", "network NAME not found", ...: the name the rules saw, and no more of the path.
      checked += 1
      expect(named).toBe(canonical.target.segments[1])
      expect(answer.body, target).toContain(named)
      expect(answer.body, target).not.toContain(`${named}/`)
    }), { numRuns: 120 })
    expect(checked).toBeGreaterThan(5)
  })
})
