/**
 * Audit settings where people write them: the config's `audit:` section
 * (defaults, and every mistake at once at its line:col) and audit levels in
 * the policy (per team, per rule), which `policy check` validates and
 * `policy explain` shows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { loadConfigFile } from '../../../src/config/load.js'
import { canonicalize, judgeRequest, loadPolicy, principalFromSubject, type Policy } from '../../../src/policy/index.js'
import { runPolicyCommand } from '../../../src/cli/policy.js'
import { formatDiagnostic } from '../../../src/shared/diagnostics.js'
import { makePki } from '../../support/pki.js'

let dir = ''
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dockgate-audit-config-'))
  const pki = makePki(dir, [])
  writeFileSync(join(dir, 'ca.pem'), pki.ca.certPem)
  writeFileSync(join(dir, 'cert.pem'), pki.server.cert)
  writeFileSync(join(dir, 'key.pem'), pki.server.key)
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities: []\nteams: {}\n')
})

async function config (audit: string): Promise<Awaited<ReturnType<typeof loadConfigFile>>> {
  const file = join(dir, 'config.yaml')
  writeFileSync(file, `listen: 127.0.0.1:0\nupstream: unix:///var/run/docker.sock\ntls:\n  ca: ca.pem\n  cert: cert.pem\n  key: key.pem\npolicy: policy.yaml\naudit:\n${audit}`)
  return await loadConfigFile(file)
}

describe('config audit:', () => {
  it('fills in the defaults: metadata, no fsync, refuse, no rotation, no second sink, sessions/ beside the audit file', async () => {
    const loaded = await config('  file: audit/audit.jsonl\n')
    expect(loaded.ok && loaded.value.audit).toEqual({
      file: join(dir, 'audit/audit.jsonl'), level: 'metadata', fsync: false, onFailure: 'refuse',
      sessions: { dir: join(dir, 'audit/sessions'), input: false, maxBytes: 64 * 1024 * 1024, maxSeconds: 86400 },
      rotate: { maxBytes: 0, daily: false }, sinks: { stdout: false, syslog: null }
    })
  })

  it('reads the session recording settings; audit.sessions resolves from the config file\'s folder', async () => {
    const loaded = await config('  file: a.jsonl\n  level: session\n  sessions: /var/lib/dockgate/sessions\n  sessionInput: true\n  sessionMaxBytes: 1048576\n  sessionMaxSeconds: 3600\n')
    expect(loaded.ok && loaded.value.audit).toMatchObject({ level: 'session', sessions: { dir: '/var/lib/dockgate/sessions', input: true, maxBytes: 1048576, maxSeconds: 3600 } })
    const relative = await config('  file: a.jsonl\n  sessions: recordings\n')
    expect(relative.ok && relative.value.audit.sessions.dir).toBe(join(dir, 'recordings'))
  })

  it('reports bad session settings at their line:col: a sessions path that is a file, caps out of range', async () => {
    writeFileSync(join(dir, 'taken'), '')
    const loaded = await config('  file: a.jsonl\n  sessions: taken\n  sessionInput: "yes"\n  sessionMaxBytes: 100\n  sessionMaxSeconds: 0\n')
    expect(loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic).map((l) => l.replaceAll(dir, 'DIR'))).toEqual([
      'DIR/config.yaml:10:13 DG_BAD_VALUE audit.sessions DIR/taken is a file, not a folder: recordings of sessions go there (set audit.sessions to a folder, or move the file away)',
      "DIR/config.yaml:11:17 DG_WRONG_TYPE 'audit.sessionInput' must be true (recordings also hold what the client typed or piped in) or false, got a string",
      "DIR/config.yaml:12:20 DG_BAD_VALUE 'audit.sessionMaxBytes' must be a whole number of bytes of at least 4096, like 67108864, got 100",
      "DIR/config.yaml:13:22 DG_BAD_VALUE 'audit.sessionMaxSeconds' must be a whole number of seconds from 1 to 31536000, like 86400, got 0"
    ])
  })

  it('reads every setting', async () => {
    const loaded = await config([
      '  file: a.jsonl', '  level: request', '  fsync: true', '  onFailure: continue',
      '  rotate: { maxBytes: 104857600, daily: true }',
      '  sinks:', '    stdout: true', '    syslog: { address: "logs.example.com:6514", tls: true, facility: 10, appName: gw1, queueRecords: 5 }', ''
    ].join('\n'))
    expect(loaded.ok && loaded.value.audit).toMatchObject({
      level: 'request', fsync: true, onFailure: 'continue', rotate: { maxBytes: 104857600, daily: true },
      sinks: { stdout: true, syslog: { host: 'logs.example.com', port: 6514, tls: true, facility: 10, appName: 'gw1', queueRecords: 5 } }
    })
  })

  it('reports every mistake at once, each at its line:col with the key', async () => {
    const loaded = await config([
      '  file: a.jsonl', '  level: verbose', '  onFailure: ignore', '  rotate: { maxBytes: 10, dayly: true }',
      '  sinks:', '    syslog: { address: "logs.example.com" }', '  fsync: yes please', ''
    ].join('\n'))
    expect(loaded.ok ? [] : loaded.diagnostics.map(formatDiagnostic).map((l) => l.replace(join(dir, 'config.yaml'), 'config.yaml'))).toEqual([
      'config.yaml:10:10 DG_BAD_VALUE audit.level must be metadata, request or session, got "verbose"',
      'config.yaml:11:14 DG_BAD_VALUE audit.onFailure must be refuse or continue, got "ignore"',
      "config.yaml:12:23 DG_BAD_VALUE 'audit.rotate.maxBytes' must be a whole number of bytes of at least 4096, like 104857600, got 10",
      "config.yaml:12:27 DG_UNKNOWN_KEY unknown key 'dayly' in audit.rotate; valid keys: maxBytes, daily (did you mean 'daily'?)",
      'config.yaml:14:24 DG_BAD_VALUE audit.sinks.syslog.address must be HOST:PORT like logs.example.com:6514 with a port from 1 to 65535 (IPv6 in brackets), got "logs.example.com"',
      "config.yaml:15:10 DG_WRONG_TYPE 'audit.fsync' must be true (every record is on disk before the answer) or false, got a string"
    ])
  })
})

const POLICY = `version: 1
identities:
  - match: { ou: contractors }
    teams: [contractors]
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: both }
    teams: [ci, contractors]
teams:
  contractors:
    audit: request
    allow: ["GET /containers/json", { rule: "GET /info", audit: metadata }]
  ci:
    allow:
      - "GET /containers/json"
      - { rule: "POST /containers/create", audit: request }
      - { rule: "@exec", audit: request }
`

function levelFor (policy: Policy, ou: string, method: string, path: string): string | null {
  const principal = principalFromSubject(`CN=x,OU=${ou}`, { dns: [], uri: [], email: [] })
  const target = canonicalize(path)
  if (typeof principal === 'string' || !target.ok) throw new Error('bad test input')
  const judgement = judgeRequest(policy, { principal, method, target: target.target, contentTypes: ['application/json'] })
  const verdict = judgement.kind === 'final' ? judgement.verdict : judgement.pending
  return verdict.audit === null ? null : `${verdict.audit.level} <- ${verdict.audit.from}`
}

describe('policy audit levels', () => {
  const loaded = loadPolicy({ file: 'p.yaml', text: POLICY })
  const policy = loaded.ok ? loaded.value : null

  it('a team level applies to all its requests; a rule level to the requests it decides', () => {
    if (policy === null) throw new Error('policy must load')
    expect(levelFor(policy, 'contractors', 'GET', '/containers/json')).toBe('request <- team contractors (p.yaml:11)')
    expect(levelFor(policy, 'contractors', 'GET', '/info')).toBe('metadata <- rule p.yaml:12 "GET /info" of team contractors')
    expect(levelFor(policy, 'ci', 'POST', '/containers/create')).toBe('request <- rule p.yaml:16 "POST /containers/create" of team ci')
    expect(levelFor(policy, 'ci', 'POST', '/exec/e1/start')).toBe('request <- rule p.yaml:17 "POST /exec/{id}/start" (from @exec) of team ci')
    expect(levelFor(policy, 'ci', 'GET', '/containers/json')).toBeNull()
  })

  it('across teams the most detailed level wins', () => {
    if (policy === null) throw new Error('policy must load')
    expect(levelFor(policy, 'both', 'GET', '/info')).toBe('metadata <- rule p.yaml:12 "GET /info" of team contractors')
    expect(levelFor(policy, 'both', 'GET', '/containers/json')).toBe('request <- team contractors (p.yaml:11)')
  })

  it('session is the most detailed level: a team at session wins over another team\'s rule at request', () => {
    const loaded = loadPolicy({ file: 'p.yaml', text: `${POLICY}  ops:\n    audit: session\n    allow: ["GET /containers/json", "@exec"]\n`.replace('identities:\n', 'identities:\n  - match: { ou: oncall }\n    teams: [ci, ops]\n') })
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.diagnostics))
    expect(levelFor(loaded.value, 'oncall', 'POST', '/exec/e1/start')).toBe('session <- team ops (p.yaml:21)')
    expect(levelFor(loaded.value, 'ci', 'POST', '/containers/create')).toBe('request <- rule p.yaml:18 "POST /containers/create" of team ci')
  })

  it('reports bad levels and bad rule entries at their line:col', () => {
    const bad = loadPolicy({
      file: 'p.yaml',
      text: 'version: 1\nidentities: []\nteams:\n  t:\n    audit: full\n    allow:\n      - { rule: "GET /info", adit: request }\n      - { audit: request }\n      - { rule: "GET /version", audit: everything }\n      - 42\n'
    })
    expect(bad.ok ? [] : bad.diagnostics.map(formatDiagnostic)).toEqual([
      'p.yaml:5:12 DG_BAD_VALUE audit must be metadata, request or session, got "full"',
      "p.yaml:7:30 DG_UNKNOWN_KEY unknown key 'adit' in teams.t.allow[0]; valid keys: rule, audit (did you mean 'audit'?)",
      "p.yaml:8:9 DG_MISSING_KEY missing required key 'rule' in teams.t.allow[1]",
      `p.yaml:9:40 DG_BAD_VALUE 'teams.t.allow[2].audit' must be metadata, request or session, got "everything"`,
      `p.yaml:10:9 DG_WRONG_TYPE 'teams.t.allow[3]' must be a string like "GET /containers/json" or a mapping like { rule: "POST /containers/create", audit: request }, got a number`
    ])
  })

  it('a repeated rule that only adds a level is unreachable: the level goes on the first rule', () => {
    const repeated = loadPolicy({ file: 'p.yaml', text: 'version: 1\nidentities: [{ match: { ou: t }, teams: [t] }]\nteams:\n  t:\n    allow:\n      - "GET /info"\n      - { rule: "GET /info", audit: request }\n' })
    expect(repeated.ok ? [] : repeated.diagnostics.map((d) => `${d.line}:${d.col} ${d.code}`)).toEqual(['7:17 DG_POLICY_UNREACHABLE'])
  })
})

describe('policy explain shows the audit level', () => {
  let out = ''
  beforeEach(() => {
    out = ''
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { out += String(chunk); return true })
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  })
  afterEach(() => { vi.restoreAllMocks() })

  it('with where it is set, or that the gateway default applies', async () => {
    const file = join(dir, 'levels.yaml')
    writeFileSync(file, POLICY)
    await runPolicyCommand(['explain', '--policy', file, '--subject', 'CN=x,OU=ci', 'POST', '/v1.41/containers/create'])
    expect(out).toContain(`audit:    request, set by rule ${file}:16 "POST /containers/create" of team ci (the record adds the judged request body, secrets redacted)`)
    out = ''
    await runPolicyCommand(['explain', '--policy', file, '--subject', 'CN=x,OU=ci', 'GET', '/containers/json'])
    expect(out).toContain("audit:    no level in the policy: the gateway's audit.level applies (metadata unless set)")
  })
})
