/**
 * Security regression: who the gateway believes is asking. Raw bytes over
 * mutual TLS to a real gateway in front of the real daemon; every attempt
 * is a container create (which only the platform team may make), and the
 * daemon is asked afterwards that no container of that name exists.
 *
 * - Certificates the TLS gate must turn away before any HTTP byte is read:
 *   none, another CA, expired, not yet valid, the wrong or no extended key
 *   usage, chains that only an untrusted anchor would validate. Each gets
 *   the canned 403 and the connection closes (a pipelined second request
 *   is never answered).
 * - Certificates the gate accepts but whose names must not match: look-alike
 *   letters, commas and `OU=` inside a value, newlines and escapes, SANs
 *   that hold a second SAN in their text. And a certificate matching two
 *   identity entries gets the first entry's teams only.
 * - None of these names breaks an audit line, a log line or the client's
 *   error line.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { certificateOf, startGateway, type TestGateway } from '../support/gateway.js'
import { STANDARD_CLIENTS } from '../support/pki.js'
import { forgeCertificate, writeBundle, type AltName, type NameAttribute } from '../support/hostile-cert.js'
import { containerExists, containerNames, removeContainers, TEST_IMAGE } from '../support/daemon.js'
import { jsonRequest, request, wire, type WireOptions, type WireResult } from '../support/wire.js'

const socket = inject('dockerSocket')
const tag = `dg-sec-id-${process.pid}`
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { san_dns: admin.example.com }
    teams: [platform]
  - match: { san_uri: "spiffe://example.org/admin" }
    teams: [platform]
  - match: { san_email: admin@example.com }
    teams: [platform]
  - match: { cn: "ci-runner-*" }
    teams: [ci]
  - match: { ou: readonly }
    teams: [readonly]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow: ["GET,HEAD /_ping", "GET /version", "GET /containers/json"]
  readonly:
    allow: ["GET,HEAD /_ping", "GET /info"]
`
const CLIENTS = [...STANDARD_CLIENTS, { name: 'ci-runner-amb', ous: ['readonly'] }, { name: 'no-eku', ous: ['platform'], extKeyUsage: [] }]
// A corporate root and an intermediate under it, neither the gateway's CA.
const root = forgeCertificate({ subject: [{ shortName: 'O', value: 'corp' }, { shortName: 'CN', value: 'corp root' }], ca: true })
const intermediate = forgeCertificate({ subject: [{ shortName: 'O', value: 'corp' }, { shortName: 'CN', value: 'corp teams' }], ca: true, issuer: root })
const underIntermediate = forgeCertificate({ subject: [{ shortName: 'OU', value: 'platform' }, { shortName: 'CN', value: 'corp-admin' }], issuer: intermediate })

/** Whether `text` holds a control character (a raw newline or escape would break a line or a terminal). */
const hasControl = (text: string): boolean => [...text].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)

