/**
 * The index of certificates a CA issued, `DIR/ca/index.json`, next to the
 * CA. It is what `list`, `revoke --cn`, `renew` and `crl` work from: the
 * CRL is regenerated from it, never edited. Holds no secrets.
 *
 * Invariants: replaced atomically; read-modify-write happens under an
 * exclusive lock file, so two `dockgate certs` runs cannot lose each
 * other's entries; an index belongs to one CA (by fingerprint).
 */
import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { CertStoreError } from './errors.js'
import { PUBLIC_FILE_MODE, pathExists, writeFileAtomic } from './files.js'
import type { RevocationReason } from './crl.js'

/** What kind of certificate an entry is; `unknown` is a serial revoked without being in the index. */
export type EntryKind = 'client' | 'server' | 'unknown'

/** One issued (or revoked-by-serial) certificate. Times are ISO strings. */
export interface IndexEntry {
  readonly serial: string
  readonly kind: EntryKind
  readonly cn: string
  readonly ous: readonly string[]
  readonly sanDns: readonly string[]
  readonly sanIp: readonly string[]
  readonly sanUri: readonly string[]
  readonly sanEmail: readonly string[]
  /** Null only for `unknown` entries. */
  readonly notBefore: string | null
  readonly notAfter: string | null
  readonly issuedAt: string
  readonly revoked: { readonly at: string; readonly reason: RevocationReason } | null
}

/** The whole file. `crlNumber` is the number of the last CRL written. */
export interface CertIndex {
  readonly version: 1
  readonly caFingerprint256: string
  readonly crlNumber: number
  readonly certificates: readonly IndexEntry[]
}

const LOCK_WAIT_MS = 10_000
const LOCK_POLL_MS = 100

/** `DIR/ca/index.json`. */
export function indexPath (caDir: string): string {
  return join(caDir, 'index.json')
}

/** An empty index for the CA with `caFingerprint256`. */
export function emptyIndex (caFingerprint256: string): CertIndex {
  return { version: 1, caFingerprint256, crlNumber: 0, certificates: [] }
}

/**
 * Reads the index of the CA in `caDir`; a CA from before the index existed
 * gets an empty one. Throws {@link CertStoreError} for a damaged file or an
 * index that belongs to another CA (the CA was replaced by hand).
 */
export async function readIndex (caDir: string, caFingerprint256: string): Promise<CertIndex> {
  const path = indexPath(caDir)
  if (!await pathExists(path)) return emptyIndex(caFingerprint256)
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new CertStoreError(`${path} is damaged (${err instanceof Error ? err.message : String(err)}); restore it from a backup`)
  }
  const index = parsed as Partial<CertIndex> | null
  if (index?.version !== 1 || !Array.isArray(index.certificates) || typeof index.crlNumber !== 'number') {
    throw new CertStoreError(`${path} is not a dockgate certificate index (version 1); restore it from a backup`)
  }
  if (index.caFingerprint256 !== caFingerprint256) {
    throw new CertStoreError(`${path} belongs to another CA than ${join(caDir, 'ca.pem')}; ` +
      'move it away (a new CA starts with an empty index)')
  }
  return index as CertIndex
}

/** Replaces the index atomically. */
export async function writeIndex (caDir: string, index: CertIndex): Promise<void> {
  await writeFileAtomic(indexPath(caDir), JSON.stringify(index, null, 2) + '\n', PUBLIC_FILE_MODE)
}

/**
 * Runs `action` holding `DIR/ca/.lock`, created exclusively. Waits up to
 * 10 s for another holder; then throws {@link CertStoreError} naming the
 * lock, which a crashed run may have left behind.
 */
export async function withCaLock<T> (caDir: string, action: () => Promise<T>): Promise<T> {
  const lock = join(caDir, '.lock')
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      await (await open(lock, 'wx', PUBLIC_FILE_MODE)).close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (Date.now() > deadline) {
        throw new CertStoreError(`another dockgate certs command holds ${lock}; if none is running, delete that file`)
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS))
    }
  }
  try {
    return await action()
  } finally {
    await rm(lock, { force: true })
  }
}
