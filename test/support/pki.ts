/**
 * Certificates for integration tests: a CA, a server certificate, and client
 * bundles laid out as DOCKER_CERT_PATH expects, including the bad kinds a
 * gateway must refuse (other CA, expired, not yet valid, serverAuth only).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, issueClientCertificate, issueServerCertificate, type Ca, type ExtendedKeyUsage, type IssuedCertificate } from '../../src/certs/issue.js'

/** How to make one client bundle. */
export interface ClientSpec {
  readonly name: string
  readonly cn?: string
  readonly ous?: readonly string[]
  /** Issue from a CA the gateway does not trust. */
  readonly foreignCa?: boolean
  readonly notBefore?: Date
  readonly notAfter?: Date
  readonly extKeyUsage?: readonly ExtendedKeyUsage[]
}

/** A test PKI on disk. `bundle(name)` is a DOCKER_CERT_PATH directory. */
export interface TestPki {
  readonly ca: Ca
  readonly server: { readonly cert: string; readonly key: string }
  readonly bundle: (name: string) => string
  readonly serials: ReadonlyMap<string, string>
}

let foreign: Ca | null = null

interface Issued { readonly ca: Ca; readonly server: IssuedCertificate; readonly clients: ReadonlyMap<string, IssuedCertificate> }

// What was issued for each list of clients, in this test file's process: a
// file that starts several gateways gives them the same certificates (each
// still in its own folder) instead of making a dozen RSA keys for each.
const issuedFor = new Map<string, Issued>()

function issue (clients: readonly ClientSpec[]): Issued {
  const ca = createCa({ commonName: 'dockgate test CA', days: 30 })
  const server = issueServerCertificate(ca, { hosts: [], days: 30 })
  const issued = new Map<string, IssuedCertificate>()
  for (const spec of clients) {
    const issuer = spec.foreignCa === true ? (foreign ??= createCa({ commonName: 'untrusted CA', days: 30 })) : ca
    issued.set(spec.name, issueClientCertificate(issuer, {
      cn: spec.cn ?? spec.name,
      ous: spec.ous ?? [],
      days: 30,
      ...(spec.notBefore === undefined ? {} : { notBefore: spec.notBefore }),
      ...(spec.notAfter === undefined ? {} : { notAfter: spec.notAfter }),
      ...(spec.extKeyUsage === undefined ? {} : { extKeyUsage: spec.extKeyUsage })
    }))
  }
  return { ca, server, clients: issued }
}

/** Issues everything into `dir/pki`; every bundle's ca.pem is the trusted CA so the CLI verifies the server. */
export function makePki (dir: string, clients: readonly ClientSpec[]): TestPki {
  const key = JSON.stringify(clients)
  const made = issuedFor.get(key) ?? issue(clients)
  issuedFor.set(key, made)
  const { ca, server } = made
  const root = join(dir, 'pki')
  const serials = new Map<string, string>()
  for (const spec of clients) {
    const issued = made.clients.get(spec.name)
    if (issued === undefined) throw new Error(`no certificate issued for ${spec.name}`)
    const bundle = join(root, spec.name)
    mkdirSync(bundle, { recursive: true })
    writeFileSync(join(bundle, 'ca.pem'), ca.certPem)
    writeFileSync(join(bundle, 'cert.pem'), issued.certPem)
    writeFileSync(join(bundle, 'key.pem'), issued.keyPem, { mode: 0o600 })
    serials.set(spec.name, issued.serialHex)
  }
  return {
    ca,
    server: { cert: server.certPem, key: server.keyPem },
    bundle: (name) => join(root, name),
    serials
  }
}

const DAY = 24 * 60 * 60 * 1000

/** The standard cast: one good client per team plus each kind of bad certificate. */
export const STANDARD_CLIENTS: readonly ClientSpec[] = [
  { name: 'alice', ous: ['platform'] },
  { name: 'ci-runner-7', ous: ['ci'] },
  { name: 'viewer', ous: ['readonly'] },
  { name: 'stranger', ous: ['nobody'] },
  { name: 'mallory', ous: ['platform'], foreignCa: true },
  { name: 'expired', ous: ['platform'], notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) },
  { name: 'future', ous: ['platform'], notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) },
  { name: 'server-only', ous: ['platform'], extKeyUsage: ['serverAuth'] }
]
