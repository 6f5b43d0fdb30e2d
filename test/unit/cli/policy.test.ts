// `dockgate policy check|explain` as a person types it: what is printed and
// the exit codes scripts rely on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { runPolicyCommand } from '../../../src/cli/policy.js'

let dir: string
let stdout: string
let stderr: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-policy-cli-'))
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); return true })
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => { stderr += String(chunk); return true })
})

afterEach(() => {
  vi.restoreAllMocks()
  rmSync(dir, { recursive: true, force: true })
})

async function policy (...args: string[]): Promise<number> {
  stdout = ''
  stderr = ''
  return await runPolicyCommand(args)
}

function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

const GOOD = `version: 1
identities:
  - match: { cn: "ci-runner-*" }
    teams: [ci]
  - match: { ou: trial }
    teams: [trial]
teams:
  ci:
    allow: ["@containers-run"]
    containers:
      bindMounts: ["/srv/ci/**"]
  trial:
    mode: audit
    allow: ["@containers-run"]
`

describe('policy check', () => {
  it('prints every problem of every file as FILE:LINE:COL CODE message and exits 1', async () => {
    const bad = file('bad.yaml', 'version: 1\nidentities:\n  - match: { ou: ci }\n    teams: [ci, cj]\nteams:\n  ci:\n    allow: ["GET /_ping", "GET /_ping", "get /x"]\n    containers: { priviliged: true }\n')
    const good = file('good.yaml', GOOD)
    expect(await policy('check', bad, good)).toBe(1)
    expect(stdout.trim().split('\n')).toEqual([
      `${bad}:4:17 DG_POLICY_UNKNOWN_TEAM unknown team 'cj'; defined teams: ci (did you mean 'ci'?)`,
      `${bad}:7:27 DG_POLICY_UNREACHABLE allow rule "GET /_ping" in team 'ci' can never decide: "GET /_ping" at line 7 already allows all of it`,
      `${bad}:7:41 DG_POLICY_BAD_RULE bad rule "get /x": methods are upper-case: write GET, not get`,
      `${bad}:8:19 DG_UNKNOWN_KEY unknown key 'priviliged' in teams.ci.containers; valid keys: privileged, hostNamespaces, capAdd, devices, unconfined, bindMounts, images, requireDigest, resources (did you mean 'privileged'?)`
    ])
    expect(stderr).toBe('dockgate: checked 2 file(s): 4 error(s), 0 warning(s)\n')
  })

  it('exits 0 with warnings, marking them as such', async () => {
    const warned = file('warned.yaml', 'version: 1\nidentities: []\nteams:\n  lonely: {}\n')
    expect(await policy('check', warned)).toBe(0)
    expect(stdout).toBe(`${warned}:4:3 DG_POLICY_TEAM_UNUSED warning: team 'lonely' is given to no identity, so its rules never apply\n`)
  })

  it('reports YAML syntax and duplicate keys, and unreadable files, in the same format', async () => {
    const broken = file('broken.yaml', 'version: 1\nversion: 1\nteams: [\n')
    expect(await policy('check', broken, join(dir, 'missing.yaml'))).toBe(1)
    expect(stdout).toMatch(new RegExp(`^${broken}:\\d+:\\d+ DG_YAML_`, 'm'))
    expect(stdout).toContain(`${join(dir, 'missing.yaml')}:0:0 DG_FILE_UNREADABLE cannot read policy:`)
  })

  it('needs a file', async () => {
    expect(await policy('check')).toBe(2)
    expect(stderr).toContain('policy check needs at least one FILE')
  })
})

