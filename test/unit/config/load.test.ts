import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseListen, parseUpstream } from '../../../src/config/address.js'
import { configFromObject, loadConfigFile, type GatewayConfig } from '../../../src/config/load.js'
import type { Loaded } from '../../../src/shared/diagnostics.js'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { createCa, issueServerCertificate } from '../../../src/certs/issue.js'

let dir = ''

function openssl (...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}

// TLS material is generated per run: a CA, a leaf (server) certificate and
// its key, and a second key that belongs to nothing.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-config-'))
  mkdirSync(join(dir, 'certs'))
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1']
  openssl('req', '-x509', ...ec, '-keyout', 'certs/ca-key.pem', '-out', 'certs/ca.pem', '-subj', '/CN=test-ca')
  openssl('req', '-x509', ...ec, '-keyout', 'certs/server-key.pem', '-out', 'certs/server-cert.pem', '-subj', '/CN=gateway',
    '-addext', 'basicConstraints=critical,CA:FALSE')
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'certs/other-key.pem')
  writeFileSync(join(dir, 'certs/garbage.pem'), 'not a key\n')
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities: []\nteams: {}\n')
  for (const name of ['valid.yaml', 'many-errors.yaml', 'mismatched-key.yaml', 'leaf-as-ca.yaml']) {
    copyFileSync(new URL(`../../fixtures/config/${name}`, import.meta.url), join(dir, name))
  }
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

function ok (result: Loaded<GatewayConfig>): GatewayConfig {
  if (!result.ok) throw new Error(result.diagnostics.map(formatDiagnostic).join('\n'))
  return result.value
}

