/**
 * The on-disk layout of dockgate's key material and the operations on it:
 *
 *   DIR/ca/ca.pem, DIR/ca/key.pem                       the CA (key never leaves here)
 *   DIR/ca/index.json, DIR/ca/crl.pem                   what it issued, and its revocation list
 *   DIR/server/cert.pem, DIR/server/key.pem, DIR/server/ca.pem
 *   DIR/clients/NAME/ca.pem, cert.pem, key.pem          what DOCKER_CERT_PATH expects
 *
 * Invariants: private keys are 0600 and their directories 0700; every file is
 * replaced atomically; an existing CA is never replaced without `force`.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CertInputError, CertStoreError } from './errors.js'
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, ensurePrivateDir, moveAside, pathExists, writeFileAtomic } from './files.js'
import { checkClientIdentity, createCa, issueClientCertificate, issueServerCertificate, type Ca, type IssuedCertificate } from './issue.js'
import { serverHostNames } from './hosts.js'
import { indexPath } from './index-file.js'
import { crlPath, DEFAULT_CRL_HOURS, entryFor, recordIssued, republishCrl, startLedger } from './ledger.js'
import type { ClientAltNames } from './names.js'
import { shellQuote } from './shell.js'

/** Where `dockgate certs` and `npm start` keep material unless told otherwise. */
export const DEFAULT_CERTS_DIR = 'certs'

/** Default validity, in days, of each kind of certificate. */
export const DEFAULT_DAYS = { ca: 3650, server: 365, client: 90 } as const

/** The fixed file names under a certs directory; see the module comment. */
export interface CertLayout {
  readonly caDir: string
  readonly caCert: string
  readonly caKey: string
  readonly caIndex: string
  readonly caCrl: string
  readonly serverDir: string
  readonly serverCert: string
  readonly serverKey: string
  readonly serverCa: string
}

/** The three files of one client bundle, named as the docker CLI looks for them. */
export interface ClientBundlePaths {
  readonly dir: string
  readonly ca: string
  readonly cert: string
  readonly key: string
}

/** Paths of the CA and server material under `dir`; pure, touches nothing. */
export function certLayout (dir: string): CertLayout {
  const caDir = join(dir, 'ca')
  const serverDir = join(dir, 'server')
  return {
    caDir,
    caCert: join(caDir, 'ca.pem'),
    caKey: join(caDir, 'key.pem'),
    caIndex: indexPath(caDir),
    caCrl: crlPath(caDir),
    serverDir,
    serverCert: join(serverDir, 'cert.pem'),
    serverKey: join(serverDir, 'key.pem'),
    serverCa: join(serverDir, 'ca.pem')
  }
}

// Safe as one path segment on every OS: no separators, no leading dot or dash, no '..'.
const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/

/**
 * Paths of the client bundle `name` under `dir`. Throws {@link CertInputError}
 * unless `name` matches `^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`, because it
 * becomes a directory name and must not escape `DIR/clients`.
 */
export function clientBundlePaths (dir: string, name: string): ClientBundlePaths {
  if (!BUNDLE_NAME.test(name)) {
    throw new CertInputError(`'${name}' cannot be used as a client name: it names the bundle folder, so use 1 to 64 ` +
      'letters, digits, ".", "_", "@" or "-", starting with a letter or digit')
  }
  const bundleDir = join(dir, 'clients', name)
  return { dir: bundleDir, ca: join(bundleDir, 'ca.pem'), cert: join(bundleDir, 'cert.pem'), key: join(bundleDir, 'key.pem') }
}

/**
 * Reads the CA under `dir` and checks it can issue: both files present, the
 * certificate is a CA that has not expired, and the key matches it.
 * Throws {@link CertStoreError} naming the problem and the fix otherwise.
 */
export async function readCa (dir: string): Promise<Ca> {
  const layout = certLayout(dir)
  const [hasCert, hasKey] = await Promise.all([pathExists(layout.caCert), pathExists(layout.caKey)])
  if (!hasCert && !hasKey) {
    throw new CertStoreError(`no CA in ${layout.caDir}; run \`dockgate certs init${dirFlag(dir)}\` first`)
  }
  if (!hasCert || !hasKey) {
    throw new CertStoreError(`incomplete CA in ${layout.caDir}: ${hasCert ? layout.caKey : layout.caCert} is missing`)
  }
  const ca = { certPem: await readFile(layout.caCert, 'utf8'), keyPem: await readFile(layout.caKey, 'utf8') }
  checkCaUsable(ca, layout)
  return ca
}