describe('policy explain', () => {
  it('shows the identity, the team, the group expansion and the rule that allowed, and exits 0', async () => {
    const p = file('p.yaml', GOOD)
    expect(await policy('explain', '--policy', p, '--subject', 'CN=ci-runner-9,OU=ci', 'POST', '/v1.41/containers/abc/start')).toBe(0)
    expect(stdout).toContain(`identity: ${p}:3 (cn: ci-runner-*) -> teams: ci`)
    expect(stdout).toContain(`team:     ci (mode enforce, containers restricted): allowed by ${p}:9 "POST /containers/{id}/start" (from @containers-run)`)
    expect(stdout).toMatch(/group: {4}@containers-run \(.*:9\) = GET,HEAD \/_ping, POST \/containers\/create, /)
    expect(stdout).toContain('decision: allow\n')
  })

  it('judges a --body and exits 3 with the setting that refused it', async () => {
    const p = file('p.yaml', GOOD)
    const body = file('body.json', '{"Image":"x","HostConfig":{"Binds":["/etc:/e"]}}')
    expect(await policy('explain', '--policy', p, '--subject', 'CN=ci-runner-9,OU=ci', '--body', body, 'POST', '/v1.41/containers/create')).toBe(3)
    expect(stdout).toContain('judged:   POST /containers/create is judged on its JSON body')
    expect(stdout).toContain('decision: deny\n')
    expect(stdout).toContain(`rule:     ${p}:11 "containers.bindMounts: [/srv/ci/**]" (team ci)`)
    expect(stdout).toContain('reason:   403 DG_BODY_DENIED dockgate: ci may not bind-mount /etc (HostConfig.Binds[0]) (allowed: /srv/ci/**)')
  })

  it('says when a judged endpoint was explained without a body', async () => {
    const p = file('p.yaml', GOOD)
    expect(await policy('explain', '--policy', p, '--subject', 'CN=ci-runner-9,OU=ci', 'POST', '/containers/create')).toBe(0)
    expect(stdout).toContain('body:     none given (--body FILE.json): judged as an empty body')
  })

  it('exits 3 for default deny, audit-mode would-deny, no identity, and non-canonical targets', async () => {
    const p = file('p.yaml', GOOD)
    expect(await policy('explain', '--policy', p, '--subject', 'CN=ci-runner-9,OU=ci', 'GET', '/images/json')).toBe(3)
    expect(stdout).toContain('rule:     none (nothing allows it: default deny)')
    expect(stdout).toContain('reason:   403 DG_DENIED dockgate: ci may not GET /images/json')
    expect(await policy('explain', '--policy', p, '--subject', 'CN=t,OU=trial', 'DELETE', '/images/x')).toBe(3)
    expect(stdout).toContain('decision: would-deny (audit mode: forwarded and recorded as would-deny)')
    expect(await policy('explain', '--policy', p, '--subject', 'CN=stranger', 'GET', '/_ping')).toBe(3)
    expect(stdout).toContain('identity: none matches (policy mode enforce)')
    expect(await policy('explain', '--policy', p, '--subject', 'CN=ci-runner-9', 'GET', '/containers/%6a%73%6f%6e')).toBe(3)
    expect(stdout).toContain('decision: deny (400): request target is not canonical: percent-encoding (%) in path')
  })

  it('explains what a socket listener\'s identity gets with --socket, which no certificate subject can stand for', async () => {
    const p = file('p.yaml', GOOD.replace('identities:\n', 'identities:\n  - match: { socket: "ci-*" }\n    teams: [ci]\n'))
    expect(await policy('explain', '--policy', p, '--socket', 'ci-7', 'POST', '/v1.41/containers/abc/start')).toBe(0)
    expect(stdout).toContain('subject:  socket ci-7\n')
    expect(stdout).toContain(`identity: ${p}:3 (socket: ci-*) -> teams: ci`)
    expect(await policy('explain', '--policy', p, '--subject', 'CN=ci-7', 'POST', '/v1.41/containers/abc/start')).toBe(3)
    expect(stdout).toContain('identity: none matches')
    expect(await policy('explain', '--policy', p, '--socket', 'x', '--subject', 'CN=x', 'GET', '/_ping')).toBe(2)
    expect(stderr).toContain('--subject "CN=NAME,OU=TEAM" (a certificate) or --socket NAME')
  })

  it('exits 1 for a policy with errors and 2 for usage mistakes', async () => {
    const bad = file('bad.yaml', 'version: 1\nidentities: []\nteams:\n  t: { allow: ["get /x"] }\n')
    expect(await policy('explain', '--policy', bad, '--subject', 'CN=x', 'GET', '/_ping')).toBe(1)
    expect(stderr).toContain('DG_POLICY_BAD_RULE')
    expect(await policy('explain', '--subject', 'CN=x', 'GET', '/_ping')).toBe(2)
    expect(await policy('explain', '--policy', bad, '--subject', 'CN=x', 'GET')).toBe(2)
    expect(await policy('explain', '--policy', bad, '--subject', 'nonsense', 'GET', '/_ping')).toBe(2)
    expect(stderr).toContain('"nonsense" in the subject is not KEY=VALUE')
    expect(await policy('frobnicate')).toBe(2)
  })
})
