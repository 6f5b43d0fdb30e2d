/**
 * `workers: 2` with the built CLI in front of the real daemon: both
 * workers serve the port and each writes its own audit file, the admin
 * endpoints speak for both (metrics summed, ready when both are), SIGHUP
 * reloads both, a killed worker is replaced in its slot and appends to
 * its file, and SIGTERM stops both gracefully.
 */
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import type { AuditRecord } from '../../src/audit/record.js'
import { docker, dockerEnv } from '../support/clients.js'
import { killAll, prepare, serve } from '../support/cli.js'
import { waitFor } from '../support/live.js'
import { get, sample } from '../support/runtime.js'

const socket = inject('dockerSocket')
const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ops }
    teams: [ops]
teams:
  platform:
    allow: ["* /**"]
  ops:
    allow: ["GET,HEAD /_ping", "GET /version"]
`

afterEach(killAll)

describe.skipIf(socket === '')('workers: 2', () => {
  it('serves from both workers with one audit file each, reports for both, reloads, replaces and stops them', async () => {
    const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'oscar', '--ou', 'ops']],
      'admin: 127.0.0.1:0\nworkers: 2\nshutdown:\n  graceSeconds: 3\n')
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    const port = await served.port()
    const admin = await served.admin()
    const bundle = (cn: string): string => join(dir, 'certs', 'clients', cn)
    const files = [1, 2].map((slot) => join(dir, 'audit', `audit-w${slot}.jsonl`))
    const records = (file: string): AuditRecord[] => existsSync(file)
      ? readFileSync(file, 'utf8').trimEnd().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as AuditRecord)
      : []
    const workerPid = (slot: number): number => Number(served.logs().filter((l) => l.msg === `worker ${slot} listening`).at(-1)?.pid)

    for (let i = 0; i < 6; i++) expect((await docker(port, bundle('alice'), ['version', '--format', '{{.Server.Version}}'])).code).toBe(0)
    expect((await docker(port, bundle('oscar'), ['ps'])).stderr).toContain('dockgate: ops may not GET /containers/json')
    expect(files.map((file) => records(file).length > 0)).toEqual([true, true])
    expect(existsSync(join(dir, 'audit', 'audit.jsonl'))).toBe(false)

    const all = (): AuditRecord[] => files.flatMap(records)
    const metrics = (await get(`${admin}/metrics`)).body
    const finalOk = all().filter((r) => r.stage === 'ResponseComplete' && r.status === 200 && r.rule?.team === 'platform').length
    expect(sample(metrics, 'dockgate_requests_total', { team: 'platform', decision: 'allow', status: '200' })).toBe(finalOk)
    expect(sample(metrics, 'dockgate_requests_total', { team: 'ops', decision: 'deny', status: '403' })).toBe(1)
    expect(sample(metrics, 'dockgate_tls_expiry_seconds', { kind: 'server-cert' })).toBeGreaterThan(0)

    const ready = await get(`${admin}/readyz`)
    expect(ready.status).toBe(200)
    const report = JSON.parse(ready.body) as { checks: Record<string, { ok: boolean; detail: string }> }
    expect(report.checks.workers).toEqual({ ok: true, detail: '2 of 2 worker(s) ready' })
    expect(report.checks['worker2.audit']?.detail).toBe(`${files[1] ?? ''} is writable`)

    served.child.kill('SIGHUP')
    await waitFor(() => [1, 2].every((slot) => served.logs().some((l) => l.worker === slot && l.msg.startsWith('reloaded (SIGHUP)'))), 10_000, 'both workers to reload')
    expect(served.child.exitCode).toBeNull()

    const linesBefore = records(files[0] ?? '').length
    process.kill(workerPid(1), 'SIGKILL')
    await waitFor(() => served.logs().filter((l) => l.msg === 'worker 1 listening').length === 2, 15_000, 'a new worker in slot 1')
    expect(served.logs().some((l) => l.msg.startsWith('worker 1 died (SIGKILL); starting a new one in slot 1'))).toBe(true)
    // Connections alternate between the workers; a few reach the new one.
    for (let i = 0; i < 6 && records(files[0] ?? '').length === linesBefore; i++) {
      expect((await docker(port, bundle('alice'), ['version', '--format', '{{.Server.Version}}'])).code).toBe(0)
    }
    expect(records(files[0] ?? '').length).toBeGreaterThan(linesBefore)
    expect((await get(`${admin}/readyz`)).status).toBe(200)

    const events = spawn('docker', ['events'], { env: dockerEnv(port, bundle('alice')) })
    await until(async () => (sample((await get(`${admin}/metrics`)).body, 'dockgate_open_streams') ?? 0) === 1, 10_000, 'the events stream')
    served.child.kill('SIGTERM')
    expect(await served.exited).toBe(0)
    expect(events.exitCode === null || events.exitCode !== 0).toBe(true)
    events.kill()
    expect(served.logs().at(-1)?.msg).toBe('dockgate primary: every worker has stopped')
    // A stream is recorded when it starts and when the shutdown cuts it.
    expect(all().filter((r) => r.request?.path === '/events')).toEqual([
      expect.objectContaining({ stage: 'RequestReceived', decision: 'allow' }),
      expect.objectContaining({ stage: 'ResponseComplete', aborted: true })
    ])
  }, 90_000)
})

async function until (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
