/**
 * `sockets:` in the config: what a valid entry becomes, every mistake
 * reported at its own line:col with what would be valid, and which
 * listeners a file asks for (TLS, sockets, or both; never neither).
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfigFile } from '../../../src/config/load.js'
import { accountId } from '../../../src/config/accounts.js'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'

const dir = mkdtempSync(join(tmpdir(), 'dockgate-sockets-'))
writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities: []\nteams: {}\n')

async function load (lines: readonly string[]): Promise<ReturnType<typeof loadConfigFile>> {
  const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, ['upstream: unix:///var/run/docker.sock', 'policy: policy.yaml', 'audit: { file: audit.jsonl }', ...lines, ''].join('\n'))
  return await loadConfigFile(file)
}

async function problems (lines: readonly string[]): Promise<string[]> {
  const loaded = await load(lines)
  return loaded.ok ? [] : loaded.diagnostics.map((d) => formatDiagnostic(d).replace(/^.*\/config-\w+\.yaml/, 'config.yaml'))
}

describe('sockets: in the config', () => {
  it('serves only socket listeners without tls:, with the mode defaulting to 0600 and owner and group by name or number', async () => {
    const loaded = await load([
      'sockets:',
      '  - path: run/traefik.sock',
      '    identity: traefik',
      '    mode: "0660"',
      '    group: root',
      '  - path: /run/dockgate/ci.sock',
      '    identity: ci-runner.1',
      '    owner: 1000'
    ])
    if (!loaded.ok) throw new Error(loaded.diagnostics.map(formatDiagnostic).join('\n'))
    expect(loaded.value.tls).toBeNull()
    expect(loaded.value.listen).toBeNull()
    expect(loaded.value.sockets).toEqual([
      { path: join(dir, 'run/traefik.sock'), identity: 'traefik', mode: 0o660, uid: null, gid: 0 },
      { path: '/run/dockgate/ci.sock', identity: 'ci-runner.1', mode: 0o600, uid: 1000, gid: null }
    ])
    expect(Object.isFrozen(loaded.value.sockets[0])).toBe(true)
  })

  it('reports every mistake at once, each at its line:col with what would be valid', async () => {
    expect(await problems([
      'sockets:',
      '  - path: /run/a.sock',
      '    identity: "trae fik"',
      '    mode: 0660',
      '  - path: /run/b.sock',
      '    identity: ok',
      '    mode: "0444"',
      '    group: no-such-group-here',
      '  - path: /run/a.sock',
      '    identity: again',
      '  - path: /run/' + 'x'.repeat(100) + '.sock',
      '    identity: long',
      '  - identity: nopath',
      '    colour: blue'
    ])).toEqual([
      'config.yaml:6:15 DG_BAD_VALUE identity "trae fik" must be letters, digits, \'.\', \'_\' or \'-\' (at most 64, starting with a letter or digit), like traefik; the policy matches it with match: { socket: ... }',
      'config.yaml:7:11 DG_BAD_VALUE mode must be a quoted octal string like "0660" (YAML reads an unquoted 660 as a decimal number)',
      'config.yaml:10:11 DG_BAD_VALUE mode 0444 does not let the socket\'s owner write, and a client needs write permission to connect; use "0600" or "0660"',
      'config.yaml:11:12 DG_BAD_VALUE no group named "no-such-group-here" in /etc/group; create it, or give its number',
      'config.yaml:12:11 DG_BAD_VALUE /run/a.sock is already sockets[0]; each socket listener needs a path of its own',
      expect.stringMatching(/^config\.yaml:14:11 DG_BAD_VALUE \/run\/x+\.sock is 110 bytes long; Linux socket paths must be shorter, so use at most 100 bytes/) as unknown as string,
      expect.stringMatching(/^config\.yaml:16:5 DG_MISSING_KEY .*path/) as unknown as string,
      expect.stringMatching(/^config\.yaml:17:5 DG_UNKNOWN_KEY .*colour/) as unknown as string
    ])
  })

  it('needs tls: or sockets:, and refuses listen: without tls: (the TCP port serves only mutual TLS)', async () => {
    expect(await problems([])).toEqual([
      "config.yaml:1:1 DG_MISSING_KEY missing required key 'tls' at the top level (the TLS listener's ca, cert and key), or 'sockets' for a gateway that serves only local tools"
    ])
    expect(await problems(['listen: 0.0.0.0:2376', 'sockets: [{ path: /run/a.sock, identity: a }]'])).toEqual([
      "config.yaml:4:9 DG_MISSING_KEY listen needs a 'tls' section: the TCP listener serves only mutual TLS (drop listen to serve only the socket listeners)"
    ])
  })

  it('refuses workers above 1 with only socket listeners (one process serves a socket), and an admin socket at a listener\'s path', async () => {
    expect(await problems(['workers: 2', 'admin: unix:///run/a.sock', 'sockets: [{ path: /run/a.sock, identity: a }]'])).toEqual([
      'config.yaml:4:10 DG_BAD_VALUE workers: 2 shares the TLS port among processes, and this config has no tls: section; socket listeners are served by one process, so use workers: 1',
      'config.yaml:5:8 DG_BAD_VALUE admin /run/a.sock is also a socket listener\'s path; give the admin endpoints a socket of their own'
    ])
  })
})

describe('account names for owner and group', () => {
  const files = { user: join(dir, 'passwd'), group: join(dir, 'group') }
  writeFileSync(files.user, 'root:x:0:0:root:/root:/bin/sh\ntraefik:x:1500:1500::/nonexistent:/usr/sbin/nologin\n')
  writeFileSync(files.group, 'root:x:0:\ndocker:x:999:alice\n')

  it('takes numbers as they are and looks names up the way chown does', () => {
    expect(accountId('user', 'traefik', files)).toBe(1500)
    expect(accountId('group', 'docker', files)).toBe(999)
    expect(accountId('group', '4242', files)).toBe(4242)
    expect(accountId('user', 7, files)).toBe(7)
  })

  it('says which file a name is missing from, and that a number works instead', () => {
    expect(accountId('group', 'traefik', files)).toBe(`no group named "traefik" in ${files.group}; create it, or give its number`)
    expect(accountId('user', 'x', { user: join(dir, 'nope'), group: files.group })).toMatch(/^cannot look up user "x": .*nope is not readable \(ENOENT\); give its number instead$/)
  })
})