function checkCaUsable (ca: Ca, layout: CertLayout): void {
  const cert = parseCertificate(ca.certPem, layout.caCert)
  if (!cert.ca) throw new CertStoreError(`${layout.caCert} is not a CA certificate`)
  if (Date.parse(cert.validTo) <= Date.now()) {
    throw new CertStoreError(`the CA in ${layout.caDir} expired on ${cert.validTo}; replace it with \`dockgate certs init --force\``)
  }
  if (!keyMatches(cert, ca.keyPem)) throw new CertStoreError(`${layout.caKey} is not the key of ${layout.caCert}`)
}

/** What `certs init` should create. `force` allows replacing an existing CA. */
export interface InitOptions {
  readonly hosts: readonly string[]
  readonly days: number
  readonly caDays: number
  readonly force: boolean
  readonly now?: Date
}

/**
 * What `certs init` did; `replacedCa` means every earlier certificate is now
 * useless, and `previousCaMovedTo` is where the old CA folder (key, index,
 * CRL) was kept, null when there was none.
 */
export interface InitResult {
  readonly replacedCa: boolean
  readonly previousCaMovedTo: string | null
  readonly serverNames: readonly string[]
  readonly written: readonly string[]
  /** Expiry of the CA and of the server certificate, as Node prints dates. */
  readonly caValidTo: string
  readonly serverValidTo: string
}

/**
 * Creates a CA and a server certificate under `dir`. Everything is issued in
 * memory before the first write, so bad input leaves the directory untouched.
 * Throws {@link CertStoreError} if a CA (either file) exists and `force` is
 * false: replacing it silently would lock out every client. With `force`,
 * the old CA folder is renamed to `ca.replaced-<UTC time>` first, never
 * overwritten: a CA key cannot be recreated, so a mistaken `--force` must
 * be undoable.
 */
export async function initCertificates (dir: string, opts: InitOptions): Promise<InitResult> {
  const layout = certLayout(dir)
  const serverNames = serverHostNames(opts.hosts).map((name) => name.value)
  const caExists = await pathExists(layout.caCert) || await pathExists(layout.caKey)
  if (caExists && !opts.force) {
    throw new CertStoreError(`CA already exists at ${layout.caDir}; use --force to replace it (every issued certificate stops working)`)
  }
  const now = opts.now ?? new Date()
  const ca = createCa({ commonName: `dockgate CA ${now.toISOString().slice(0, 10)}`, days: opts.caDays, now })
  const server = issueServerCertificate(ca, { hosts: opts.hosts, days: opts.days, now })
  const previousCaMovedTo = caExists ? await moveAside(layout.caDir, now) : null
  const written = [...await writeCa(layout, ca), ...await writeServer(layout, ca, server), ...await startLedger(layout.caDir, ca, server.certPem, now)]
  return {
    replacedCa: caExists,
    previousCaMovedTo,
    serverNames,
    written,
    caValidTo: new X509Certificate(ca.certPem).validTo,
    serverValidTo: new X509Certificate(server.certPem).validTo
  }
}

/** Who a client bundle is for; `cn` is also the bundle's folder name. `hours` (short-lived) wins over `days`. */
export interface ClientBundleOptions {
  readonly cn: string
  readonly ous: readonly string[]
  readonly days: number
  readonly hours?: number
  readonly altNames?: ClientAltNames
  readonly now?: Date
}

/** The bundle written; `replaced` means an earlier bundle of that name was overwritten. */
export interface ClientBundleResult {
  readonly paths: ClientBundlePaths
  readonly replaced: boolean
  readonly serialHex: string
  readonly validTo: string
  /** The certificate's subjectAltName entries as Node prints them (`URI:spiffe://...`). */
  readonly altNames: readonly string[]
}

/**
 * Issues a client certificate from the CA under `dir`, writes the bundle
 * to `DIR/clients/<cn>/` (replacing an existing bundle of that name) and
 * records it in the CA's index.
 * Throws {@link CertInputError} for an unsafe name or a bad CN/OU (checked
 * before the CA is read) and {@link CertStoreError} when there is no usable CA.
 */
export async function issueClientBundle (dir: string, opts: ClientBundleOptions): Promise<ClientBundleResult> {
  const paths = clientBundlePaths(dir, opts.cn)
  checkClientIdentity(opts.cn, opts.ous)
  const ca = await readCa(dir)
  const issued = issueClientCertificate(ca, { ...opts })
  const replaced = await pathExists(paths.cert) || await pathExists(paths.key)
  await writeClientBundle(paths, ca, issued)
  await recordIssued(certLayout(dir).caDir, ca, [entryFor('client', issued.certPem, opts.now ?? new Date())])
  const cert = new X509Certificate(issued.certPem)
  return { paths, replaced, serialHex: issued.serialHex, validTo: cert.validTo, altNames: (cert.subjectAltName ?? '').split(', ').filter((n) => n !== '') }
}

/** The CA name, hosts and client `npm start` sets up for local development. */
export const DEV_MATERIAL = { caCommonName: 'dockgate dev CA', clientName: 'admin', clientOus: ['platform'], days: 365 } as const

