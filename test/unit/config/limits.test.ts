/**
 * The `limits:` section of the gateway config: `bodyBytes` caps the request
 * bodies read for judging. Checked like every other key, all at once.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfigFile } from '../../../src/config/load.js'
import { DEFAULT_LIMITS } from '../../../src/config/operations.js'

let dir = ''

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-limits-'))
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-subj', '/CN=test-ca'], { cwd: dir, stdio: 'ignore' })
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-keyout', 'key.pem', '-out', 'cert.pem', '-subj', '/CN=gateway', '-addext', 'basicConstraints=critical,CA:FALSE'], { cwd: dir, stdio: 'ignore' })
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities: []\nteams: {}\n')
})
afterAll(() => { rmSync(dir, { recursive: true, force: true }) })

async function load (limits: string): Promise<string[] | number> {
  const file = join(dir, 'config.yaml')
  writeFileSync(file, `listen: 127.0.0.1:0\nupstream: unix:///var/run/docker.sock\ntls: { ca: ca.pem, cert: cert.pem, key: key.pem }\npolicy: policy.yaml\naudit: { file: audit.jsonl }\n${limits}`)
  const result = await loadConfigFile(file)
  return result.ok ? result.value.limits.bodyBytes : result.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)
}

describe('limits.bodyBytes', () => {
  it('defaults to 1 MiB, and takes a whole number of bytes', async () => {
    expect(await load('')).toBe(DEFAULT_LIMITS.bodyBytes)
    expect(DEFAULT_LIMITS.bodyBytes).toBe(1024 * 1024)
    expect(await load('limits: {}\n')).toBe(DEFAULT_LIMITS.bodyBytes)
    expect(await load('limits:\n  bodyBytes: 65536\n')).toBe(65536)
  })

  it('refuses values out of range, of the wrong type, and unknown keys, at their place', async () => {
    expect(await load('limits:\n  bodyBytes: 10\n')).toEqual(["7:14 DG_BAD_VALUE 'limits.bodyBytes' must be a whole number of bytes from 1024 to 268435456, like 1048576, got 10"])
    expect(await load('limits:\n  bodyBytes: 1MiB\n')).toEqual(["7:14 DG_WRONG_TYPE 'limits.bodyBytes' must be a whole number of bytes from 1024 to 268435456, like 1048576, got a string"])
    expect(await load('limits:\n  bodyByte: 4096\n')).toEqual(["7:3 DG_UNKNOWN_KEY unknown key 'bodyByte' in limits; valid keys: bodyBytes, maxConnections, connectionsPerIdentity, streamsPerIdentity, requestsPerSecond, requestBurst, headerBytes, headersTimeoutSeconds, unverifiedConnections, unverifiedPerAddress (did you mean 'bodyBytes'?)"])
  })
})
