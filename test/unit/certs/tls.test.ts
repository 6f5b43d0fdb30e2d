// Interoperability: the issued certificates work with Node's TLS exactly the
// way the gateway uses it (requestCert, rejectUnauthorized: false, then a
// look at socket.authorized), and every kind of bad client certificate is
// refused with the authorizationError code the gateway will report.
import { EventEmitter, once } from 'node:events'
import type { AddressInfo } from 'node:net'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createCa, issueClientCertificate, issueServerCertificate, type Ca, type IssuedCertificate } from '../../../src/certs/issue.js'

const DAY_MS = 86_400_000

interface ServerView { authorized: boolean; authorizationError: string | null; peer: tls.PeerCertificate }
interface Handshake { server: ServerView; clientAuthorized: boolean; clientError: string | null }

let ca: Ca
let server: IssuedCertificate
let gateway: tls.Server
// Keyed by the client's port, so a late handshake can never be mistaken for the current one.
const serverViews = new Map<number, ServerView>()
const arrivals = new EventEmitter()

beforeAll(async () => {
  ca = createCa({ commonName: 'dockgate test CA', days: 30 })
  server = issueServerCertificate(ca, { hosts: ['gateway.test'], days: 30 })
  gateway = tls.createServer({
    key: server.keyPem, cert: server.certPem, ca: [ca.certPem],
    requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2'
  }, (socket) => {
    const authorizationError = socket.authorizationError as unknown as string | null
    serverViews.set(socket.remotePort ?? 0, { authorized: socket.authorized, authorizationError, peer: socket.getPeerCertificate() })
    arrivals.emit('view')
    socket.end()
  })
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve))
})

afterAll(async () => {
  await new Promise<void>((resolve) => gateway.close(() => { resolve() }))
})

/** Connects as a docker CLI would: verifying the gateway against the CA, presenting `client` if given. */
async function handshake (client: IssuedCertificate | undefined, opts: { servername?: string; maxVersion?: tls.SecureVersion } = {}): Promise<Handshake> {
  const socket = tls.connect({
    host: '127.0.0.1', port: (gateway.address() as AddressInfo).port, ca: [ca.certPem],
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
    ...(opts.maxVersion !== undefined ? { maxVersion: opts.maxVersion } : {}),
    ...(client !== undefined ? { key: client.keyPem, cert: client.certPem } : {})
  })
  try {
    await new Promise<void>((resolve, reject) => { socket.once('secureConnect', resolve).once('error', reject) })
    const clientError = socket.authorizationError as unknown as string | null
    return { server: await serverViewFor(socket.localPort ?? 0), clientAuthorized: socket.authorized, clientError }
  } finally {
    socket.destroy()
  }
}

async function serverViewFor (port: number): Promise<ServerView> {
  for (;;) {
    const view = serverViews.get(port)
    if (view !== undefined) return view
    await once(arrivals, 'view')
  }
}

function client (opts: { ous?: string[]; notBefore?: Date; notAfter?: Date; serverAuthOnly?: boolean; from?: Ca } = {}): IssuedCertificate {
  return issueClientCertificate(opts.from ?? ca, {
    cn: 'alice', ous: opts.ous ?? ['platform'], days: 30,
    ...(opts.notBefore !== undefined ? { notBefore: opts.notBefore } : {}),
    ...(opts.notAfter !== undefined ? { notAfter: opts.notAfter } : {}),
    ...(opts.serverAuthOnly === true ? { extKeyUsage: ['serverAuth' as const] } : {})
  })
}

describe('a good client bundle', () => {
  it.each(['TLSv1.2', 'TLSv1.3'] as const)('is authorized by the gateway and verifies the gateway over %s', async (maxVersion) => {
    const result = await handshake(client(), { maxVersion })
    expect(result.server).toMatchObject({ authorized: true, authorizationError: null })
    expect(result.clientAuthorized).toBe(true)
  })

  it.each([undefined, 'localhost', 'gateway.test'])('matches the server certificate when connecting as %s (undefined: by IP 127.0.0.1)', async (servername) => {
    const result = await handshake(client(), servername !== undefined ? { servername } : {})
    expect(result.clientError).toBeNull()
    expect(result.clientAuthorized).toBe(true)
  })

  it('exposes CN, every OU (as an array when there are several) and the serial to the gateway', async () => {
    const issued = client({ ous: ['platform', 'ops'] })
    const { server: view } = await handshake(issued)
    expect(view.peer.subject).toEqual({ CN: 'alice', OU: ['platform', 'ops'] })
    expect(view.peer.serialNumber).toBe(issued.serialHex)
  })

  it('is refused by the client when it names a host the certificate does not cover', async () => {
    await expect(handshake(client(), { servername: 'elsewhere.test' })).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' })
  })
})

describe('bad client certificates are not authorized', () => {
  const now = Date.now()
  // The codes Node's TLS reports in socket.authorizationError; the gateway maps them to DG_TLS_REJECTED.
  const cases: Array<[string, () => IssuedCertificate | undefined, string]> = [
    ['no certificate at all', () => undefined, 'UNABLE_TO_GET_ISSUER_CERT'],
    ['a certificate from another CA with the same name', () => client({ from: createCa({ commonName: 'dockgate test CA', days: 30 }) }), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['an expired certificate', () => client({ notBefore: new Date(now - 10 * DAY_MS), notAfter: new Date(now - DAY_MS) }), 'CERT_HAS_EXPIRED'],
    ['a not-yet-valid certificate', () => client({ notBefore: new Date(now + DAY_MS), notAfter: new Date(now + 10 * DAY_MS) }), 'CERT_NOT_YET_VALID'],
    ['a serverAuth-only certificate', () => client({ serverAuthOnly: true }), 'INVALID_PURPOSE']
  ]

  it.each(cases)('%s', async (_label, makeClient, expectedError) => {
    const { server: view } = await handshake(makeClient())
    expect(view.authorized).toBe(false)
    expect(view.authorizationError).toBe(expectedError)
  })

  it('an absent certificate shows up as an empty object, not null', async () => {
    const { server: view } = await handshake(undefined)
    expect(view.peer).toEqual({})
  })
})
