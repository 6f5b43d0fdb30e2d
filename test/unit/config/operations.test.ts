/**
 * The operational keys of the config: `admin`, `limits`, `shutdown` and
 * `workers`. Defaults when absent; every mistake reported at its
 * line:col, all at once, like every other key.
 */
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfigFile, type GatewayConfig } from '../../../src/config/load.js'
import { isLoopback } from '../../../src/config/operations.js'

let dir = ''

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-ops-'))
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1']
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', '/CN=test-ca'], { cwd: dir, stdio: 'ignore' })
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=gateway', '-addext', 'basicConstraints=critical,CA:FALSE'], { cwd: dir, stdio: 'ignore' })
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities: []\nteams: {}\n')
})
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

// Six fixed lines, so what the tests add starts on line 7.
const BASE = 'listen: 127.0.0.1:2376\nupstream: unix:///var/run/docker.sock\ntls: { ca: ca.pem, cert: cert.pem, key: key.pem }\npolicy: policy.yaml\naudit: { file: audit.jsonl }\n# ops\n'

async function load (extra: string): Promise<GatewayConfig | string[]> {
  const file = join(dir, 'config.yaml')
  writeFileSync(file, BASE + extra)
  const result = await loadConfigFile(file)
  return result.ok ? result.value : result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}

async function ok (extra: string): Promise<GatewayConfig> {
  const result = await load(extra)
  if (Array.isArray(result)) throw new Error(result.join('\n'))
  return result
}

describe('defaults', () => {
  it('admin off, one worker, 8 s grace, and the documented limits', async () => {
    const config = await ok('')
    expect(config.admin).toBeNull()
    expect(config.workers).toBe(1)
    expect(config.shutdown).toEqual({ graceSeconds: 8 })
    expect(config.limits).toEqual({
      bodyBytes: 1048576, maxConnections: 4096, connectionsPerIdentity: 768, streamsPerIdentity: 512,
      requestsPerSecond: null, requestBurst: 20, headerBytes: 32768, headersTimeoutSeconds: 20,
      unverifiedConnections: 1024, unverifiedPerAddress: 64
    })
  })
})

describe('admin', () => {
  it('takes loopback addresses and Unix sockets', async () => {
    expect((await ok('admin: 127.0.0.1:9376\n')).admin).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9376, allowRemote: false })
    expect((await ok('admin: "[::1]:9376"\n')).admin).toEqual({ kind: 'tcp', host: '::1', port: 9376, allowRemote: false })
    expect((await ok('admin: localhost:9376\n')).admin).toMatchObject({ host: 'localhost' })
    expect((await ok('admin: unix:///run/dockgate/admin.sock\n')).admin).toEqual({ kind: 'unix', path: '/run/dockgate/admin.sock' })
  })

  it('refuses a non-loopback address unless allowRemote says it is meant', async () => {
    expect(await load('admin: 0.0.0.0:9376\n')).toEqual([
      '7:8 DG_BAD_VALUE admin 0.0.0.0:9376 is not a loopback address, and the admin endpoints have no authentication; use 127.0.0.1:9376 or unix:///PATH, ' +
      'or write admin: { listen: 0.0.0.0:9376, allowRemote: true } to expose them on purpose (in a container, or behind a firewall)'
    ])
    expect((await ok('admin: { listen: 0.0.0.0:9376, allowRemote: true }\n')).admin).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 9376, allowRemote: true })
    expect(await load('admin:\n  listen: 10.0.0.5:9376\n  allowRemote: false\n')).toEqual([expect.stringMatching(/^8:11 DG_BAD_VALUE admin 10\.0\.0\.5:9376 is not a loopback address/)])
  })

  it('never shares the TLS port', async () => {
    expect(await load('admin: 127.0.0.1:2376\n')).toEqual([
      '7:8 DG_BAD_VALUE admin 127.0.0.1:2376 uses the TLS port 2376; the admin endpoints are plain HTTP and need a port of their own, like 9376'
    ])
  })

  it('reports wrong forms at their place, all at once with other mistakes', async () => {
    expect(await load('admin: 9376\nworkers: 0\n')).toEqual([
      '7:8 DG_WRONG_TYPE \'admin\' must be HOST:PORT on a loopback address (127.0.0.1:9376, [::1]:9376), unix:///PATH, or a mapping with listen and allowRemote, got a number',
      '8:10 DG_BAD_VALUE \'workers\' must be a whole number from 1 to 64, or "auto" for one per CPU, got 0'
    ])
    expect(await load('admin:\n  listen: 127.0.0.1:9376\n  allowRemte: true\n')).toEqual([
      "9:3 DG_UNKNOWN_KEY unknown key 'allowRemte' in admin; valid keys: listen, allowRemote (did you mean 'allowRemote'?)"
    ])
    expect(await load('admin: unix://run/admin.sock\n')).toEqual([
      '7:8 DG_BAD_VALUE admin "unix://run/admin.sock" must be unix:///ABSOLUTE/PATH of a socket to create, like unix:///run/dockgate/admin.sock'
    ])
  })

  it('knows what loopback is', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1'].map(isLoopback)).toEqual([true, true, true, true, true])
    expect(['0.0.0.0', '10.0.0.1', '::', 'example.com', '128.0.0.1'].map(isLoopback)).toEqual([false, false, false, false, false])
  })
})

