import { describe, expect, it } from 'vitest'
import { REDACTED, redactTarget } from '../../../src/audit/redact.js'

describe('redactTarget: secrets in a recorded query', () => {
  it('a build remote\'s password, as the docker CLI encodes it, and an import\'s fromSrc', () => {
    expect(redactTarget('/v1.41/build?remote=https%3A%2F%2Fci%3Aghp_T0KEN%40github.com%2Forg%2Frepo.git&t=app'))
      .toBe(`/v1.41/build?remote=https%3A%2F%2Fci%3A${REDACTED}%40github.com%2Forg%2Frepo.git&t=app`)
    expect(redactTarget('/v1.41/images/create?fromSrc=https://u:p4ss@host/x.tar&repo=r')).toBe(`/v1.41/images/create?fromSrc=https%3A%2F%2Fu%3A${REDACTED}%40host%2Fx.tar&repo=r`)
  })

  it('every build arg value (names kept), and parameters named like secrets', () => {
    const args = encodeURIComponent('{"NPM_TOKEN":"abc","NODE_VERSION":"20","EMPTY":null}')
    expect(redactTarget(`/build?buildargs=${args}`)).toBe(`/build?buildargs=${encodeURIComponent(`{"NPM_TOKEN":"${REDACTED}","NODE_VERSION":"${REDACTED}","EMPTY":null}`).replaceAll(encodeURIComponent(REDACTED), REDACTED)}`)
    expect(redactTarget('/build?buildargs=not-json')).toBe(`/build?buildargs=${REDACTED}`)
    expect(redactTarget('/x?api_token=abc&Password=p&name=web')).toBe(`/x?api_token=${REDACTED}&Password=${REDACTED}&name=web`)
  })

  it('NAME=VALUE with a secret name inside a value (a commit\'s changes)', () => {
    expect(redactTarget(`/commit?container=c&changes=${encodeURIComponent('ENV DB_PASSWORD=hunter2')}`)).toBe(`/commit?container=c&changes=ENV%20DB_PASSWORD%3D${REDACTED}`)
  })

  it('keeps everything else byte for byte, and a pair it cannot decode loses its value', () => {
    for (const target of ['/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22app%3Dweb%22%5D%7D', '/_ping', '/v1.41/containers/x/logs?stdout=1&tail=all', '/x?flag&a=', '/x?a=1+2']) {
      expect(redactTarget(target)).toBe(target)
    }
    expect(redactTarget('/x?a=%zz&b=1')).toBe(`/x?a=${REDACTED}&b=1`)
  })
})