function problems (result: Loaded<GatewayConfig>): string[] {
  return result.ok ? [] : result.diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}`)
}

describe('loadConfigFile: a valid file', () => {
  it('resolves every path from the config file folder and loads the PEM contents', async () => {
    const config = ok(await loadConfigFile(join(dir, 'valid.yaml')))
    expect(config.source).toBe(join(dir, 'valid.yaml'))
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 0 })
    expect(config.upstream).toEqual({ socketPath: '/var/run/docker.sock', url: 'unix:///var/run/docker.sock' })
    expect(config.tls?.caFile).toBe(join(dir, 'certs/ca.pem'))
    expect(config.tls?.keyFile).toBe(join(dir, 'certs/server-key.pem'))
    expect(config.tls?.cert).toContain('-----BEGIN CERTIFICATE-----')
    expect(config.tls?.key).toContain('PRIVATE KEY-----')
    expect(config.policyFile).toBe(join(dir, 'policy.yaml'))
    expect(config.audit.file).toBe(join(dir, 'audit/audit.jsonl'))
  })

  it('is deeply frozen', async () => {
    const config = ok(await loadConfigFile(join(dir, 'valid.yaml')))
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.tls)).toBe(true)
    expect(Object.isFrozen(config.listen)).toBe(true)
  })

  it('lets --listen and --upstream replace the file values', async () => {
    const config = ok(await loadConfigFile(join(dir, 'valid.yaml'), { listen: '[::1]:2376', upstream: 'unix:///run/user/1000/docker.sock' }))
    expect(config.listen).toEqual({ host: '::1', port: 2376 })
    expect(config.upstream.socketPath).toBe('/run/user/1000/docker.sock')
  })

  it('reports a bad flag against the flag, not the file', async () => {
    expect(problems(await loadConfigFile(join(dir, 'valid.yaml'), { listen: 'localhost', upstream: 'http://x' }))).toEqual([
      '--listen:0:0 DG_BAD_VALUE listen must be HOST:PORT like 0.0.0.0:2376 with a port from 0 to 65535, got "localhost"',
      '--upstream:0:0 DG_BAD_VALUE upstream must be unix:///PATH, like unix:///var/run/docker.sock, got "http://x"'
    ])
  })
})

describe('loadConfigFile: problems, all at once, at their place', () => {
  it('reports every mistake in one load with file:line:col', async () => {
    const file = join(dir, 'many-errors.yaml')
    expect(problems(await loadConfigFile(file))).toEqual([
      `${file}:2:1 DG_UNKNOWN_KEY unknown key 'lisen' at the top level; valid keys: listen, upstream, sockets, tls, policy, audit, limits, admin, shutdown, workers (did you mean 'listen'?)`,
      `${file}:3:9 DG_BAD_VALUE listen must be HOST:PORT like 0.0.0.0:2376 with a port from 0 to 65535, got "0.0.0.0:99999"`,
      `${file}:4:11 DG_BAD_VALUE upstream must be unix:///PATH, like unix:///var/run/docker.sock, got "tcp://127.0.0.1:2375"`,
      `${file}:6:3 DG_MISSING_KEY missing required key 'key' in tls`,
      `${file}:6:7 DG_FILE_UNREADABLE cannot read tls.ca file ${join(dir, 'certs/missing-ca.pem')}: no such file or directory (ENOENT)`,
      `${file}:7:9 DG_WRONG_TYPE 'tls.cert' must be a non-empty path to the gateway's PEM certificate file (relative to the config file's folder), got a number`,
      `${file}:8:9 DG_FILE_UNREADABLE cannot read policy file ${join(dir, 'no-such-policy.yaml')}: no such file or directory (ENOENT)`,
      `${file}:9:8 DG_MISSING_KEY missing required key 'file' in audit`
    ])
  })

  it('requires listen and upstream unless a flag gives them', async () => {
    const text = 'tls: { ca: certs/ca.pem, cert: certs/server-cert.pem, key: certs/server-key.pem }\npolicy: policy.yaml\naudit: { file: a.jsonl }\n'
    writeFileSync(join(dir, 'no-listen.yaml'), text)
    expect(problems(await loadConfigFile(join(dir, 'no-listen.yaml')))).toEqual([
      `${join(dir, 'no-listen.yaml')}:1:1 DG_MISSING_KEY missing required key 'listen' at the top level (or pass --listen)`,
      `${join(dir, 'no-listen.yaml')}:1:1 DG_MISSING_KEY missing required key 'upstream' at the top level (or pass --upstream)`
    ])
    ok(await loadConfigFile(join(dir, 'no-listen.yaml'), { listen: '0.0.0.0:2376', upstream: 'unix:///var/run/docker.sock' }))
  })

  it('refuses a key that does not match the certificate, at tls.key', async () => {
    const file = join(dir, 'mismatched-key.yaml')
    const found = problems(await loadConfigFile(file))
    expect(found).toHaveLength(1)
    expect(found[0]).toMatch(new RegExp(`^${file}:6:8 DG_TLS_MATERIAL tls.key does not match tls.cert`))
  })

  it('refuses a CA file holding a leaf certificate, and an unparsable key', async () => {
    const file = join(dir, 'leaf-as-ca.yaml')
    const found = problems(await loadConfigFile(file))
    expect(found).toHaveLength(2)
    expect(found[0]).toMatch(new RegExp(`^${file}:4:7 DG_TLS_MATERIAL tls.ca holds a certificate that is not a CA \\(CN=gateway\\)`))
    expect(found[1]).toMatch(new RegExp(`^${file}:6:8 DG_TLS_MATERIAL tls.key cannot be parsed as a private key`))
  })

  it('refuses a cert file that holds no certificate', async () => {
    const result = await configFromObject({
      listen: '0.0.0.0:1', upstream: 'unix:///d.sock', policy: 'policy.yaml', audit: { file: 'a' },
      tls: { ca: 'certs/ca.pem', cert: 'certs/server-key.pem', key: 'certs/server-key.pem' }
    }, dir)
    expect(problems(result)).toEqual(['<dev>:0:0 DG_TLS_MATERIAL tls.cert holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)'])
  })

  it('refuses a server certificate that has expired or is not valid yet, naming the file and the dates', async () => {
    const ca = createCa({ commonName: 'dated CA', days: 30 })
    writeFileSync(join(dir, 'certs/dated-ca.pem'), ca.certPem)
    const DAY = 86_400_000
    const cases = [
      ['expired', issueServerCertificate(ca, { hosts: [], days: 1, now: new Date(Date.now() - 3 * DAY) })],
      ['future', issueServerCertificate(ca, { hosts: [], days: 1, now: new Date(Date.now() + 2 * DAY) })]
    ] as const
    const found: string[] = []
    for (const [name, issued] of cases) {
      writeFileSync(join(dir, `certs/${name}-cert.pem`), issued.certPem)
      writeFileSync(join(dir, `certs/${name}-key.pem`), issued.keyPem)
      found.push(...problems(await configFromObject({
        listen: '0.0.0.0:1', upstream: 'unix:///d.sock', policy: 'policy.yaml', audit: { file: 'a' },
        tls: { ca: 'certs/dated-ca.pem', cert: `certs/${name}-cert.pem`, key: `certs/${name}-key.pem` }
      }, dir)))
    }
    const iso = '\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z'
    expect(found).toHaveLength(2)
    expect(found[0]).toMatch(new RegExp(`^<dev>:0:0 DG_TLS_MATERIAL tls\\.cert ${join(dir, 'certs/expired-cert.pem')} expired on (${iso}) \\(valid from ${iso} to \\1\\); ` +
      'every client would refuse it: renew it with `dockgate certs renew --server`$'))
    expect(found[1]).toMatch(new RegExp(`^<dev>:0:0 DG_TLS_MATERIAL tls\\.cert ${join(dir, 'certs/future-cert.pem')} is not valid until (${iso}) \\(valid from \\1 to ${iso}; ` +
      `this host's clock says ${iso}\\); every client would refuse it: check the clocks of this host and the CA host$`))
  })

  it('reports an unreadable config file at 0:0 with the OS reason', async () => {
    expect(problems(await loadConfigFile(join(dir, 'absent.yaml')))).toEqual([
      `${join(dir, 'absent.yaml')}:0:0 DG_FILE_UNREADABLE cannot read config file ${join(dir, 'absent.yaml')}: no such file or directory (ENOENT)`
    ])
  })

  it('stops at YAML syntax errors instead of piling schema errors on top', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'listen: a\nbogus: [\n')
    const found = problems(await loadConfigFile(join(dir, 'broken.yaml')))
    expect(found.length).toBeGreaterThan(0)
    expect(found.every((line) => line.includes('DG_YAML_SYNTAX'))).toBe(true)
  })

  it('reports a duplicate key together with every other problem, and does not load', async () => {
    writeFileSync(join(dir, 'broken.yaml'), 'listen: a\nlisten: 127.0.0.1:2376\nbogus: 1\n')
    const found = problems(await loadConfigFile(join(dir, 'broken.yaml')))
    expect(found.some((line) => line.includes(':2:1 DG_YAML_DUPLICATE_KEY'))).toBe(true)
    expect(found.some((line) => line.includes(':3:1 DG_UNKNOWN_KEY'))).toBe(true)
  })
})

