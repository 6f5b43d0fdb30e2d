/**
 * `dockgate scan` against a real daemon, with the built CLI as cron would
 * run it: a privileged container created directly on the daemon socket is
 * found both out of policy and created around the gateway; a container
 * created through dockgate before the policy stopped allowing its bind
 * mount is found out of policy only; a clean setup exits 0; an unreachable
 * daemon and an edited trail are errors (exit 2), never "clean". And the
 * same trail through `dockgate audit report`: intact, with the revocation
 * the configured CRL shows.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker, dockerOn } from '../support/clients.js'
import { TEST_IMAGE } from '../support/daemon.js'
import { CLI, configText, startLiveGateway, type LiveGateway } from '../support/live.js'

const execFileP = promisify(execFile)
const socket = inject('dockerSocket')
const tag = randomUUID().slice(0, 8)

const policy = (bindMounts: string): string => `version: 1
identities:
  - match: { ou: web }
    teams: [web]
teams:
  web:
    ownership: true
    allow: ["@read-only", "@containers-run", "POST /volumes/create", "DELETE /volumes/*"]
    containers:
      images: ["dockgate-test/**"]
      bindMounts: ${bindMounts}
`

interface ScanJson {
  clean: boolean
  objects: Array<{ kind: string; name: string; owner: string | null; createRecord: { who: string } | null; findings: Array<{ code: string; message: string }> }>
}

/** Runs the built `dockgate scan ARGS`; resolves with its exit code and output. */
async function scan (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [CLI, 'scan', ...args], { timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe.skipIf(socket === '')('dockgate scan', () => {
  let gw: LiveGateway
  const label = `dgscan=${tag}`
  const names = { clean: `scan-clean-${tag}`, bind: `scan-bind-${tag}`, priv: `scan-priv-${tag}`, vol: `scan-vol-${tag}` }

  beforeAll(async () => {
    gw = await startLiveGateway({ socket, policy: policy('["/tmp/**"]'), clients: [['--cn', 'alice', '--ou', 'web']] })
    const alice = gw.bundle('alice')
    const through = async (args: string[]): Promise<void> => {
      const r = await docker(gw.port, alice, args)
      expect(r.code, r.stderr).toBe(0)
    }
    await through(['create', '--network', 'none', '-l', label, '--name', names.clean, TEST_IMAGE, 'true'])
    await through(['create', '--network', 'none', '-l', label, '-v', '/tmp:/host', '--name', names.bind, TEST_IMAGE, 'true'])
    await through(['volume', 'create', '--label', label, names.vol])
    // Around the gateway: straight on the daemon's socket (created, not started: privileged cannot start here).
    const direct = await dockerOn(socket, ['create', '--privileged', '--network', 'none', '-l', label, '--name', names.priv, TEST_IMAGE, 'true'])
    expect(direct.code, direct.stderr).toBe(0)
    // Then the policy stops allowing bind mounts.
    const applied = gw.reloader.stats().applied
    writeFileSync(gw.policyFile, policy('[]'))
    await gw.reloaded(applied)
  }, 120_000)

  afterAll(async () => {
    await dockerOn(socket, ['rm', '-f', names.clean, names.bind, names.priv])
    await dockerOn(socket, ['volume', 'rm', '-f', names.vol])
    await gw?.close()
  })

  it('finds the privileged container made on the socket (out of policy and around the gateway) and the one made before the policy changed (out of policy only)', async () => {
    const run = await scan('--config', gw.configFile, '--json', '--label', label)
    expect(run.code, run.stderr).toBe(1)
    const result = JSON.parse(run.stdout) as ScanJson
    expect(result.clean).toBe(false)
    const byName = new Map(result.objects.map((o) => [o.name, o]))
    const priv = byName.get(names.priv)
    expect(priv?.owner).toBeNull()
    expect(priv?.createRecord).toBeNull()
    expect(priv?.findings.filter((f) => f.code === 'DG_SCAN_UNAUDITED')).toHaveLength(1)
    // Judged against the defaults every team starts from (it has no owner): privileged, and what dockerd sets for a
    // privileged container (SELinux labels off, /proc paths unmasked) as unconfined.
    const drift = priv?.findings.filter((f) => f.code === 'DG_SCAN_DRIFT').map((f) => f.message) ?? []
    expect(drift[0]).toBe('a team without containers: settings may not create a privileged container')
    for (const message of drift.slice(1)) expect(message).toMatch(/may not run unconfined \(HostConfig\.(SecurityOpt label=disable|MaskedPaths|ReadonlyPaths)/)
    const bind = byName.get(names.bind)
    expect(bind?.owner).toBe('web')
    expect(bind?.createRecord?.who).toBe('CN=alice,OU=web')
    expect(bind?.findings.map((f) => f.code)).toEqual(['DG_SCAN_DRIFT'])
    expect(bind?.findings[0]?.message).toMatch(/^web may not bind-mount \/tmp /)
    // Made through the gateway and within policy: not listed.
    expect(byName.has(names.clean)).toBe(false)
    expect(byName.has(names.vol)).toBe(false)
    expect([...byName.keys()].sort()).toEqual([names.bind, names.priv].sort())

    const text = await scan('--config', gw.configFile, '--label', label)
    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(new RegExp(`container  [0-9a-f]{12}  ${names.priv} +-  +DG_SCAN_UNAUDITED`))
    expect(text.stdout).toContain('1 created around the gateway')
  })

  it('is an error, not clean, when the daemon cannot be reached, a trail file cannot be read or the trail does not verify', async () => {
    const elsewhere = join(gw.dir, 'elsewhere.yaml')
    writeFileSync(elsewhere, configText(join(gw.dir, 'no-daemon.sock')))
    const unreachable = await scan('--config', elsewhere, '--label', label)
    expect(unreachable.code).toBe(2)
    expect(unreachable.stderr).toMatch(/DG_SCAN_FAILED cannot read the daemon/)

    const missing = await scan('--config', gw.configFile, '--audit', join(gw.dir, 'no-such-audit.jsonl'), '--label', label)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/DG_SCAN_FAILED cannot read .*no-such-audit.jsonl/)

    const edited = join(gw.dir, 'edited.jsonl')
    copyFileSync(gw.auditFile, edited)
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('"status":201', '"status":200'))
    const tampered = await scan('--config', gw.configFile, '--audit', edited, '--label', label)
    expect(tampered.code).toBe(2)
    expect(tampered.stderr).toMatch(/DG_SCAN_FAILED the audit trail does not verify .*DG_AUDIT_EDITED/)
  })

  it('exits 0 when everything is within policy and was made through the gateway', async () => {
    await dockerOn(socket, ['rm', '-f', names.bind, names.priv])
    const run = await scan('--config', gw.configFile, '--label', label)
    expect(run.stdout).toContain('nothing found')
    expect(run.code).toBe(0)
  })

  it('reports the same trail with the built CLI: intact, and alice\'s certificate revoked by the configured CRL', async () => {
    await gw.certsCli('revoke', '--cn', 'alice')
    const { stdout } = await execFileP(process.execPath, [CLI, 'audit', 'report', gw.auditFile, '--text', '--config', gw.configFile], { timeout: 60_000 })
    expect(stdout).toContain('verdict: intact')
    expect(stdout).toMatch(/^ {2}web +\d+ +0$/m)
    expect(stdout).toMatch(/certificates seen: 1, revoked: 1\n {2}revoked: CN=alice,OU=web serial [0-9A-F]+: in the CRL of /)
  })
})
