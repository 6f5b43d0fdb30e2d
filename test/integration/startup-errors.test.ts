/**
 * `dockgate serve` refusing to start, as an operator meets it: a port in
 * use (the TLS port or the admin address), certificate files it may not
 * read, an audit folder it may not write. Each exits 1 with one line that
 * names the file or address, the reason, and what to change.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { issueServerCertificate } from '../../src/certs/issue.js'
import { killAll, prepare, serve } from '../support/cli.js'
import { chownTree, NOBODY, runsAsRoot } from '../support/users.js'

const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const NO_DAEMON = '/nonexistent/docker.sock'

afterEach(killAll)

async function occupied (): Promise<{ port: number; close: () => void }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, close: () => { server.close() } }
}

describe('dockgate serve: startup errors', () => {
  it('names the TLS port in use and who might hold it', async () => {
    const held = await occupied()
    try {
      const dir = await prepare(NO_DAEMON, POLICY, [])
      const served = serve(['serve', '--config', 'config.yaml', '--listen', `127.0.0.1:${held.port}`], dir)
      expect(await served.exited).toBe(1)
      expect(served.output()).toContain(`dockgate: not started: DG_LISTEN_FAILED cannot listen on 127.0.0.1:${held.port} (the TLS port): the address is already in use; ` +
        '`ss -ltnp` shows which process holds it (another dockgate, or dockerd started with -H tcp://...?)')
    } finally {
      held.close()
    }
  })

  it('names the admin address in use', async () => {
    const held = await occupied()
    try {
      const dir = await prepare(NO_DAEMON, POLICY, [], `admin: 127.0.0.1:${held.port}\n`)
      const served = serve(['serve', '--config', 'config.yaml'], dir)
      expect(await served.exited).toBe(1)
      expect(served.output()).toContain(`dockgate: not started: DG_LISTEN_FAILED cannot listen on 127.0.0.1:${held.port} (the admin endpoints): the address is already in use`)
    } finally {
      held.close()
    }
  })

  it('refuses certificate files it may not read, naming the key, the file, the reason and the user', async () => {
    const dir = await prepare(NO_DAEMON, POLICY, [])
    const key = join(dir, 'certs', 'server', 'key.pem')
    const options = runsAsRoot() ? { uid: NOBODY.uid, gid: NOBODY.gid } : {}
    if (runsAsRoot()) {
      chownTree(dir, NOBODY.uid, NOBODY.gid)
      chownTree(key, 0, 0) // root's 0600 key: what a forgotten chown leaves behind
    } else {
      chmodSync(key, 0o000)
    }
    const served = serve(['serve', '--config', 'config.yaml'], dir, options)
    expect(await served.exited).toBe(1)
    const who = runsAsRoot() ? `user nobody (uid ${NOBODY.uid})` : 'user '
    expect(served.output()).toContain(`config.yaml:6:8 DG_FILE_UNREADABLE cannot read tls.key file ${key}: permission denied (EACCES); dockgate runs as ${who}`)
    expect(served.output()).toContain('dockgate: not started: 1 problem(s)')
  })

  it('refuses an audit folder it may not write, saying who it runs as', async () => {
    const dir = await prepare(NO_DAEMON, POLICY, [])
    mkdirSync(join(dir, 'audit'))
    const options = runsAsRoot() ? { uid: NOBODY.uid, gid: NOBODY.gid } : {}
    if (runsAsRoot()) {
      chownTree(dir, NOBODY.uid, NOBODY.gid)
      chownTree(join(dir, 'audit'), 0, 0)
    }
    chmodSync(join(dir, 'audit'), 0o555)
    const served = serve(['serve', '--config', 'config.yaml'], dir, options)
    expect(await served.exited).toBe(1)
    expect(served.output()).toMatch(new RegExp(`dockgate: not started: DG_FILE_UNREADABLE cannot open audit file ${join(dir, 'audit', 'audit.jsonl')}: EACCES: permission denied, .*; dockgate runs as \\S+: give it write access to that folder`))
    // --check finds the same before anything starts.
    const checked = serve(['serve', '--config', 'config.yaml', '--check'], dir, options)
    expect(await checked.exited).toBe(1)
    expect(checked.output()).toContain(`DG_FILE_UNREADABLE audit file ${join(dir, 'audit', 'audit.jsonl')} cannot be written: ${join(dir, 'audit')} is not writable by this user (EACCES)`)
  })

  it('refuses an audit file that does not end with a sealed record, and --check says so before a restart would fail', async () => {
    const dir = await prepare(NO_DAEMON, POLICY, [])
    mkdirSync(join(dir, 'audit'))
    writeFileSync(join(dir, 'audit', 'audit.jsonl'), '{"edited":"by hand"}\n')
    const checked = serve(['serve', '--config', 'config.yaml', '--check'], dir)
    expect(await checked.exited).toBe(1)
    expect(checked.output()).toContain(`DG_AUDIT_MALFORMED ${join(dir, 'audit', 'audit.jsonl')} does not end with a sealed audit record`)
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    expect(await served.exited).toBe(1)
    expect(served.output()).toContain('does not end with a sealed audit record')
  })

  it('refuses an expired server certificate, naming the file and its dates', async () => {
    const dir = await prepare(NO_DAEMON, POLICY, [])
    const certs = join(dir, 'certs')
    const ca = { certPem: readFileSync(join(certs, 'ca', 'ca.pem'), 'utf8'), keyPem: readFileSync(join(certs, 'ca', 'key.pem'), 'utf8') }
    const expired = issueServerCertificate(ca, { hosts: [], days: 1, now: new Date(Date.now() - 3 * 86_400_000) })
    writeFileSync(join(certs, 'server', 'key.pem'), expired.keyPem)
    writeFileSync(join(certs, 'server', 'cert.pem'), expired.certPem)
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    expect(await served.exited).toBe(1)
    expect(served.output()).toMatch(new RegExp(`config\\.yaml:5:9 DG_TLS_MATERIAL tls\\.cert ${join(certs, 'server', 'cert.pem')} expired on \\S+ ` +
      '\\(valid from \\S+ to \\S+\\); every client would refuse it: renew it with `dockgate certs renew --server`'))
    expect(served.output()).toContain('dockgate: not started: 1 problem(s)')
  })
})
