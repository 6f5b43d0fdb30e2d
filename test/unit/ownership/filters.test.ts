/**
 * List scoping: the owner label filter added to list, events and prune
 * requests, `filters` read as dockerd reads it (both forms), malformed
 * values refused with the daemon's own status and message (taken from
 * dockerd 20.10.24 with curl), and prune answers merged.
 */
import { describe, expect, it } from 'vitest'
import { mergePruneReports, readFilters, scopeList, type ListScoping, type OwnershipScope } from '../../../src/ownership/index.js'

const WEB: OwnershipScope = { owner: 'web', visible: ['web'] }
const BOTH: OwnershipScope = { owner: 'web', visible: ['web', 'data'] }

const q = (filters: unknown): string => `filters=${encodeURIComponent(typeof filters === 'string' ? filters : JSON.stringify(filters))}`

/** The `filters` the daemon would read from a scoped query, or a summary of the scoping. */
function scoped (method: string, path: string, query: string, scope = WEB, contentTypes: string[] = []): unknown {
  const result = scopeList(method, path.split('/'), query, contentTypes, scope)
  return summary(result)
}

function summary (result: ListScoping | null): unknown {
  if (result === null) return null
  switch (result.kind) {
    case 'forward': return { forward: filtersOf(result.query), query: result.query }
    case 'per-owner': return { perOwner: result.queries.map(filtersOf) }
    case 'filter': return { filter: result.response, query: result.query }
    case 'answer': return { answer: `${result.status} ${result.message}` }
    case 'refuse': return { refuse: `${result.refusal.code} ${result.refusal.message}` }
  }
}

function filtersOf (query: string): unknown {
  const value = new URLSearchParams(query).getAll('filters')
  expect(value).toHaveLength(1)
  return JSON.parse(value[0] ?? '')
}

