/**
 * `npm start` / `dockgate serve --dev`: a working gateway on a fresh clone
 * with no config. Generates a dev CA, a server certificate for localhost and
 * an `admin` client bundle (OU platform) under ./certs when missing, uses the
 * shipped policies/default.yaml, listens on loopback only.
 */
import { fileURLToPath } from 'node:url'
import { join, resolve } from 'node:path'
import { certLayout, clientBundlePaths, DEFAULT_CERTS_DIR, DEV_MATERIAL, ensureDevMaterial } from '../certs/store.js'

/** The package root (holds policies/), whether run from dist/ or src/. */
const PACKAGE_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..')

/** Where the dev setup listens: loopback only by design. */
export const DEV_LISTEN = '127.0.0.1:2376'
/** The daemon socket the dev setup forwards to, Docker's default. */
export const DEV_UPSTREAM = 'unix:///var/run/docker.sock'

/** Creates missing dev material and returns the config object plus the lines to paste. */
export async function prepareDevSetup (cwd: string): Promise<{ config: unknown; created: string[]; clientDir: string }> {
  const dir = resolve(cwd, DEFAULT_CERTS_DIR)
  const { created } = await ensureDevMaterial(dir)
  const layout = certLayout(dir)
  const config = {
    listen: DEV_LISTEN,
    upstream: DEV_UPSTREAM,
    tls: { ca: layout.caCert, cert: layout.serverCert, key: layout.serverKey, crl: layout.caCrl },
    policy: join(PACKAGE_ROOT, 'policies', 'default.yaml'),
    audit: { file: resolve(cwd, 'audit', 'audit.jsonl') }
  }
  return { config, created, clientDir: clientBundlePaths(dir, DEV_MATERIAL.clientName).dir }
}

/** The shell line that points the docker CLI at the gateway with the admin bundle. */
export function exportLine (host: string, port: number, clientDir: string): string {
  return `export DOCKER_HOST=tcp://${host}:${port} DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${clientDir}`
}