describe.skipIf(socket === '')('identity: certificates and names', () => {
  let gw: TestGateway
  let intermediateOnly: TestGateway
  let rootTrusted: TestGateway
  const logLines: string[] = []
  let attempts = 0
  /** `count` container creates (two: the second pipelined behind the first) on one connection; what came back and the names. */
  const attempt = async (g: TestGateway, bundle: string, options: WireOptions = {}, count = 2): Promise<{ result: WireResult; names: string[] }> => {
    attempts += 1
    const names = Array.from({ length: count }, (_, n) => `${tag}-${attempts}-${n}`)
    const bytes = names.map((name) => jsonRequest('POST', `/v1.41/containers/create?name=${name}`, { Image: TEST_IMAGE, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } }))
    return { result: await wire(g.port, bundle, bytes, options), names }
  }
  const nothingCreated = async (names: readonly string[]): Promise<void> => {
    for (const name of names) expect(await containerExists(socket, name), name).toBe(false)
  }
  /** The canned TLS refusal: one 403 in Docker's shape, the record's id, and the connection closed behind it. */
  const turnedAway = async (g: TestGateway, bundle: string, message: string, reason: string, tls?: WireOptions['tls']): Promise<void> => {
    const { result, names } = await attempt(g, bundle, tls === undefined ? {} : { tls })
    expect(result.closedByServer).toBe(true)
    expect(result.responses).toHaveLength(1)
    const [answer] = result.responses
    expect(answer).toMatchObject({ status: 403, reason: 'Forbidden', message, headers: { 'content-type': ['application/json'], connection: ['close'] } })
    const record = g.records().find((r) => r.auditID === answer?.headers['x-dockgate-request-id']?.[0])
    expect(record).toMatchObject({ stage: 'TLSRejected', code: 'DG_TLS_REJECTED', tls: { reason } })
    expect(record?.request).toBeUndefined()
    await nothingCreated(names)
  }
  const bundleOf = (g: TestGateway, name: string, chain: readonly string[], keyPem: string): string =>
    writeBundle(join(g.dir, 'forged', name), g.pki.ca.certPem, chain, keyPem)

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS, log: (line) => { logLines.push(line) } })
    intermediateOnly = await startGateway({ socket, policy: POLICY, clients: CLIENTS, trustedCa: intermediate.certPem })
    rootTrusted = await startGateway({ socket, policy: POLICY, clients: CLIENTS, trustedCa: root.certPem })
  })
  afterAll(async () => {
    await removeContainers(socket, ...(await containerNames(socket)).filter((n) => n.startsWith(tag)))
    for (const g of [gw, intermediateOnly, rootTrusted]) await g?.close()
  })

  describe('certificates the TLS gate turns away before reading HTTP', () => {
    it('no certificate at all', async () => {
      await turnedAway(gw, gw.pki.bundle('alice'), 'dockgate: no client certificate was presented (the docker CLI sends none when its cert.pem is not issued by this gateway\'s CA) (NO_CERTIFICATE)', 'no-certificate', { cert: undefined, key: undefined })
    })
    const bad: Array<[string, string, string, string]> = [
      ['a certificate from another CA (OU platform)', 'mallory', 'the client certificate is not issued by this gateway\'s CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE)', 'unknown-ca'],
      ['an expired certificate', 'expired', 'the client certificate has expired (CERT_HAS_EXPIRED)', 'expired'],
      ['a certificate not valid yet', 'future', 'the client certificate is not valid yet (CERT_NOT_YET_VALID)', 'not-yet-valid'],
      ['a certificate for serverAuth only', 'server-only', 'the client certificate is not issued for client authentication (extendedKeyUsage clientAuth) (INVALID_PURPOSE)', 'wrong-usage'],
      ['a certificate without extendedKeyUsage (OpenSSL would accept it for any purpose)', 'no-eku', 'the client certificate is not issued for client authentication (extendedKeyUsage clientAuth) (NO_CLIENT_AUTH_USAGE)', 'wrong-usage']
    ]
    for (const [what, client, text, reason] of bad) {
      it(what, async () => { await turnedAway(gw, gw.pki.bundle(client), `dockgate: ${text}`, reason) })
    }

    it('a certificate signed with a client certificate\'s key (a leaf posing as a CA), sent with that leaf', async () => {
      const alice = gw.pki.bundle('alice')
      const leaf = { certPem: readFileSync(join(alice, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(alice, 'key.pem'), 'utf8') }
      const forged = forgeCertificate({ subject: [{ shortName: 'OU', value: 'platform' }, { shortName: 'CN', value: 'minted-by-alice' }], issuer: leaf })
      await turnedAway(gw, bundleOf(gw, 'leaf-as-ca', [forged.certPem, leaf.certPem], forged.keyPem), 'dockgate: the client certificate could not be verified (UNSPECIFIED)', 'invalid-certificate')
    })

    it('a foreign chain that brings its own self-signed root', async () => {
      const evilRoot = forgeCertificate({ subject: [{ shortName: 'CN', value: 'evil root' }], ca: true })
      const evilIntermediate = forgeCertificate({ subject: [{ shortName: 'CN', value: 'evil intermediate' }], ca: true, issuer: evilRoot })
      const leaf = forgeCertificate({ subject: [{ shortName: 'OU', value: 'platform' }, { shortName: 'CN', value: 'evil' }], issuer: evilIntermediate })
      await turnedAway(gw, bundleOf(gw, 'own-root', [leaf.certPem, evilIntermediate.certPem, evilRoot.certPem], leaf.keyPem),
        'dockgate: the client certificate is not issued by this gateway\'s CA (SELF_SIGNED_CERT_IN_CHAIN)', 'unknown-ca')
    })

    it('a foreign CA with exactly the gateway CA\'s name', async () => {
      const twin = forgeCertificate({ subject: [{ shortName: 'O', value: 'dockgate' }, { shortName: 'CN', value: 'dockgate test CA' }], ca: true })
      const leaf = forgeCertificate({ subject: [{ shortName: 'OU', value: 'platform' }, { shortName: 'CN', value: 'twin' }], issuer: twin })
      await turnedAway(gw, bundleOf(gw, 'twin', [leaf.certPem, twin.certPem], leaf.keyPem),
        'dockgate: the client certificate is not issued by this gateway\'s CA (CERT_SIGNATURE_FAILURE)', 'unknown-ca')
    })

    it('an intermediate alone in tls.ca is no trust anchor: its leaves are refused, with or without the chain up to its root', async () => {
      const message = 'dockgate: the client certificate is not issued by this gateway\'s CA (UNABLE_TO_GET_ISSUER_CERT)'
      for (const [name, chain] of [['leaf', [underIntermediate.certPem]], ['leaf+i', [underIntermediate.certPem, intermediate.certPem]], ['leaf+i+root', [underIntermediate.certPem, intermediate.certPem, root.certPem]]] as const) {
        await turnedAway(intermediateOnly, bundleOf(intermediateOnly, name, chain, underIntermediate.keyPem), message, 'unknown-ca')
      }
    })

    it('(control) the same leaf is accepted by a gateway whose tls.ca holds the root, when the client sends the intermediate', async () => {
      const { result, names } = await attempt(rootTrusted, bundleOf(rootTrusted, 'via-root', [underIntermediate.certPem, intermediate.certPem], underIntermediate.keyPem), { responses: 2 })
      expect(result.responses.map((r) => r.status)).toEqual([201, 201])
      for (const name of names) expect(await containerExists(socket, name)).toBe(true)
    })
  })

  describe('names that must not match an identity', () => {
    const noIdentity = (subject: string): string => `dockgate: certificate ${subject} matches no identity in the policy`
    const hostile: Array<[string, readonly NameAttribute[], readonly AltName[], string]> = [
      ['OU platform with a Cyrillic р (U+0440)', [{ shortName: 'OU', value: 'рlatform' }, { shortName: 'CN', value: 'lookalike-ou' }], [], 'CN=lookalike-ou,OU=\\D1\\80latform'],
      ['CN ci-runner-1 with a Cyrillic с (U+0441)', [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: 'сi-runner-1' }], [], 'CN=\\D1\\81i-runner-1,OU=nobody'],
      ['an OU holding a comma and a second OU: nobody,OU=platform', [{ shortName: 'OU', value: 'nobody,OU=platform' }, { shortName: 'CN', value: 'comma-ou' }], [], 'CN=comma-ou,OU=nobody\\,OU\\=platform'],
      ['a CN holding a newline and a second attribute: mallory\\nOU=platform', [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: 'mallory\nOU=platform' }], [], 'CN=mallory\\0AOU\\=platform,OU=nobody'],
      ['a CN with a quote, a backslash and an ANSI escape', [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: 'evil"\\\u001b[2J' }], [], 'CN=evil\\"\\\\\\1B[2J,OU=nobody'],
      ['SANs whose text holds a second, wanted SAN (DNS, URI, email)', [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: 'san-comma' }], [
        { type: 'dns', value: 'evil.example.com, DNS:admin.example.com' },
        { type: 'uri', value: 'spiffe://example.org/x, URI:spiffe://example.org/admin' },
        { type: 'email', value: 'x@example.com, email:admin@example.com' }
      ], 'CN=san-comma,OU=nobody'],
      ['SANs with a newline before the wanted name', [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: 'san-newline' }], [{ type: 'dns', value: 'a.example.com\nDNS:admin.example.com' }, { type: 'uri', value: 'spiffe://example.org/admin\n' }], 'CN=san-newline,OU=nobody'],
      ['a DNS SAN admin.example.com with a Cyrillic а (U+0430)', [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: 'san-lookalike' }], [{ type: 'dns', value: 'аdmin.example.com' }], 'CN=san-lookalike,OU=nobody']
    ]
    for (const [what, subject, altNames, rendered] of hostile) {
      it(`${what}: no identity, nothing created, one escaped record`, async () => {
        const forged = forgeCertificate({ subject, altNames, issuer: gw.pki.ca })
        const before = readFileSync(gw.auditFile, 'utf8').split('\n').length
        const { result, names } = await attempt(gw, bundleOf(gw, `hostile-${attempts}`, [forged.certPem], forged.keyPem), { responses: 1 }, 1)
        expect(result.responses.map((r) => [r.status, r.message])).toEqual([[403, noIdentity(rendered)]])
        await nothingCreated(names)
        const records = gw.records().filter((r) => r.auditID === result.responses[0]?.headers['x-dockgate-request-id']?.[0])
        expect(records.map((r) => [r.stage, r.code, certificateOf(r)?.subject, r.identity?.teams])).toEqual([['Refused', 'DG_NO_IDENTITY', rendered, []]])
        expect(readFileSync(gw.auditFile, 'utf8').split('\n').length).toBe(before + 1)
      })
    }

    it('(control) the genuine names match: a DNS, a URI and an email SAN each get the platform team', async () => {
      for (const altName of [{ type: 'dns', value: 'admin.example.com' }, { type: 'uri', value: 'spiffe://example.org/admin' }, { type: 'email', value: 'admin@example.com' }] as const) {
        const forged = forgeCertificate({ subject: [{ shortName: 'OU', value: 'nobody' }, { shortName: 'CN', value: `san-${altName.type}` }], altNames: [altName], issuer: gw.pki.ca })
        const { result, names } = await attempt(gw, bundleOf(gw, `genuine-${altName.type}`, [forged.certPem], forged.keyPem), { responses: 2 })
        expect(result.responses.map((r) => r.status)).toEqual([201, 201])
        for (const name of names) expect(await containerExists(socket, name)).toBe(true)
      }
    })

    it('a certificate matching two identity entries gets the first entry\'s teams, not both (documented: the first entry wins)', async () => {
      const bundle = gw.pki.bundle('ci-runner-amb')
      const result = await wire(gw.port, bundle, [request('GET', '/v1.41/containers/json'), request('GET', '/v1.41/info')], { responses: 2 })
      expect(result.responses.map((r) => [r.status, r.message])).toEqual([[200, null], [403, 'dockgate: ci may not GET /info']])
      // The final record of each (a listing of many containers is streamed, so it may also have a RequestReceived).
      const records = gw.records().filter((r) => r.stage !== 'RequestReceived' && result.responses.some((a) => a.headers['x-dockgate-request-id']?.[0] === r.auditID))
      expect(records.map((r) => [r.identity?.teams, r.identity?.entry?.index])).toEqual([[['ci'], 4], [['ci'], 4]])
      const create = await attempt(gw, bundle, { responses: 1 }, 1)
      expect(create.result.responses[0]?.message).toBe('dockgate: ci may not POST /containers/create')
      await nothingCreated(create.names)
    })

    it('no hostile name broke an audit line, a log line or the client\'s error line (the operational log writes none per request)', () => {
      const lines = readFileSync(gw.auditFile, 'utf8').split('\n').slice(0, -1)
      for (const line of lines) {
        expect(() => JSON.parse(line) as unknown, line).not.toThrow()
        expect(hasControl(line), line).toBe(false)
      }
      expect(lines.filter((l) => l.includes('"subject":"CN=mallory\\\\0AOU\\\\=platform,OU=nobody"'))).toHaveLength(1)
      for (const line of logLines) {
        expect(line.indexOf('\n'), line).toBe(line.length - 1)
        expect(() => JSON.parse(line) as unknown).not.toThrow()
        expect(hasControl(line.slice(0, -1)), line).toBe(false)
      }
      for (const record of gw.records()) expect(hasControl(record.reason ?? '')).toBe(false)
    })
  })
})