describe('scopeList', () => {
  it('adds the owner label filter for one owner, on every list and prune endpoint', () => {
    for (const [method, path] of [['GET', 'containers/json'], ['GET', 'volumes'], ['GET', 'networks'], ['POST', 'containers/prune'], ['POST', 'volumes/prune'], ['POST', 'networks/prune'], ['POST', 'images/prune']] as const) {
      expect(scoped(method, path, ''), path).toEqual({ forward: { label: { 'dockgate.owner=web': true } }, query: 'filters=%7B%22label%22%3A%7B%22dockgate.owner%3Dweb%22%3Atrue%7D%7D' })
    }
  })

  it('ANDs with the client\'s own filters and keeps every other parameter as sent', () => {
    const result = scoped('GET', 'containers/json', `all=1&${q({ label: { 'app=x': true }, status: { running: true } })}&size=true`)
    expect(result).toMatchObject({ forward: { label: { 'app=x': true, 'dockgate.owner=web': true }, status: { running: true } } })
    expect((result as { query: string }).query).toMatch(/^all=1&filters=.*&size=true$/)
  })

  it('reads the old map-of-lists form and writes the map-of-bools form', () => {
    expect(scoped('GET', 'volumes', q({ label: ['a=b'], dangling: ['true'] }))).toMatchObject({ forward: { label: { 'a=b': true, 'dockgate.owner=web': true }, dangling: { true: true } } })
    expect(scoped('GET', 'volumes', q({ label: null }))).toMatchObject({ forward: { label: { 'dockgate.owner=web': true } } })
    expect(scoped('GET', 'volumes', q('null'))).toMatchObject({ forward: { label: { 'dockgate.owner=web': true } } })
    expect(scoped('GET', 'volumes', q({ label: ['x', null] }))).toMatchObject({ forward: { label: { x: true, '': true, 'dockgate.owner=web': true } } })
  })

  it('keeps a false label flag as a filter (the daemon matches label keys whatever the bool)', () => {
    expect(scoped('GET', 'networks', q({ label: { 'dockgate.owner=data': false } }))).toMatchObject({ forward: { label: { 'dockgate.owner=data': true, 'dockgate.owner=web': true } } })
  })

  it('uses the first filters value, as the daemon does, and sends only one', () => {
    const result = scoped('GET', 'containers/json', `${q({ label: ['a'] })}&${q('xx')}&Filters=zz`)
    expect(result).toMatchObject({ forward: { label: { a: true, 'dockgate.owner=web': true } } })
    expect((result as { query: string }).query).toMatch(/&Filters=zz$/)
  })

  it('keeps a field named __proto__ a field', () => {
    expect(scoped('GET', 'containers/json', q('{"__proto__":{"x":true}}'))).toMatchObject({ forward: { ['__proto__']: { x: true } } })
  })

  it('filters the response for several owners, and always for images, events and disk usage', () => {
    expect(scoped('GET', 'containers/json', 'all=1', BOTH)).toEqual({ filter: 'containers', query: 'all=1' })
    expect(scoped('GET', 'volumes', '', BOTH)).toEqual({ filter: 'volumes', query: '' })
    expect(scoped('GET', 'networks', '', BOTH)).toEqual({ filter: 'networks', query: '' })
    expect(scoped('GET', 'images/json', 'all=1')).toEqual({ filter: 'images', query: 'all=1' })
    expect(scoped('GET', 'events', 'since=1')).toEqual({ filter: 'events', query: 'since=1' })
    expect(scoped('GET', 'system/df', '')).toEqual({ filter: 'system-df', query: '' })
  })

  it('prunes once per owner when there are several', () => {
    expect(scoped('POST', 'containers/prune', q({ until: ['1h'] }), BOTH)).toEqual({
      perOwner: [{ until: { '1h': true }, label: { 'dockgate.owner=web': true } }, { until: { '1h': true }, label: { 'dockgate.owner=data': true } }]
    })
  })

  it('refuses the build cache prune, form bodies on prunes, and unreadable queries', () => {
    expect(scoped('POST', 'build/prune', '')).toEqual({ refuse: 'DG_OWNER_CONFLICT dockgate: the build cache is shared by every team and has no owners; only an admin team may prune it' })
    expect(scoped('POST', 'containers/prune', '', WEB, ['application/x-www-form-urlencoded; charset=utf-8'])).toEqual({
      refuse: 'DG_BODY_MEDIA_TYPE dockgate: POST /containers/prune: a body of type application/x-www-form-urlencoded is read as parameters by the daemon and would override the owner filter; send filters in the query'
    })
    expect(scoped('GET', 'containers/json', 'a=1;b=2')).toEqual({ refuse: 'DG_BAD_REQUEST dockgate: GET /containers/json: the query has a semicolon, which the daemon would drop a parameter for' })
    expect(scoped('GET', 'containers/json', 'filters=%zz')).toEqual({ refuse: 'DG_BAD_REQUEST dockgate: GET /containers/json: the query has a malformed %-escape, which the daemon would drop a parameter for' })
  })

  it('answers a malformed filters value as the daemon does, per endpoint', () => {
    const cases: Array<[string, string, string, string]> = [
      ['GET', 'containers/json', 'xx', "500 invalid character 'x' looking for beginning of value"],
      ['GET', 'volumes', 'xx', "400 error reading volume filters: invalid character 'x' looking for beginning of value"],
      ['GET', 'networks', 'xx', "500 invalid character 'x' looking for beginning of value"],
      ['POST', 'containers/prune', 'xx', "400 invalid character 'x' looking for beginning of value"],
      ['POST', 'volumes/prune', 'xx', "500 invalid character 'x' looking for beginning of value"],
      ['GET', 'containers/json', '{"label":"x"}', '500 json: cannot unmarshal string into Go value of type map[string]bool'],
      ['GET', 'containers/json', '{"label":{"a":"yes"}}', '500 json: cannot unmarshal string into Go value of type bool'],
      ['GET', 'containers/json', '{"label":{"a":1}}', '500 json: cannot unmarshal number into Go value of type bool'],
      ['GET', 'containers/json', '{"label":["a",1]}', '500 json: cannot unmarshal array into Go value of type map[string]bool'],
      ['GET', 'containers/json', '{"label":{"a":true},"x":["b"]}', '500 json: cannot unmarshal array into Go value of type map[string]bool'],
      ['GET', 'containers/json', '[]', '500 json: cannot unmarshal array into Go value of type map[string]map[string]bool'],
      ['GET', 'containers/json', '"x"', '500 json: cannot unmarshal string into Go value of type map[string]map[string]bool'],
      ['GET', 'containers/json', '1', '500 json: cannot unmarshal number into Go value of type map[string]map[string]bool'],
      ['GET', 'containers/json', '{"label":{"a=b":true}', '500 unexpected end of JSON input'],
      ['GET', 'containers/json', '{"label" {', "500 invalid character '{' after object key"],
      ['GET', 'containers/json', '{"label":{"a":tru}}', "500 invalid character '}' in literal true (expecting 'e')"],
      ['GET', 'containers/json', '{"label":{"a":true}} x', "500 invalid character 'x' after top-level value"],
      ['GET', 'containers/json', ' ', '500 unexpected end of JSON input'],
      ['GET', 'containers/json', '{"a":"\\x"}', "500 invalid character 'x' in string escape code"],
      ['GET', 'containers/json', '{"label":["dockgate.owner=a"],"label":{"x":true}}', '500 json: cannot unmarshal array into Go value of type map[string]bool'],
      ['GET', 'containers/json', '{"a":[1,]}', "500 invalid character ']' looking for beginning of value"],
      ['GET', 'containers/json', '{"a":01}', "500 invalid character '1' after object key:value pair"],
      ['GET', 'containers/json', '{"a":"\n"}', "500 invalid character '\\n' in string literal"],
      ['GET', 'containers/json', '{"a":"\x01"}', "500 invalid character '\\x01' in string literal"],
      ['GET', 'containers/json', '{"a":"\\u00"}', '500 invalid character \'"\' in \\u hexadecimal character escape'],
      ['GET', 'containers/json', '{"a":-x}', "500 invalid character 'x' in numeric literal"],
      ['GET', 'containers/json', '{"a":1.}', "500 invalid character '}' after decimal point in numeric literal"],
      ['GET', 'containers/json', '{"a":1e}', "500 invalid character '}' in exponent of numeric literal"],
      ['GET', 'containers/json', "{'a':1}", "500 invalid character '\\'' looking for beginning of object key string"],
      ['GET', 'containers/json', '{"a"}', "500 invalid character '}' after object key"],
      ['GET', 'containers/json', '{"a":[1 2]}', "500 invalid character '2' after array element"],
      ['GET', 'containers/json', '{"label":{"a":true},"label":["x"]}', '500 json: cannot unmarshal array into Go value of type map[string]bool']
    ]
    for (const [method, path, filters, expected] of cases) {
      expect(scoped(method, path, q(filters)), filters).toEqual({ answer: expected })
    }
  })

  it('leaves other endpoints alone', () => {
    expect(scoped('GET', 'containers/abc/json', '')).toBeNull()
    expect(scoped('POST', 'containers/json', '')).toBeNull()
    expect(scoped('GET', 'containers/prune', '')).toBeNull()
  })
})

describe('readFilters', () => {
  it('reads both forms and the empty value', () => {
    expect(readFilters('')).toEqual(new Map())
    expect(readFilters('{"label":{"a":true,"b":false},"x":null}')).toEqual(new Map([['label', ['a', 'b']], ['x', []]]))
    expect(readFilters('{"label":["a","b"]}')).toEqual(new Map([['label', ['a', 'b']]]))
    expect(readFilters('{"label":["a"],"label":["b"]}')).toEqual(new Map([['label', ['b']]]))
  })
})

describe('mergePruneReports', () => {
  it('joins lists and sums sizes', () => {
    expect(mergePruneReports([
      { ContainersDeleted: ['a'], SpaceReclaimed: 10 },
      { ContainersDeleted: null, SpaceReclaimed: 0 },
      { ContainersDeleted: ['b', 'c'], SpaceReclaimed: 5 }
    ])).toEqual({ ContainersDeleted: ['a', 'b', 'c'], SpaceReclaimed: 15 })
    expect(mergePruneReports([{ VolumesDeleted: null, SpaceReclaimed: 0 }, { VolumesDeleted: null, SpaceReclaimed: 0 }])).toEqual({ VolumesDeleted: null, SpaceReclaimed: 0 })
  })
})
