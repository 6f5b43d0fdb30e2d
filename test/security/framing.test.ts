/**
 * Security regression: message framing. A proxy that frames a request one
 * way while the next hop frames it another forwards a request it never
 * judged (request smuggling), and one that skips a body it finds empty,
 * chunked or oversized judges an empty body the daemon will not see
 * (CVE-2024-41110). Each case is raw bytes over mTLS from a team that may
 * create containers, but no privileged ones: the smuggled or hidden request
 * creates a privileged container, and the daemon is asked afterwards that
 * no container of that name exists. Ambiguous framing is refused whole (400,
 * connection closed); every request Node does frame is judged on its own.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { containerExists, containerNames, removeContainers, TEST_IMAGE } from '../support/daemon.js'
import { jsonRequest, request, wire, type WireResult } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-frame-${process.pid}`
const POLICY = `version: 1
identities:
  - match: { ou: ci }
    teams: [ci]
teams:
  ci:
    allow: ["GET,HEAD /_ping", "GET /version", "POST /containers/create"]
`
const CLIENTS = [{ name: 'ci-runner', ous: ['ci'] }]
const PRIVILEGED_MESSAGE = 'dockgate: ci may not create a privileged container'

let made = 0
/** A fresh container name. */
const fresh = (what: string): string => `${tag}-${what}-${++made}`
/** A create body: harmless, or privileged (refused to ci when judged). */
const body = (privileged: boolean): string => JSON.stringify({ Image: TEST_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none', ...(privileged ? { Privileged: true } : {}) } })
/** A request line and headers for a create of `name`, without the blank line. */
const head = (name: string, ...headers: string[]): string =>
  `POST /v1.41/containers/create?name=${name} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\n${headers.map((h) => `${h}\r\n`).join('')}`
/** A complete privileged create of `name`, the request a smuggler hides. */
const hidden = (name: string): string => jsonRequest('POST', `/v1.41/containers/create?name=${name}`, JSON.parse(body(true)) as unknown)
const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`

describe.skipIf(socket === '')('message framing', () => {
  let gw: TestGateway
  const send = async (bytes: string | string[], responses = 9): Promise<WireResult> =>
    await wire(gw.port, gw.pki.bundle('ci-runner'), bytes, { responses, timeoutMs: 10_000 })
  const noneCreated = async (...names: string[]): Promise<void> => {
    for (const name of names) expect(await containerExists(socket, name), name).toBe(false)
  }
  /** The whole connection refused as malformed: one 400 in Docker's shape, recorded, then closed. */
  const malformed = (result: WireResult, code: string): void => {
    expect(result.responses.map((r) => [r.status, r.message])).toEqual([[400, `dockgate: malformed HTTP request (${code})`]])
    expect(result.closedByServer).toBe(true)
    const id = result.responses[0]?.headers['x-dockgate-request-id']?.[0]
    expect(gw.records().find((r) => r.auditID === id)).toMatchObject({ code: 'DG_BAD_REQUEST', status: 400 })
  }

  beforeAll(async () => { gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS }) })
  afterAll(async () => {
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag)))
    await gw?.close()
  })

  describe('ambiguous framing is refused whole', () => {
    it('Content-Length together with Transfer-Encoding (CL.TE): the body by one reading is a request by the other', async () => {
      const [a, b] = [fresh('clte'), fresh('clte-hidden')]
      const payload = `0\r\n\r\n${hidden(b)}`
      malformed(await send(head(a, `Content-Length: ${payload.length}`, 'Transfer-Encoding: chunked') + '\r\n' + payload), 'HPE_INVALID_TRANSFER_ENCODING')
      await noneCreated(a, b)
    })

    it('Transfer-Encoding before Content-Length (TE.CL)', async () => {
      const [a, b] = [fresh('tecl'), fresh('tecl-hidden')]
      const payload = chunk(body(false)) + `0\r\n\r\n${hidden(b)}`
      malformed(await send(head(a, 'Transfer-Encoding: chunked', 'Content-Length: 4') + '\r\n' + payload), 'HPE_INVALID_CONTENT_LENGTH')
      await noneCreated(a, b)
    })

    it('duplicate Content-Length headers with equal values (which Go accepts)', async () => {
      const a = fresh('dup-equal')
      const text = body(false)
      malformed(await send(head(a, `Content-Length: ${text.length}`, `Content-Length: ${text.length}`) + '\r\n' + text), 'HPE_UNEXPECTED_CONTENT_LENGTH')
      await noneCreated(a)
    })

    it('duplicate Content-Length headers with different values, the shorter hiding a request in the longer', async () => {
      const [a, b] = [fresh('dup-diff'), fresh('dup-diff-hidden')]
      const text = body(false) + hidden(b)
      malformed(await send(head(a, `Content-Length: ${body(false).length}`, `Content-Length: ${text.length}`) + '\r\n' + text), 'HPE_UNEXPECTED_CONTENT_LENGTH')
      await noneCreated(a, b)
    })

    it('a Content-Length another parser reads differently (+N, 0xN, N with a comma list)', async () => {
      for (const value of [`+${body(false).length}`, `0x${body(false).length.toString(16)}`, `${body(false).length}, ${body(false).length}`]) {
        const a = fresh('cl-odd')
        const result = await send(head(a, `Content-Length: ${value}`) + '\r\n' + body(false))
        expect(result.responses.map((r) => r.status), value).toEqual([400])
        expect(result.responses[0]?.message).toMatch(/^dockgate: malformed HTTP request \(HPE_/)
        await noneCreated(a)
      }
    })

    it('obsolete line folding: a header continued on the next line, Transfer-Encoding folded onto a line of its own', async () => {
      const [a, b, c] = [fresh('fold'), fresh('fold-te'), fresh('fold-hidden')]
      malformed(await send(head(a, 'X-Folded: one', ' two', `Content-Length: ${body(false).length}`) + '\r\n' + body(false)), 'HPE_INVALID_HEADER_TOKEN')
      const payload = `0\r\n\r\n${hidden(c)}`
      malformed(await send(head(b, `Content-Length: ${payload.length}`, 'Transfer-Encoding:', ' chunked') + '\r\n' + payload), 'HPE_INVALID_TRANSFER_ENCODING')
      await noneCreated(a, b, c)
    })

    it('a space before the colon (Transfer-Encoding : chunked)', async () => {
      const [a, b] = [fresh('space'), fresh('space-hidden')]
      const payload = `0\r\n\r\n${hidden(b)}`
      malformed(await send(head(a, `Content-Length: ${payload.length}`, 'Transfer-Encoding : chunked') + '\r\n' + payload), 'HPE_INVALID_HEADER_TOKEN')
      await noneCreated(a, b)
    })

    it('bare CR and bare LF line ends', async () => {
      const [a, b, c] = [fresh('bare-cr'), fresh('bare-lf'), fresh('bare-lf-header')]
      malformed(await send(`POST /v1.41/containers/create?name=${a} HTTP/1.1\rHost: docker\r\nContent-Length: ${body(false).length}\r\n\r\n${body(false)}`), 'HPE_STRICT')
      malformed(await send(`POST /v1.41/containers/create?name=${b} HTTP/1.1\nHost: docker\nContent-Length: ${body(false).length}\n\n${body(false)}`), 'HPE_INVALID_VERSION')
      malformed(await send(head(c, `Content-Length: ${body(false).length}\nX-After-Bare-LF: 1`) + '\r\n' + body(false)), 'HPE_CR_EXPECTED')
      await noneCreated(a, b, c)
    })

    it('Transfer-Encoding: chunked, identity (chunked not last) and identity alone', async () => {
      for (const value of ['chunked, identity', 'identity', 'xchunked']) {
        const [a, b] = [fresh('te-odd'), fresh('te-odd-hidden')]
        malformed(await send(head(a, `Transfer-Encoding: ${value}`) + '\r\n' + chunk(body(false)) + `0\r\n\r\n${hidden(b)}`), 'HPE_INVALID_TRANSFER_ENCODING')
        await noneCreated(a, b)
      }
    })

    it('a chunk size that overflows 64 bits, and a negative one', async () => {
      for (const size of ['fffffffffffffffff1', '10000000000000000c', '-1']) {
        const [a, b] = [fresh('chunk-size'), fresh('chunk-size-hidden')]
        malformed(await send(head(a, 'Transfer-Encoding: chunked') + `\r\n${size}\r\n${body(false)}\r\n0\r\n\r\n${hidden(b)}`), 'HPE_INVALID_CHUNK_SIZE')
        await noneCreated(a, b)
      }
    })
  })

  describe('every request Node frames is judged on its own', () => {
    it('pipelined requests: the forbidden second is refused, not forwarded behind the allowed first; the third is served', async () => {
      const [privileged, plain] = [fresh('pipe-privileged'), fresh('pipe-plain')]
      const result = await send([request('GET', '/v1.41/version') + hidden(privileged) + jsonRequest('POST', `/v1.41/containers/create?name=${plain}`, JSON.parse(body(false)) as unknown)], 3)
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[200, null], [403, PRIVILEGED_MESSAGE], [201, null]])
      await noneCreated(privileged)
      expect(await containerExists(socket, plain)).toBe(true)
    })

    it('pipelined behind a path the team may not use: refused too, each with its own record', async () => {
      const b = fresh('pipe-path')
      const result = await send([request('GET', '/v1.41/info') + hidden(b)], 2)
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[403, 'dockgate: ci may not GET /info'], [403, PRIVILEGED_MESSAGE]])
      const ids = result.responses.map((r) => r.headers['x-dockgate-request-id']?.[0])
      expect(gw.records().filter((r) => ids.includes(r.auditID)).map((r) => [r.stage, r.code])).toEqual([['Refused', 'DG_DENIED'], ['Refused', 'DG_BODY_DENIED']])
      await noneCreated(b)
    })

    it('Content-Length: 0 on a judged endpoint followed by bytes forming a hidden request: the empty body is what is judged and forwarded, the hidden request is judged on its own', async () => {
      const [a, b] = [fresh('cl0'), fresh('cl0-hidden')]
      const result = await send(head(a, 'Content-Length: 0') + '\r\n' + hidden(b), 2)
      // dockerd answers an empty create body with its own 500 "EOF": it read the empty body that was judged.
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[500, 'EOF'], [403, PRIVILEGED_MESSAGE]])
      const first = gw.records().find((r) => r.auditID === result.responses[0]?.headers['x-dockgate-request-id']?.[0])
      expect(first).toMatchObject({ stage: 'ResponseComplete', decision: 'allow', bytesIn: 0, upstreamStatus: 500 })
      await noneCreated(a, b)
    })

    it('a judged body sent chunked, in pieces, is read whole and judged: privileged stays refused', async () => {
      const b = fresh('chunked')
      const text = body(true)
      const pieces = [head(b, 'Transfer-Encoding: chunked') + '\r\n', chunk(text.slice(0, 20)), chunk(text.slice(20, 60)), chunk(text.slice(60)) + '0\r\n\r\n']
      const result = await send(pieces, 1)
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[403, PRIVILEGED_MESSAGE]])
      await noneCreated(b)
    })

    it('a body with no framing at all is no body: the privileged JSON after the head is a malformed next request, and the connection is refused whole', async () => {
      const b = fresh('unframed')
      const result = await send(head(b) + '\r\n' + body(true))
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[400, 'dockgate: malformed HTTP request (HPE_INVALID_METHOD)']])
      expect(result.closedByServer).toBe(true)
      await noneCreated(b)
    })
  })
})
