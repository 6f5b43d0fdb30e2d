/**
 * Security regressions for endpoints whose query dockgate judges, against
 * the real daemon: a form-encoded body would override the query (Go's
 * ParseForm puts a POST form's values ahead of the query's, and dockerd
 * reads r.Form.Get), in every Content-Type spelling Go reads as a form; and
 * a build context holding two Dockerfiles, where the `dockerfile` query
 * parameter picks one. Each refusal is checked on the daemon's socket: no
 * image or container of either name exists. Controls send the same bytes to
 * the daemon directly, to show the override is real.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IMAGE, startSecurityGateway, type SecurityGateway } from '../support/security.js'
import { daemonHas, frame, messageOf, onDaemon, sendExpecting, sendToDaemon } from '../support/body-wire.js'

const socket = inject('dockerSocket')

/** Content-Type values Go's mime.ParseMediaType reads as a urlencoded form (Latin-1 strings: the bytes as sent). */
const FORM_SPELLINGS: ReadonlyArray<[string, string]> = [
  ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
  ['with a charset parameter', 'application/x-www-form-urlencoded; charset=utf-8'],
  ['upper case', 'APPLICATION/X-WWW-FORM-URLENCODED'],
  ['led by U+0085, which Go trims as white space', '\u00c2\u0085application/x-www-form-urlencoded'],
  ['with U+0130, which Go lower-cases to i', 'appl\u00c4\u00b0cation/x-www-form-urlencoded'],
  ['ended by U+00A0, which Go trims', 'application/x-www-form-urlencoded\u00c2\u00a0']
]

