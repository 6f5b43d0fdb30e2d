/**
 * Image reference normalisation against the docker CLI's own rules
 * (distribution/reference ParseNormalizedNamed + TagNameOnly, and
 * ParseAnyReference for ids): each row is what `docker image inspect`,
 * `docker pull` or `docker run` would make of the text.
 */
import { describe, expect, it } from 'vitest'
import { isImageId, normalizeImageRef } from '../../../src/shared/image-ref.js'

const D = `sha256:${'a'.repeat(64)}`

describe('normalizeImageRef', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/foo/bar:2', 'docker.io/foo/bar:2'],
    ['user/repo', 'docker.io/user/repo:latest'],
    ['user/a/b', 'docker.io/user/a/b:latest'],
    ['localhost/x', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['localhost', 'docker.io/library/localhost:latest'],
    ['localhost:5000', 'docker.io/library/localhost:5000'],
    ['host.tld/x', 'host.tld/x:latest'],
    ['host:5000/x:v1', 'host:5000/x:v1'],
    ['Host.tld/x', 'Host.tld/x:latest'],
    // A first component with a dot is taken as a domain, but one that is not a valid domain makes the whole text a path with no domain at all (as distribution/reference parses it).
    ['a-b_c.d__e/f', 'a-b_c.d__e/f:latest'],
    [`registry.example.com:5000/ci/app@${D}`, `registry.example.com:5000/ci/app@${D}`],
    [`alpine:3.19@${D}`, `docker.io/library/alpine:3.19@${D}`],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`],
    ['sha256:abc', 'docker.io/library/sha256:abc']
  ])('%s -> %s', (text, expected) => {
    const ref = normalizeImageRef(text)
    expect(ref.kind === 'named' ? ref.reference : ref.kind).toBe(expected)
  })

  it.each([
    'Host/x', 'UPPER', 'busybox/UPPER', 'x:', ':tag', '-x', 'a//b', 'a/', `x@sha256:${'a'.repeat(10)}`,
    'foo_bar.com:8080/x', 'x:-tag', `x:${'t'.repeat(129)}`, ''
  ])('%s is invalid', (text) => {
    expect(normalizeImageRef(text).kind).toBe('invalid')
  })

  it.each([
    ['a'.repeat(64), `sha256:${'a'.repeat(64)}`],
    [D, D]
  ])('%s is an image id', (text, id) => {
    expect(normalizeImageRef(text)).toEqual({ kind: 'id', id })
    expect(isImageId(text)).toBe(true)
  })

  it.each([
    ['0123456789ab', true], ['cafe', true], ['sha256:fbaa', true], ['a', true],
    ['busybox', false], ['cafe:1', false], ['docker.io/library/cafe', false], ['x/cafe', false], [`cafe@${D}`, false]
  ])('%s may be an id prefix: %s', (text, maybe) => {
    const ref = normalizeImageRef(text)
    expect(ref.kind).toBe('named')
    expect(ref.kind === 'named' && ref.maybeId).toBe(maybe)
    expect(isImageId(text)).toBe(false)
  })

  it('splits tag and digest', () => {
    expect(normalizeImageRef(`host:5000/x:v1@${D}`)).toMatchObject({ repository: 'host:5000/x', tag: 'v1', digest: D })
    expect(normalizeImageRef(`x@${D}`)).toMatchObject({ repository: 'docker.io/library/x', tag: null, digest: D })
    expect(normalizeImageRef('x')).toMatchObject({ tag: 'latest', digest: null })
  })
})
