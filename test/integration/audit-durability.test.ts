/**
 * Durability and failure, with `dockgate serve` as an operator runs it (the
 * built CLI in a child process): a process killed with SIGKILL right after
 * a response still has that record; an audit folder that cannot be written
 * makes requests fail with 503 saying why, and they succeed again once it
 * can; logrotate's rename + SIGHUP continues the chain into a new file;
 * the stdout sink carries only audit records; fsync works.
 *
 * As root (which ignores folder permissions), the gateway runs as `nobody`
 * in the daemon socket's group, so a read-only folder really is read-only.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { rawRequest } from '../support/clients.js'
import { TEST_POLICY } from '../support/gateway.js'
import { CLI } from '../support/live.js'
import { makePki, type TestPki } from '../support/pki.js'
import { checkAuditDir } from '../support/audit-check.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const children: ChildProcess[] = []
afterEach(() => { for (const child of children.splice(0)) child.kill('SIGKILL') })

interface Served {
  readonly dir: string
  readonly pki: TestPki
  readonly child: ChildProcess
  readonly port: number
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

const asRoot = process.getuid?.() === 0

/** Writes a config (plus `audit` lines) and starts `dockgate serve`; as root, as nobody. */
async function serve (audit: string[] = []): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'dg-durable-'))
  const pki = makePki(dir, [{ name: 'alice', ous: ['platform'] }])
  mkdirSync(join(dir, 'tls'))
  writeFileSync(join(dir, 'tls', 'ca.pem'), pki.ca.certPem)
  writeFileSync(join(dir, 'tls', 'cert.pem'), pki.server.cert)
  writeFileSync(join(dir, 'tls', 'key.pem'), pki.server.key)
  writeFileSync(join(dir, 'policy.yaml'), TEST_POLICY)
  writeFileSync(join(dir, 'config.yaml'), [
    'listen: 127.0.0.1:0', `upstream: unix://${socket}`, 'tls:', '  ca: tls/ca.pem', '  cert: tls/cert.pem', '  key: tls/key.pem',
    'policy: policy.yaml', 'audit:', '  file: audit/audit.jsonl', ...audit.map((l) => `  ${l}`), ''
  ].join('\n'))
  if (asRoot) chownTree(dir, 65534, statSync(socket).gid)
  const child = spawn(process.execPath, [CLI, 'serve', '--config', 'config.yaml'], {
    cwd: dir, ...(asRoot ? { uid: 65534, gid: statSync(socket).gid } : {})
  })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const listening = /"address":"127\.0\.0\.1:(\d+)"/
  await expect.poll(() => listening.test(stdout + stderr), { timeout: 20_000 }).toBe(true)
  return { dir, pki, child, port: Number(listening.exec(stdout + stderr)?.[1]), stdout: () => stdout, stderr: () => stderr, exited }
}

function chownTree (path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid)
  if (!statSync(path).isDirectory()) return
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid)
}

const ping = async (s: Served): Promise<{ status: number; body: string; id: string }> => {
  const res = await rawRequest(s.port, s.pki.bundle('alice'), 'GET', '/v1.41/version')
  return { status: res.status, body: res.body, id: String(res.headers['x-dockgate-request-id']) }
}

const recordsOf = (file: string): Array<{ auditID: string; stage: string; opened?: { reason: string; outage?: { failedWrites: number; error: string } } }> =>
  readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { auditID: string; stage: string })