/**
 * Makes `dir` ready for development: a CA, a server certificate for
 * localhost/127.0.0.1 and an `admin` client bundle with OU `platform`.
 * Each is created only when missing, except that the server certificate and
 * the bundle are also reissued when they are expired, unreadable or not from
 * the current CA (they would not work otherwise). Never replaces an existing
 * CA: a broken one is a {@link CertStoreError}. Returns the directories it
 * (re)wrote, empty when everything was already in place.
 */
export async function ensureDevMaterial (dir: string): Promise<{ created: string[] }> {
  const layout = certLayout(dir)
  const created: string[] = []
  const caIsNew = !await pathExists(layout.caCert) && !await pathExists(layout.caKey)
  if (caIsNew) {
    await writeCa(layout, createCa({ commonName: DEV_MATERIAL.caCommonName, days: DEFAULT_DAYS.ca }))
    created.push(layout.caDir)
  }
  const ca = await readCa(dir)
  // The dev config turns on revocation checking, so there must be a CRL.
  if (caIsNew) await startLedger(layout.caDir, ca, null, new Date())
  else if (!await pathExists(layout.caCrl)) await republishCrl(layout.caDir, ca, DEFAULT_CRL_HOURS, new Date())
  if (caIsNew || !await isWorkingLeaf(layout.serverCert, layout.serverKey, ca)) {
    const server = issueServerCertificate(ca, { hosts: [], days: DEV_MATERIAL.days })
    await writeServer(layout, ca, server)
    await recordIssued(layout.caDir, ca, [entryFor('server', server.certPem, new Date())])
    created.push(layout.serverDir)
  }
  const bundle = clientBundlePaths(dir, DEV_MATERIAL.clientName)
  if (caIsNew || !await isWorkingLeaf(bundle.cert, bundle.key, ca)) {
    const issued = issueClientCertificate(ca, { cn: DEV_MATERIAL.clientName, ous: DEV_MATERIAL.clientOus, days: DEV_MATERIAL.days })
    await writeClientBundle(bundle, ca, issued)
    await recordIssued(layout.caDir, ca, [entryFor('client', issued.certPem, new Date())])
    created.push(bundle.dir)
  }
  return { created }
}

async function isWorkingLeaf (certPath: string, keyPath: string, ca: Ca): Promise<boolean> {
  try {
    const cert = new X509Certificate(await readFile(certPath, 'utf8'))
    const caCert = new X509Certificate(ca.certPem)
    return cert.checkIssued(caCert) && cert.verify(caCert.publicKey) &&
      Date.parse(cert.validTo) > Date.now() && keyMatches(cert, await readFile(keyPath, 'utf8'))
  } catch {
    return false // missing or unparsable: reissuing is the repair
  }
}

// Keys before certificates: a reader that finds a new certificate must find its key.
async function writeCa (layout: CertLayout, ca: Ca): Promise<string[]> {
  await ensurePrivateDir(layout.caDir)
  await writeFileAtomic(layout.caKey, ca.keyPem, PRIVATE_FILE_MODE)
  await writeFileAtomic(layout.caCert, ca.certPem, PUBLIC_FILE_MODE)
  return [layout.caCert, layout.caKey]
}

/** Writes the server key, certificate and CA copy, key first; returns the paths. */
export async function writeServer (layout: CertLayout, ca: Ca, server: IssuedCertificate): Promise<string[]> {
  await ensurePrivateDir(layout.serverDir)
  await writeFileAtomic(layout.serverKey, server.keyPem, PRIVATE_FILE_MODE)
  await writeFileAtomic(layout.serverCert, server.certPem, PUBLIC_FILE_MODE)
  await writeFileAtomic(layout.serverCa, ca.certPem, PUBLIC_FILE_MODE)
  return [layout.serverCert, layout.serverKey, layout.serverCa]
}

/** Writes a client bundle (key first, so a reader never finds a certificate without its key). */
export async function writeClientBundle (paths: ClientBundlePaths, ca: Ca, issued: IssuedCertificate): Promise<void> {
  await ensurePrivateDir(paths.dir)
  await writeFileAtomic(paths.key, issued.keyPem, PRIVATE_FILE_MODE)
  await writeFileAtomic(paths.cert, issued.certPem, PUBLIC_FILE_MODE)
  await writeFileAtomic(paths.ca, ca.certPem, PUBLIC_FILE_MODE)
}

function parseCertificate (pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem)
  } catch {
    throw new CertStoreError(`${path} is not a PEM certificate`)
  }
}

function keyMatches (cert: X509Certificate, keyPem: string): boolean {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem))
  } catch {
    return false // an unparsable or encrypted key cannot be used either
  }
}

function dirFlag (dir: string): string {
  return dir === DEFAULT_CERTS_DIR ? '' : ` --dir ${shellQuote(dir)}`
}
