/**
 * `dockgate serve` as a user runs it: the built CLI in a child process.
 * Dev mode on a fresh folder, every config problem reported at once, and a
 * config file in front of the real daemon.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { docker, rawRequest } from '../support/clients.js'
import { makePki } from '../support/pki.js'
import { TEST_POLICY } from '../support/gateway.js'
import { checkAuditDir } from '../support/audit-check.js'

const socket = inject('dockerSocket')
const CLI = resolve(import.meta.dirname, '..', '..', 'dist', 'main.js')
const running: ChildProcess[] = []
const hasScript = spawnSync('sh', ['-c', 'command -v script']).status === 0

interface Started { child: ChildProcess; output: () => string; exited: Promise<number | null> }

function startCli (args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Started {
  return spawnCli(process.execPath, [CLI, ...args], cwd, env)
}

function spawnCli (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(command, args, { cwd, env: { ...process.env, DOCKGATE_LOG_LEVEL: 'info', ...env } })
  running.push(child)
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  return { child, output: () => output, exited }
}

async function portOf (started: Started): Promise<number> {
  await expect.poll(() => /"address":"127\.0\.0\.1:(\d+)"/.test(started.output()), { timeout: 20_000 }).toBe(true)
  return Number(/"address":"127\.0\.0\.1:(\d+)"/.exec(started.output())?.[1])
}

afterEach(() => { for (const child of running.splice(0)) child.kill('SIGKILL') })

describe('dockgate serve --dev (what npm start runs)', () => {
  it('creates dev certificates, prints the export line, warns once without a daemon and answers 502', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dg-dev-'))
    const started = startCli(['serve', '--dev', '--listen', '127.0.0.1:0', '--upstream', 'unix:///nonexistent/docker.sock'], cwd)
    const port = await portOf(started)
    await expect.poll(() => started.output(), { timeout: 5000 }).toContain(`export DOCKER_HOST=tcp://127.0.0.1:${port} DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${join(cwd, 'certs', 'clients', 'admin')}`)
    const bundle = join(cwd, 'certs', 'clients', 'admin')
    const res = await rawRequest(port, bundle, 'GET', '/v1.41/containers/json')
    expect(res.status).toBe(502)
    expect(JSON.parse(res.body)).toEqual({ message: 'dockgate: the Docker daemon at unix:///nonexistent/docker.sock is not answering (ENOENT: no daemon socket at that path; is dockerd running?)' })
    await rawRequest(port, bundle, 'GET', '/_ping')
    expect(started.output().match(/is not answering/g)?.length).toBe(1)
    started.child.kill('SIGTERM')
    expect(await started.exited).toBe(0)
    checkAuditDir(join(cwd, 'audit'))
    // Not a terminal: the log stays JSON lines, one object each, without colour codes.
    const logLines = started.output().split('\n').filter((l) => l.includes('"msg":'))
    expect(logLines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('dockgate listening')
    expect(started.output()).not.toContain('\u001b[')
  })

  it.skipIf(!hasScript)('logs readable lines on a terminal, and still writes the audit trail as JSON', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'dg-dev-tty-'))
    const command = `exec ${process.execPath} ${CLI} serve --dev --listen 127.0.0.1:0 --upstream unix:///nonexistent/docker.sock`
    // script(1) gives the command a pseudo-terminal as standard output.
    const started = spawnCli('script', ['-qec', command, '/dev/null'], cwd, { NO_COLOR: '1' })
    await expect.poll(() => started.output(), { timeout: 20_000 }).toMatch(/^\[[\d:.]+\] INFO: dockgate listening \{"address":"127\.0\.0\.1:\d+"/m)
    expect(started.output()).not.toMatch(/^\{"level"/m)
    started.child.kill('SIGTERM')
    await started.exited
    const audit = readFileSync(join(cwd, 'audit', 'audit.jsonl'), 'utf8').trimEnd().split('\n')
    expect(audit.length).toBeGreaterThan(0)
    for (const line of audit) expect(JSON.parse(line)).toHaveProperty('stage')
  })

  it('without --config, reads $DOCKGATE_CONFIG, else /etc/dockgate/dockgate.yaml, and says what to pass when neither exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-envcfg-'))
    writeFileSync(join(dir, 'from-env.yaml'), 'listen: 127.0.0.1:0\nbogus: 1\n')
    const fromEnv = startCli(['serve', '--check'], tmpdir(), { DOCKGATE_CONFIG: join(dir, 'from-env.yaml') })
    expect(await fromEnv.exited).toBe(1)
    expect(fromEnv.output()).toMatch(/from-env\.yaml:2:1 DG_UNKNOWN_KEY /)
    const none = startCli(['serve'], tmpdir(), { DOCKGATE_CONFIG: '' })
    expect(await none.exited).toBe(2)
    expect(none.output()).toContain('no config: /etc/dockgate/dockgate.yaml does not exist; pass --config FILE, or --dev for a development setup')
  })
})

describe('dockgate serve --config with problems', () => {
  it('reports every problem, one line each, as file:line:col CODE message, and does not start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-badcfg-'))
    writeFileSync(join(dir, 'config.yaml'), [
      'listen: 0.0.0.0:99999',
      'upstream: tcp://127.0.0.1:2375',
      'tls:',
      '  ca: missing/ca.pem',
      '  cert: missing/cert.pem',
      '  key: missing/key.pem',
      '  verify: yes',
      'policy: missing/policy.yaml',
      'audit:',
      '  file: audit.jsonl',
      ''
    ].join('\n'))
    const started = startCli(['serve', '--config', 'config.yaml'], dir)
    expect(await started.exited).toBe(1)
    const lines = started.output().trim().split('\n')
    const diagnostics = lines.filter((l) => /^config\.yaml:\d+:\d+ DG_[A-Z_]+ /.test(l))
    expect(diagnostics.length).toBeGreaterThanOrEqual(7)
    expect(diagnostics.some((l) => l.startsWith('config.yaml:1:9 ') && l.includes('listen'))).toBe(true)
    expect(diagnostics.some((l) => l.startsWith('config.yaml:2:11 ') && l.includes('upstream'))).toBe(true)
    expect(diagnostics.some((l) => l.startsWith('config.yaml:7:3 DG_UNKNOWN_KEY') && l.includes("'verify'"))).toBe(true)
    expect(diagnostics.filter((l) => l.includes('DG_FILE_UNREADABLE')).length).toBe(4)
    expect(lines.at(-1)).toMatch(/^dockgate: not started: \d+ problem\(s\)$/)
  })

  it('reports the policy\'s problems in the same run as the config\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-badboth-'))
    writeFileSync(join(dir, 'config.yaml'), [
      'listen: 127.0.0.1:0', 'upstream: unix:///nowhere/docker.sock', 'bogus: 1',
      'tls:', '  ca: missing/ca.pem', '  cert: missing/cert.pem', '  key: missing/key.pem',
      'policy: policy.yaml', 'audit:', '  file: audit.jsonl', ''
    ].join('\n'))
    writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities:\n  - match: { ou: a }\n    teams: [nobody]\nteams: {}\n')
    const started = startCli(['serve', '--config', 'config.yaml'], dir)
    expect(await started.exited).toBe(1)
    const output = started.output()
    expect(output).toMatch(/^config\.yaml:3:1 DG_UNKNOWN_KEY /m)
    expect(output).toMatch(/policy\.yaml:4:13 DG_POLICY_UNKNOWN_TEAM unknown team 'nobody'/)
  })
})

describe.skipIf(socket === '')('dockgate serve --config in front of the real daemon', () => {
  it('serves the docker CLI with the configured policy and audit file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-cfg-'))
    const pki = makePki(dir, [{ name: 'alice', ous: ['platform'] }, { name: 'ci-runner-1', ous: ['ci'] }])
    mkdirSync(join(dir, 'tls'))
    writeFileSync(join(dir, 'tls', 'ca.pem'), pki.ca.certPem)
    writeFileSync(join(dir, 'tls', 'cert.pem'), pki.server.cert)
    writeFileSync(join(dir, 'tls', 'key.pem'), pki.server.key)
    writeFileSync(join(dir, 'policy.yaml'), TEST_POLICY)
    writeFileSync(join(dir, 'config.yaml'), `listen: 127.0.0.1:0\nupstream: unix://${socket}\ntls:\n  ca: tls/ca.pem\n  cert: tls/cert.pem\n  key: tls/key.pem\npolicy: policy.yaml\naudit:\n  file: audit/audit.jsonl\n`)
    const started = startCli(['serve', '--config', 'config.yaml'], dir)
    const port = await portOf(started)
    const ok = await docker(port, pki.bundle('alice'), ['run', '--rm', '--network', 'none', 'dockgate-test/busybox:latest', 'echo', 'via the CLI'])
    expect(ok.stdout).toBe('via the CLI\n')
    const refused = await docker(port, pki.bundle('ci-runner-1'), ['images'])
    expect(refused.stderr).toContain('dockgate: ci may not GET /images/json')
    started.child.kill('SIGTERM')
    expect(await started.exited).toBe(0)
    checkAuditDir(join(dir, 'audit'))
  })
})