describe.skipIf(socket === '')('dockgate serve: durability of the audit trail', () => {
  it('a process killed with SIGKILL right after a response still has that record', async () => {
    const s = await serve()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await ping(s)).id)
    const last = await ping(s)
    expect(last.status).toBe(200)
    s.child.kill('SIGKILL')
    await s.exited
    const file = join(s.dir, 'audit', 'audit.jsonl')
    const written = recordsOf(file).map((r) => r.auditID)
    expect(written).toEqual(expect.arrayContaining([...ids, last.id]))
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', file])
    expect(stdout).toContain('intact')
  })

  it('an audit folder that cannot be written makes requests fail with 503 saying why, and they succeed again once it can', async () => {
    const s = await serve()
    const folder = join(s.dir, 'audit')
    expect((await ping(s)).status).toBe(200)
    rmSync(join(folder, 'audit.jsonl'))
    chmodSync(folder, 0o555)
    const refused = await ping(s)
    expect(refused.status).toBe(503)
    expect(JSON.parse(refused.body)).toEqual({
      message: `dockgate: the audit trail cannot be written (EACCES: permission denied, open '${join(folder, 'audit.jsonl')}'); requests are refused until it can be written again (audit.onFailure: refuse)`
    })
    expect((await ping(s)).status).toBe(503)
    // The log line travels through the child's stdout pipe, which may deliver it after the answers.
    await expect.poll(() => s.stdout(), { timeout: 5000 }).toContain('refusing every request with 503 until it can be written again')
    chmodSync(folder, 0o755)
    expect((await ping(s)).status).toBe(200)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    const records = recordsOf(join(folder, 'audit.jsonl'))
    expect(records[0]?.opened?.reason).toBe('recover')
    expect(records[0]?.opened?.outage?.failedWrites).toBeGreaterThanOrEqual(2)
    expect(records[0]?.opened?.outage?.error).toContain('EACCES')
  })

  it('does not start when the audit folder cannot be written', async () => {
    const s = await serve()
    s.child.kill('SIGTERM')
    await s.exited
    rmSync(join(s.dir, 'audit'), { recursive: true })
    mkdirSync(join(s.dir, 'audit'), { mode: 0o555 })
    if (asRoot) chownSync(join(s.dir, 'audit'), 65534, 65534)
    const again = spawn(process.execPath, [CLI, 'serve', '--config', 'config.yaml'], { cwd: s.dir, ...(asRoot ? { uid: 65534, gid: statSync(socket).gid } : {}) })
    children.push(again)
    let err = ''
    again.stderr.on('data', (c: Buffer) => { err += c.toString() })
    expect(await new Promise((resolve) => again.on('close', resolve))).toBe(1)
    expect(err).toContain(`dockgate: not started: DG_FILE_UNREADABLE cannot open audit file ${join(s.dir, 'audit', 'audit.jsonl')}: EACCES`)
    expect(err).toContain('give it write access to that folder')
  })

  it('a second dockgate serve with the same config stops before writing a byte to the live trail', async () => {
    const s = await serve()
    expect((await ping(s)).status).toBe(200)
    const file = join(s.dir, 'audit', 'audit.jsonl')
    const before = readFileSync(file, 'utf8')
    const second = spawn(process.execPath, [CLI, 'serve', '--config', 'config.yaml'], { cwd: s.dir, ...(asRoot ? { uid: 65534, gid: statSync(socket).gid } : {}) })
    children.push(second)
    let err = ''
    second.stderr.on('data', (c: Buffer) => { err += c.toString() })
    expect(await new Promise((resolve) => second.on('close', resolve))).toBe(1)
    expect(err).toContain(`dockgate: not started: DG_AUDIT_IN_USE the audit file ${file} is being written by another dockgate process (pid ${s.child.pid ?? 0}`)
    expect(readFileSync(file, 'utf8')).toBe(before)
    expect((await ping(s)).status).toBe(200)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', file])
    expect(stdout).toContain('intact')
  })

  it('logrotate (rename, then SIGHUP) continues the chain into a new file', async () => {
    const s = await serve()
    const folder = join(s.dir, 'audit')
    expect((await ping(s)).status).toBe(200)
    renameSync(join(folder, 'audit.jsonl'), join(folder, 'audit.jsonl.1'))
    expect((await ping(s)).status).toBe(200)
    s.child.kill('SIGHUP')
    await expect.poll(() => s.stdout(), { timeout: 10_000 }).toContain('records continue in a new file')
    expect((await ping(s)).status).toBe(200)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(existsSync(join(folder, 'audit.jsonl'))).toBe(true)
    const { stdout } = await run(process.execPath, [CLI, 'audit', 'verify', join(folder, 'audit.jsonl'), join(folder, 'audit.jsonl.1')])
    expect(stdout).toMatch(/verified 2 file\(s\), 1 chain\(s\): intact/)
  })

  it('with sinks.stdout, standard output carries exactly the audit lines and the operational log moves to stderr', async () => {
    const s = await serve(['sinks: { stdout: true }', 'fsync: true'])
    expect((await ping(s)).status).toBe(200)
    s.child.kill('SIGTERM')
    expect(await s.exited).toBe(0)
    expect(s.stdout()).toBe(readFileSync(join(s.dir, 'audit', 'audit.jsonl'), 'utf8'))
    expect(s.stderr()).toContain('dockgate listening')
    checkAuditDir(join(s.dir, 'audit'))
  })
})
