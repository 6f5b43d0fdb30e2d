/**
 * SIGHUP through the built CLI, as an operator sends it: `dockgate serve
 * --config` keeps running (the default action of SIGHUP would kill it),
 * reloads, and says so in its log; a revocation applied that way refuses
 * the revoked client's next connection.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { docker } from '../support/clients.js'
import { CLI, configText, waitFor } from '../support/live.js'
import { checkAuditDir } from '../support/audit-check.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const children: Array<{ kill: (signal: NodeJS.Signals) => boolean }> = []
afterEach(() => { for (const child of children.splice(0)) child.kill('SIGKILL') })

interface LogLine { level: number; msg: string; trigger?: string; address?: string }

describe.skipIf(socket === '')('dockgate serve and SIGHUP', () => {
  it('reloads on SIGHUP without exiting, logs it, and applies a revocation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-hup-'))
    const certs = async (...args: string[]): Promise<string> => (await run(process.execPath, [CLI, 'certs', ...args, '--dir', join(dir, 'certs')])).stdout
    await certs('init')
    await certs('issue', '--cn', 'alice', '--ou', 'platform')
    await certs('issue', '--cn', 'bob', '--ou', 'platform')
    writeFileSync(join(dir, 'policy.yaml'), POLICY)
    writeFileSync(join(dir, 'config.yaml'), configText(socket))

    const child = spawn(process.execPath, [CLI, 'serve', '--config', 'config.yaml'], { cwd: dir })
    children.push(child)
    let output = ''
    child.stdout.on('data', (c: Buffer) => { output += c.toString() })
    child.stderr.on('data', (c: Buffer) => { output += c.toString() })
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    const logs = (): LogLine[] => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine)
    await waitFor(() => logs().some((l) => l.msg === 'dockgate listening'), 20_000, 'dockgate to listen')
    const port = Number(/:(\d+)$/.exec(logs().find((l) => l.msg === 'dockgate listening')?.address ?? '')?.[1])
    await waitFor(() => logs().some((l) => /^CRL .*crl\.pem from CN=dockgate CA .*: 0 revoked, next update due/.test(l.msg)), 10_000, 'the CRL expiry line')

    child.kill('SIGHUP')
    await waitFor(() => logs().some((l) => l.trigger === 'SIGHUP' && l.msg.startsWith('reloaded (SIGHUP)')), 10_000, 'the SIGHUP reload')
    expect(child.exitCode).toBeNull()
    expect((await docker(port, join(dir, 'certs', 'clients', 'bob'), ['ps', '-q'])).code).toBe(0)

    await certs('revoke', '--cn', 'bob')
    child.kill('SIGHUP')
    await waitFor(() => logs().filter((l) => l.msg.startsWith('reloaded (')).length >= 2, 10_000, 'the revocation to be reloaded')
    const refused = await docker(port, join(dir, 'certs', 'clients', 'bob'), ['ps'])
    expect(refused.stderr).toContain('dockgate: the client certificate has been revoked (CERT_REVOKED)')
    expect((await docker(port, join(dir, 'certs', 'clients', 'alice'), ['ps', '-q'])).code).toBe(0)

    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    checkAuditDir(join(dir, 'audit'))
  })
})