describe('workers', () => {
  it('takes a number or auto (one per CPU)', async () => {
    expect((await ok('workers: 4\n')).workers).toBe(4)
    expect((await ok('workers: auto\n')).workers).toBe(Math.min(64, availableParallelism()))
  })

  it('refuses anything else', async () => {
    expect(await load('workers: 65\n')).toEqual(['7:10 DG_BAD_VALUE \'workers\' must be a whole number from 1 to 64, or "auto" for one per CPU, got 65'])
    expect(await load('workers: many\n')).toEqual(['7:10 DG_WRONG_TYPE \'workers\' must be a whole number from 1 to 64, or "auto" for one per CPU, got "many"'])
  })
})

describe('limits and shutdown', () => {
  it('fills the burst from the rate: one second\'s worth, at least 20', async () => {
    expect((await ok('limits: { requestsPerSecond: 5 }\n')).limits).toMatchObject({ requestsPerSecond: 5, requestBurst: 20 })
    expect((await ok('limits: { requestsPerSecond: 50.5 }\n')).limits).toMatchObject({ requestsPerSecond: 50.5, requestBurst: 51 })
    expect((await ok('limits: { requestsPerSecond: 5, requestBurst: 7 }\n')).limits).toMatchObject({ requestBurst: 7 })
  })

  it('reports every bad limit at its place', async () => {
    expect(await load('limits:\n  maxConnections: lots\n  headersTimeoutSeconds: 0\n  requestsPerSecond: 0\nshutdown:\n  graceSeconds: -1\n  grace: 3\n')).toEqual([
      "8:19 DG_WRONG_TYPE 'limits.maxConnections' must be a whole number of connections from 1 to 1000000, like 1024, got a string",
      "9:26 DG_BAD_VALUE 'limits.headersTimeoutSeconds' must be a whole number of seconds from 1 to 600, like 20, got 0",
      "10:22 DG_BAD_VALUE 'limits.requestsPerSecond' must be a number of requests per second above 0, like 50, got 0",
      "12:17 DG_BAD_VALUE 'shutdown.graceSeconds' must be a whole number of seconds from 0 to 3600, like 8, got -1",
      "13:3 DG_UNKNOWN_KEY unknown key 'grace' in shutdown; valid keys: graceSeconds"
    ])
  })

  it('takes each limit as written', async () => {
    const config = await ok('limits:\n  maxConnections: 10\n  connectionsPerIdentity: 3\n  streamsPerIdentity: 2\n  headerBytes: 8192\n  headersTimeoutSeconds: 5\n' +
      '  unverifiedConnections: 40\n  unverifiedPerAddress: 4\nshutdown: { graceSeconds: 0 }\n')
    expect(config.limits).toMatchObject({ maxConnections: 10, connectionsPerIdentity: 3, streamsPerIdentity: 2, headerBytes: 8192, headersTimeoutSeconds: 5, unverifiedConnections: 40, unverifiedPerAddress: 4 })
    expect(config.shutdown.graceSeconds).toBe(0)
  })
})