describe.skipIf(socket === '')('form bodies and two Dockerfiles, against the real daemon', () => {
  let sec: SecurityGateway
  let files: http.Server
  let base = ''
  let idle = ''
  const dir = mkdtempSync(join(tmpdir(), 'dg-sec-forms-'))
  const image = (what: string): string => `dockgate-test/${sec.name(what)}`
  const formRequest = (target: string, type: string, body: string, extra: Record<string, string> = {}): Buffer =>
    frame('POST', target, body, 'Content-Length', { 'Content-Type': type, ...extra })

  beforeAll(async () => {
    sec = await startSecurityGateway(socket)
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${IMAGE}\n`)
    writeFileSync(join(dir, 'Dockerfile.evil'), `FROM ${IMAGE}\nLABEL evil=1\n`)
    execFileSync('tar', ['-C', dir, '-cf', join(dir, 'context.tar'), 'Dockerfile', 'Dockerfile.evil'])
    writeFileSync(join(dir, 'empty.tar'), Buffer.alloc(1024))
    files = http.createServer((req, res) => { res.end(readFileSync(join(dir, (req.url ?? '').slice(1)))) })
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`
    idle = sec.name('commit-source')
    expect((await onDaemon(socket, 'POST', `/v1.41/containers/create?name=${idle}`, { Image: IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } })).status).toBe(201)
  })
  afterAll(async () => {
    await new Promise((resolve) => files?.close(resolve))
    await sec?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  describe('POST /images/{name}/tag?repo=ALLOWED with a form body repo=OTHER', () => {
    const target = (): string => `/v1.41/images/${IMAGE}/tag?repo=dockgate-test/busybox&tag=${sec.name('query-tag')}`
    const body = (): string => `repo=${encodeURIComponent(image('form-tag'))}&tag=1`

    for (const [name, type] of FORM_SPELLINGS) {
      it(`Content-Type ${name}: refused, neither name tagged`, async () => {
        const answer = await sec.send('img', formRequest(target(), type, body()))
        expect(answer.status).toBe(415)
        expect(messageOf(answer)).toMatch(/^dockgate: POST \/images\/\{name\}\/tag: POST \/images\/\{name\}\/tag must not send a .* body: the daemon would read its parameters from it$/)
        expect(await daemonHas(socket, 'images', `${image('form-tag')}:1`)).toBe(false)
        expect(await daemonHas(socket, 'images', `dockgate-test/busybox:${sec.name('query-tag')}`)).toBe(false)
      })
    }

    it('two Content-Types, JSON first (Go reads only the first): refused, nothing tagged', async () => {
      const bytes = frame('POST', target(), body(), 'Content-Length', { 'Content-Type': 'application/json', 'content-type': 'application/x-www-form-urlencoded' })
      expect((await sec.send('img', bytes)).status).toBe(415)
      expect(await daemonHas(socket, 'images', `${image('form-tag')}:1`)).toBe(false)
      expect(await daemonHas(socket, 'images', `dockgate-test/busybox:${sec.name('query-tag')}`)).toBe(false)
    })

    for (const [name, type] of [FORM_SPELLINGS[0], FORM_SPELLINGS[4]] as ReadonlyArray<[string, string]>) {
      it(`control: sent to the daemon directly (Content-Type ${name}), the body's repo wins over the query's`, async () => {
        const tagged = image(`direct-tag-${name.length}`)
        const [answer] = await sendToDaemon(socket, formRequest(target(), type, `repo=${encodeURIComponent(tagged)}&tag=1`))
        expect(answer?.status).toBe(201)
        expect(await daemonHas(socket, 'images', `${tagged}:1`)).toBe(true)
        expect(await daemonHas(socket, 'images', `dockgate-test/busybox:${sec.name('query-tag')}`)).toBe(false)
      })
    }
  })

  describe('POST /images/create?fromImage=ALLOWED with a form body that imports a tarball instead', () => {
    const target = '/v1.41/images/create?fromImage=dockgate-test/busybox&tag=latest'
    const body = (what: string): string => `fromImage=&fromSrc=${encodeURIComponent(`${base}/empty.tar`)}&repo=${encodeURIComponent(image(what))}&tag=1`

    for (const [name, type] of FORM_SPELLINGS.slice(3)) {
      it(`Content-Type ${name}: refused, nothing imported`, async () => {
        const answer = await sec.send('img', formRequest(target, type, body('imported')))
        expect(answer.status).toBe(415)
        expect(messageOf(answer)).toMatch(/^dockgate: POST \/images\/create: .*not printable ASCII: Go may read it as a form/)
        expect(await daemonHas(socket, 'images', `${image('imported')}:1`)).toBe(false)
      })
    }

    it('application/x-www-form-urlencoded: refused, nothing imported; the same bytes from an unrestricted team import the body\'s tarball', async () => {
      const refused = await sec.send('img', formRequest(target, 'application/x-www-form-urlencoded', body('imported')))
      expect([refused.status, await daemonHas(socket, 'images', `${image('imported')}:1`)]).toEqual([415, false])
      const direct = await sec.send('platform', formRequest(target, 'application/x-www-form-urlencoded', body('imported-direct')))
      expect([direct.status, await daemonHas(socket, 'images', `${image('imported-direct')}:1`)]).toEqual([200, true])
    })
  })

  it('POST /commit?repo=ALLOWED with a form body repo=OTHER: refused, nothing committed', async () => {
    const answer = await sec.send('img', formRequest(`/v1.41/commit?container=${idle}&repo=dockgate-test/busybox&tag=${sec.name('commit')}`,
      'application/x-www-form-urlencoded', `repo=${encodeURIComponent(image('commit'))}&tag=1`))
    expect(answer.status).toBe(415)
    expect(await daemonHas(socket, 'images', `${image('commit')}:1`)).toBe(false)
    expect(await daemonHas(socket, 'images', `dockgate-test/busybox:${sec.name('commit')}`)).toBe(false)
  })

  it('POST /containers/create?name=A with a form body name=B: refused (a create body is JSON), neither container made', async () => {
    const answer = await sec.send('ci', formRequest(`/v1.41/containers/create?name=${sec.name('form-a')}`, 'application/x-www-form-urlencoded', `name=${sec.name('form-b')}`))
    expect(answer.status).toBe(415)
    expect(messageOf(answer)).toMatch(/must be application\/json/)
    expect([await daemonHas(socket, 'containers', sec.name('form-a')), await daemonHas(socket, 'containers', sec.name('form-b'))]).toEqual([false, false])
  })

  describe('POST /build', () => {
    const formBody = (): string => `remote=${encodeURIComponent(`${base}/context.tar`)}&networkmode=host&dockerfile=Dockerfile.evil&t=${encodeURIComponent(image('form-built'))}`

    it.each([
      ['application/x-www-form-urlencoded', (): string => formBody()],
      ['multipart/form-data; boundary=x', (): string => `--x\r\nContent-Disposition: form-data; name="networkmode"\r\n\r\nhost\r\n--x\r\nContent-Disposition: form-data; name="t"\r\n\r\n${image('form-built')}\r\n--x--\r\n`],
      ['\u00c2\u0085application/x-www-form-urlencoded', (): string => formBody()]
    ])('a %s body with host networking and another tag: refused, nothing built', async (type, body) => {
      const answer = await sec.send('ci', formRequest(`/v1.41/build?t=${encodeURIComponent(image('query-built'))}`, type, body()))
      expect(answer.status).toBe(415)
      expect(messageOf(answer)).toMatch(/^dockgate: POST \/build: a build context must not be sent as .*: the daemon would read more build parameters from it$/)
      expect([await daemonHas(socket, 'images', image('form-built')), await daemonHas(socket, 'images', image('query-built'))]).toEqual([false, false])
    })

    const context = (): Buffer => readFileSync(join(dir, 'context.tar'))
    const build = (query: string): Buffer => frame('POST', `/v1.41/build?${query}`, context(), 'Content-Length', { 'Content-Type': 'application/x-tar' })

    it.each(['Dockerfile.evil', 'Dockerfile'])('a team with image rules may not build, whichever Dockerfile the query picks (dockerfile=%s)', async (dockerfile) => {
      const tag = image(`img-${dockerfile.length}`)
      const answer = await sec.send('img', build(`dockerfile=${dockerfile}&t=${tag}`))
      expect(answer.status).toBe(403)
      expect(messageOf(answer)).toMatch(/^dockgate: img may not build images: builds are not judged by their FROM lines yet/)
      expect(await daemonHas(socket, 'images', tag)).toBe(false)
    })

    it('...and its build context is not even invited (Expect: 100-continue)', async () => {
      const tag = image('img-expect')
      const head = `POST /v1.41/build?dockerfile=Dockerfile.evil&t=${tag} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/x-tar\r\nExpect: 100-continue\r\n` +
        `Content-Length: ${context().length}\r\nConnection: close\r\n\r\n`
      const { continued, answers } = await sendExpecting(sec.gw.port, sec.gw.pki.bundle('img'), head, context())
      expect([continued, answers.map((a) => a.status)]).toEqual([false, [403]])
      expect(await daemonHas(socket, 'images', tag)).toBe(false)
    })

    it('a team without image rules builds the Dockerfile the query picks, but host networking stays refused whatever the Dockerfile', async () => {
      const refused = image('ci-host')
      const answer = await sec.send('ci', build(`dockerfile=Dockerfile.evil&networkmode=host&t=${refused}`))
      expect([answer.status, messageOf(answer)]).toEqual([403, 'dockgate: ci may not use a host namespace (networkmode=host)'])
      expect(await daemonHas(socket, 'images', refused)).toBe(false)
      const built = image('ci-evil')
      expect((await sec.send('ci', build(`dockerfile=Dockerfile.evil&networkmode=none&t=${built}`))).status).toBe(200)
      const labels = JSON.parse((await onDaemon(socket, 'GET', `/v1.41/images/${built}/json`)).body) as { Config: { Labels: Record<string, string> | null } }
      expect(labels.Config.Labels).toEqual({ evil: '1' })
    })
  })
})
