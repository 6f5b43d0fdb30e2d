/**
 * The built CLI in a child process: `policy check` on the shipped example
 * policies, `serve` refusing a policy that check rejects, and the
 * `limits.bodyBytes` setting taking effect.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { rawRequest } from '../support/clients.js'
import { makePki } from '../support/pki.js'

const ROOT = resolve(import.meta.dirname, '..', '..')
const CLI = join(ROOT, 'dist', 'main.js')
const running: Array<ReturnType<typeof spawn>> = []
afterEach(() => { for (const child of running.splice(0)) child.kill('SIGKILL') })

function cli (args: string[], cwd = ROOT): { output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, env: { ...process.env, DOCKGATE_LOG_LEVEL: 'info' } })
  running.push(child)
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  return { output: () => output, exited: new Promise((resolve) => child.on('close', resolve)) }
}

function configDir (policy: string, extra = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cli-policy-'))
  const pki = makePki(dir, [{ name: 'ci-runner-1', ous: ['ci'] }])
  mkdirSync(join(dir, 'tls'))
  writeFileSync(join(dir, 'tls', 'ca.pem'), pki.ca.certPem)
  writeFileSync(join(dir, 'tls', 'cert.pem'), pki.server.cert)
  writeFileSync(join(dir, 'tls', 'key.pem'), pki.server.key)
  writeFileSync(join(dir, 'policy.yaml'), policy)
  writeFileSync(join(dir, 'config.yaml'), `listen: 127.0.0.1:0\nupstream: unix:///nonexistent/docker.sock\ntls:\n  ca: tls/ca.pem\n  cert: tls/cert.pem\n  key: tls/key.pem\npolicy: policy.yaml\naudit:\n  file: audit.jsonl\n${extra}`)
  return dir
}

describe('dockgate policy check (built CLI)', () => {
  it('passes every shipped example policy', async () => {
    const files = readdirSync(join(ROOT, 'policies')).filter((f) => f.endsWith('.yaml')).map((f) => join('policies', f))
    const run = cli(['policy', 'check', ...files])
    expect(await run.exited).toBe(0)
    expect(run.output()).toBe(`dockgate: checked ${files.length} file(s): 0 error(s), 0 warning(s)\n`)
  })
})

describe('dockgate serve refuses what policy check rejects', () => {
  it('does not start on an unreachable rule, printing it as FILE:LINE:COL CODE message', async () => {
    const dir = configDir('version: 1\nidentities:\n  - match: { ou: ci }\n    teams: [ci]\nteams:\n  ci:\n    allow: ["POST /containers/{id}/exec"]\n    deny: ["POST /containers/**"]\n')
    const run = cli(['serve', '--config', 'config.yaml'], dir)
    expect(await run.exited).toBe(1)
    expect(run.output()).toContain(`${join(dir, 'policy.yaml')}:7:13 DG_POLICY_UNREACHABLE allow rule "POST /containers/{id}/exec" in team 'ci' can never allow anything`)
    expect(run.output()).toMatch(/dockgate: not started: 1 problem\(s\)\n$/)
  })

  it('applies limits.bodyBytes: a larger judged body is refused with 413 before anything is forwarded', async () => {
    const dir = configDir('version: 1\nidentities:\n  - match: { ou: ci }\n    teams: [ci]\nteams:\n  ci:\n    allow: ["POST /containers/create"]\n', 'limits:\n  bodyBytes: 2048\n')
    const run = cli(['serve', '--config', 'config.yaml'], dir)
    await expect.poll(() => /"address":"127\.0\.0\.1:(\d+)"/.test(run.output()), { timeout: 20_000 }).toBe(true)
    const port = Number(/"address":"127\.0\.0\.1:(\d+)"/.exec(run.output())?.[1])
    const body = JSON.stringify({ Image: 'x', Env: ['A='.padEnd(3000, 'a')] })
    const res = await rawRequest(port, join(dir, 'pki', 'ci-runner-1'), 'POST', '/v1.41/containers/create', { headers: { 'content-type': 'application/json' }, body })
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body)).toEqual({ message: 'dockgate: POST /containers/create: the request body is larger than 2048 bytes (limits.bodyBytes), so it cannot be judged' })
  })
})