describe('configFromObject: the dev setup gets the same checks', () => {
  const devValue = {
    listen: '127.0.0.1:0',
    upstream: 'unix:///var/run/docker.sock',
    tls: { ca: 'certs/ca.pem', cert: 'certs/server-cert.pem', key: 'certs/server-key.pem' },
    policy: 'policy.yaml',
    audit: { file: 'audit.jsonl' }
  }

  it('builds a config with no source', async () => {
    const config = ok(await configFromObject(devValue, dir))
    expect(config.source).toBeNull()
    expect(config.tls?.certFile).toBe(join(dir, 'certs/server-cert.pem'))
  })

  it('names problems against <dev>', async () => {
    expect(problems(await configFromObject({ ...devValue, policy: 'nope.yaml', extra: 1 }, dir))).toEqual([
      "<dev>:0:0 DG_UNKNOWN_KEY unknown key 'extra' at the top level; valid keys: listen, upstream, sockets, tls, policy, audit, limits, admin, shutdown, workers",
      `<dev>:0:0 DG_FILE_UNREADABLE cannot read policy file ${join(dir, 'nope.yaml')}: no such file or directory (ENOENT)`
    ])
  })
})

describe('parseListen', () => {
  it.each([
    ['0.0.0.0:2376', { host: '0.0.0.0', port: 2376 }],
    ['localhost:0', { host: 'localhost', port: 0 }],
    ['[::1]:2376', { host: '::1', port: 2376 }],
    ['[::]:65535', { host: '::', port: 65535 }],
    ['gateway.example.com:443', { host: 'gateway.example.com', port: 443 }]
  ])('accepts %s', (text, expected) => {
    expect(parseListen(text)).toEqual(expected)
  })

  it.each([
    ['0.0.0.0:65536', 'port from 0 to 65535'],
    ['0.0.0.0', 'HOST:PORT'],
    [':2376', 'write 0.0.0.0:2376'],
    ['::1:2376', 'in brackets, like [::1]:2376'],
    ['0.0.0.0:-1', 'HOST:PORT'],
    ['host name:1', 'HOST:PORT'],
    ['[localhost]:1', 'HOST:PORT']
  ])('refuses %s', (text, hint) => {
    expect(parseListen(text)).toEqual(expect.stringContaining(hint))
  })
})

describe('parseUpstream', () => {
  it('accepts unix:///absolute/path', () => {
    expect(parseUpstream('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock', url: 'unix:///var/run/docker.sock' })
  })

  it.each([
    ['tcp://127.0.0.1:2375', 'must be unix:///PATH'],
    ['unix://var/run/docker.sock', 'three slashes'],
    ['unix:///', 'names a directory'],
    ['unix:///var/run/', 'names a directory'],
    ['unix:///docker.sock?x=1', 'no query']
  ])('refuses %s', (text, hint) => {
    expect(parseUpstream(text)).toEqual(expect.stringContaining(hint))
  })
})
