/**
 * The owner label in queries: build `labels`, commit and import `changes`;
 * forged labels refused, changes that could swallow the appended LABEL
 * refused, everything else kept as sent.
 */
import { describe, expect, it } from 'vitest'
import { labelQuery } from '../../../src/ownership/index.js'

const run = (path: string, query: string, contentTypes: string[] = []): string | null => {
  const result = labelQuery('POST', path.split('/'), query, contentTypes, 'web')
  if (result === null) return null
  return result.ok ? result.query : `${result.refusal.code} ${result.refusal.message}`
}
const param = (query: string, name: string): string[] => new URLSearchParams(query).getAll(name)

describe('build labels', () => {
  it('adds the owner to no labels, and to the labels sent', () => {
    expect(param(run('build', 't=app:1&q=1') ?? '', 'labels')).toEqual(['{"dockgate.owner":"web"}'])
    const query = run('build', `t=app&labels=${encodeURIComponent('{"a":"1","b":null}')}&rm=1`) ?? ''
    expect(query).toMatch(/^t=app&labels=[^&]+&rm=1$/)
    expect(param(query, 'labels')).toEqual(['{"a":"1","b":"","dockgate.owner":"web"}'])
  })

  it('sends one labels parameter: the first value (which the daemon reads) plus the owner', () => {
    const query = run('build', `labels=${encodeURIComponent('{"a":"1"}')}&labels=${encodeURIComponent('{"b":"2"}')}`) ?? ''
    expect(param(query, 'labels')).toEqual(['{"a":"1","dockgate.owner":"web"}'])
  })

  it('refuses an owner label in any labels value, however it is spelt in JSON', () => {
    for (const labels of ['{"dockgate.owner":"x"}', '{"dockgate\\u002eowner":"x"}', '{"a":"1","dockgate.owner":"web"}']) {
      expect(run('build', `labels=${encodeURIComponent(labels)}`)).toBe('DG_OWNER_LABEL dockgate: POST /build: the dockgate.owner label is set by dockgate to the team that owns the image; remove it from labels')
    }
    expect(run('build', `labels=${encodeURIComponent('{}')}&labels=${encodeURIComponent('{"dockgate.owner":"x"}')}`)).toMatch(/^DG_OWNER_LABEL /)
  })

  it('refuses labels that are not a JSON object of strings, with Go\'s reason', () => {
    expect(run('build', 'labels=xx')).toBe("DG_BODY_INVALID dockgate: POST /build: the labels parameter is not a JSON object of strings: invalid character 'x' looking for beginning of value")
    expect(run('build', `labels=${encodeURIComponent('{"a":1}')}`)).toBe('DG_BODY_INVALID dockgate: POST /build: the labels parameter is not a JSON object of strings: json: cannot unmarshal number into Go value of type string')
    expect(run('build', `labels=${encodeURIComponent('["a"]')}`)).toMatch(/cannot unmarshal array into Go value of type map\[string\]string$/)
  })

  it('refuses form bodies and unreadable queries', () => {
    expect(run('build', '', ['application/x-www-form-urlencoded'])).toMatch(/^DG_BODY_MEDIA_TYPE dockgate: POST \/build: a body of type application\/x-www-form-urlencoded/)
    expect(run('build', 'a=1;labels=x')).toMatch(/^DG_BAD_REQUEST .*semicolon/)
  })
})

describe('commit and import changes', () => {
  it('appends LABEL dockgate.owner=<owner> as the last change', () => {
    const query = run('commit', 'container=web1&repo=app&changes=ENV%20A%3D1&changes=CMD%20sh') ?? ''
    expect(query).toMatch(/^container=web1&repo=app&changes=ENV%20A%3D1&changes=CMD%20sh&changes=/)
    expect(param(query, 'changes')).toEqual(['ENV A=1', 'CMD sh', 'LABEL dockgate.owner=web'])
    expect(param(run('images/create', 'fromSrc=-&repo=imp&tag=1') ?? '', 'changes')).toEqual(['LABEL dockgate.owner=web'])
    expect(param(run('images/create', 'fromSrc=http%3A%2F%2Fx%2Fa.tar') ?? '', 'changes')).toEqual(['LABEL dockgate.owner=web'])
  })

  it('leaves a pull alone: it cannot be labelled', () => {
    expect(run('images/create', 'fromImage=busybox&tag=latest')).toBeNull()
  })

  it('refuses changes that name the owner label', () => {
    for (const change of ['LABEL dockgate.owner=data', 'LABEL a=1 "dockgate.owner"="x"', 'ONBUILD LABEL dockgate.owner=x', 'ENV K=dockgate.owner']) {
      expect(run('commit', `container=c&changes=${encodeURIComponent(change)}`)).toBe('DG_OWNER_LABEL dockgate: POST /commit: the dockgate.owner label is set by dockgate to the team that owns the image; remove it from changes')
    }
  })

  it('refuses a change that would continue into the appended LABEL, and escape directives', () => {
    for (const change of ['LABEL a=1 \\', 'LABEL a=1 \\  ', 'ENV X=\\\r', 'LABEL a=b\nENV Y=`']) {
      expect(run('images/create', `fromSrc=-&changes=${encodeURIComponent(change)}`)).toBe('DG_OWNER_LABEL dockgate: POST /images/create: a changes line ends in a line continuation, which would join the next change (the dockgate.owner label dockgate adds) to it')
    }
    expect(run('commit', `container=c&changes=${encodeURIComponent('# escape=`\nLABEL a=1')}`)).toBe('DG_OWNER_LABEL dockgate: POST /commit: changes may not hold a parser directive (# escape= or # syntax=)')
    expect(param(run('commit', `changes=${encodeURIComponent('LABEL a="x\\\\y" b=2\nCMD ["sh"]')}`) ?? '', 'changes')).toHaveLength(2)
  })

  it('reads only POST /build, /commit and /images/create', () => {
    expect(labelQuery('GET', ['build'], '', [], 'web')).toBeNull()
    expect(run('images/load', '')).toBeNull()
    expect(run('containers/create', '')).toBeNull()
  })
})
