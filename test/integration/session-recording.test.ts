/**
 * Audit level `session`: the stock docker CLI through dockgate, against the
 * real daemon. A `docker exec -it` driven through a real pseudo-terminal
 * (util-linux `script`) and a piped `docker run -i` are recorded as
 * asciicast v2 files holding what the user saw; `dockgate audit replay`
 * (the built CLI) prints it again; `audit verify` vouches for each
 * recording through its record, and fails naming it once one byte of it is
 * changed or it is deleted; the caps end the recording, never the session;
 * a team at level metadata is not recorded; a session whose recording
 * cannot be created is refused.
 */
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, type TestGateway } from '../support/gateway.js'
import { docker, dockerEnv, socketEnv, type CliResult } from '../support/clients.js'
import { CLI, waitFor } from '../support/live.js'
import { killAll, prepare, serve } from '../support/cli.js'
import type { SealedAuditRecord } from '../../src/audit/schema.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)
const BG = `dg-${tag}-sess`

const POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ops }
    teams: [ops]
teams:
  platform:
    audit: session
    allow: ["* /**"]
    containers: unrestricted
  ops:
    allow: ["* /**"]
    containers: unrestricted
`
const CLIENTS = [{ name: 'alice', ous: ['platform'] }, { name: 'olga', ous: ['ops'] }]

type Recording = NonNullable<SealedAuditRecord['recording']>

/** Runs the built CLI; resolves with its exit code and output. */
async function dockgate (args: readonly string[]): Promise<CliResult> {
  return await new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args])
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
    child.on('close', (code) => { resolve({ code, stdout, stderr }) })
  })
}

/**
 * `docker ARGS` in a real pseudo-terminal (`script`), typing each `send`
 * once the terminal shows `after`; resolves with the exit code and
 * everything the terminal showed.
 */
async function inTerminal (env: NodeJS.ProcessEnv, args: readonly string[], steps: ReadonlyArray<{ after: RegExp; send: string }>): Promise<{ code: number | null; shown: string }> {
  const command = ['docker', ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  // The terminal is 100 columns by 30 rows, as a user's window would be.
  const child = spawn('script', ['-qfec', `stty cols 100 rows 30; exec ${command}`, '/dev/null'], { env: { ...env, TERM: 'xterm' } })
  let shown = ''
  let next = 0
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
  const typeWhenShown = (): void => {
    const step = steps[next]
    if (step === undefined || !step.after.test(shown)) return
    next += 1
    child.stdin.write(step.send)
    typeWhenShown()
  }
  child.stdout.on('data', (c: Buffer) => { shown += c.toString(); typeWhenShown() })
  typeWhenShown()
  child.stderr.on('data', (c: Buffer) => { shown += c.toString() })
  return await new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, shown })
    })
  })
}

/**
 * The closing record of the `nth` session (1-based) whose request path
 * matches `path`, once written: the client can see its session end before
 * dockgate has closed both sides, synced the recording and written it.
 */
async function closing (gw: TestGateway, path: RegExp, nth: number): Promise<SealedAuditRecord> {
  const closed = (): SealedAuditRecord[] => gw.records().filter((r) => r.stage === 'ResponseComplete' && path.test(r.request?.path ?? '') && r.request?.upgrade === 'tcp')
  await waitFor(() => closed().length >= nth, 10_000, `session ${nth}'s closing record for ${String(path)}`)
  return closed()[nth - 1] as SealedAuditRecord
}

function castOf (gw: TestGateway, recording: Recording): { header: Record<string, unknown>; events: Array<[number, string, string]>; bytes: Buffer } {
  const bytes = readFileSync(join(dirname(gw.auditFile), recording.file))
  const [head, ...lines] = bytes.toString('utf8').trimEnd().split('\n')
  return { header: JSON.parse(head ?? '') as Record<string, unknown>, events: lines.map((l) => JSON.parse(l) as [number, string, string]), bytes }
}

const output = (events: ReadonlyArray<[number, string, string]>): string => events.filter((e) => e[1] === 'o').map((e) => e[2]).join('')

describe.skipIf(socket === '')('session recording (audit level session), docker CLI through dockgate, real daemon', () => {
  let gw: TestGateway
  const as = (who: string): NodeJS.ProcessEnv => dockerEnv(gw.port, gw.pki.bundle(who))

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: POLICY, clients: CLIENTS })
    const started = await docker(gw.port, gw.pki.bundle('alice'), ['run', '-d', '--name', BG, '--network', 'none', IMAGE, 'sleep', '600'])
    expect(started.code).toBe(0)
  })
  afterAll(async () => {
    await docker(gw.port, gw.pki.bundle('alice'), ['rm', '-f', BG])
    await gw?.close()
  })

  it('records docker exec -it, typed in a terminal, as asciicast v2 holding what the user saw', async () => {
    // Typed ahead, as a quick typist would: busybox's line editor asks the terminal where the
    // cursor is (ESC [6n) only when no input is waiting, and would take keys typed while it
    // waits for the answer as a broken answer.
    const session = await inTerminal(as('alice'), ['exec', '-it', BG, 'sh'], [
      { after: /^/, send: 'echo hello-$((6*7)); printf "caf\\303\\251\\n"\rexit\r' }
    ])
    expect(session.shown).toContain('hello-42')
    expect(session.code).toBe(0)
    const record = await closing(gw, /^\/exec\/[0-9a-f]+\/start$/, 1)
    expect(record.level).toBe('session')
    expect(record.aborted).toBe(false)
    const recording = record.recording as Recording
    expect(recording).toMatchObject({ file: `sessions/${record.auditID}.cast`, truncated: null, input: false })
    const cast = castOf(gw, recording)
    expect(recording.bytes).toBe(cast.bytes.length)
    expect(recording.sha256).toBe(createHash('sha256').update(cast.bytes).digest('hex'))
    expect(cast.header).toMatchObject({ version: 2, dockgate: { auditID: record.auditID, tty: true, input: false } })
    // The terminal's size: in the header when the client sent it with the start (API 1.42 and
    // later), else 80x24 there, then the size the CLI's resize set, if it came before the end.
    expect([[100, 30], [80, 24]]).toContainEqual([cast.header.width, cast.header.height])
    for (const resized of cast.events.filter((e) => e[1] === 'r')) expect(resized[2]).toBe('100x30')
    expect(typeof cast.header.timestamp).toBe('number')
    const seen = output(cast.events)
    // The terminal showed the typed command (echoed by the container's terminal), its result, and UTF-8 intact.
    expect(seen).toContain('echo hello-$((6*7))')
    expect(seen).toContain('hello-42\r\n')
    expect(seen).toContain('café')
    expect(cast.events.every((e, i) => i === 0 || e[0] >= (cast.events[i - 1]?.[0] ?? 0))).toBe(true)
    expect(cast.events.some((e) => e[1] === 'i')).toBe(false)
    // Folder 0700, file 0600: recordings hold whatever the session showed.
    const sessions = join(dirname(gw.auditFile), 'sessions')
    expect(statSync(sessions).mode & 0o777).toBe(0o700)
    expect(statSync(join(sessions, `${record.auditID}.cast`)).mode & 0o777).toBe(0o600)
    // The exec create before it was recorded at level session too, with its body (session implies request).
    const create = gw.records().filter((r) => r.stage === 'ResponseComplete' && /^\/containers\/[^/]+\/exec$/.test(r.request?.path ?? '')).at(-1)
    expect(create?.requestObject).toMatchObject({ Tty: true, Cmd: ['sh'] })

    const replay = await dockgate(['audit', 'replay', '--speed', '1000', join(dirname(gw.auditFile), recording.file)])
    expect(replay.code).toBe(0)
    expect(replay.stdout).toBe(seen)
  })

  it('records a piped docker run -i: stdout and stderr demultiplexed, as the terminal showed them', async () => {
    const run = await docker(gw.port, gw.pki.bundle('alice'), ['run', '-i', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'cat; echo to-stderr >&2; echo "naïve done"'], { input: 'piped line\n' })
    expect(run).toMatchObject({ code: 0, stdout: 'piped line\nnaïve done\n', stderr: 'to-stderr\n' })
    const record = await closing(gw, /^\/containers\/[^/]+\/attach$/, 1)
    const recording = record.recording as Recording
    expect(recording.truncated).toBeNull()
    const cast = castOf(gw, recording)
    expect(cast.header).toMatchObject({ version: 2, dockgate: { tty: false } })
    // No frame header bytes leak into the text; lines end as a terminal shows them. The daemon
    // copies stdout and stderr on their own, so their relative order is whatever it sent.
    const seen = output(cast.events)
    expect(seen.split('\r\n').sort()).toEqual(['', 'naïve done', 'piped line', 'to-stderr'])

    // By ID, through the config's sessions folder (the default: sessions/ beside the audit file).
    const config = join(gw.dir, 'config.yaml')
    writeFileSync(config, `listen: 127.0.0.1:0\nupstream: unix://${socket}\ntls: { ca: tls/ca.pem, cert: tls/cert.pem, key: tls/key.pem }\npolicy: policy.yaml\naudit: { file: audit/audit.jsonl }\n`)
    const replay = await dockgate(['audit', 'replay', '--config', config, '--speed', '1000', record.auditID])
    expect(replay).toMatchObject({ code: 0, stdout: seen })
  })

  it('does not record a team at level metadata', async () => {
    const exec = await docker(gw.port, gw.pki.bundle('olga'), ['exec', '-i', BG, 'cat'], { input: 'not recorded\n' })
    expect(exec).toMatchObject({ code: 0, stdout: 'not recorded\n' })
    const record = await closing(gw, /^\/exec\/[0-9a-f]+\/start$/, 2)
    expect(record.level).toBe('metadata')
    expect(record.recording).toBeUndefined()
    expect(existsSync(join(dirname(gw.auditFile), 'sessions', `${record.auditID}.cast`))).toBe(false)
  })

  it('audit verify vouches for every recording, and fails naming one that was changed by one byte or deleted', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'dockgate-sessions-'))
    cpSync(dirname(gw.auditFile), copy, { recursive: true })
    const trail = join(copy, 'audit.jsonl')
    const intact = await dockgate(['audit', 'verify', trail])
    expect(intact.stdout).toMatch(/[2-9] session recording\(s\) named by these records: each is present/)
    expect(intact.code).toBe(0)
    // The auditor's report reads the same records and plays the same files.
    const report = await dockgate(['audit', 'report', trail, '--text'])
    expect(report.stdout).toMatch(/sessions: \d+ listed, [2-9] with a playable recording/)

    // The exec -it session's recording: the first recorded one.
    const victim = gw.records().find((r) => r.recording !== undefined) as SealedAuditRecord
    const file = join(copy, (victim.recording as Recording).file)
    const bytes = readFileSync(file)
    const at = bytes.indexOf('hello-42')
    bytes[at + 6] = '7'.charCodeAt(0)
    writeFileSync(file, bytes)
    const edited = await dockgate(['audit', 'verify', trail])
    expect(edited.code).toBe(1)
    expect(edited.stdout).toContain(`DG_AUDIT_RECORDING_EDITED the recording sessions/${victim.auditID}.cast of record ${victim.auditID}`)
    expect(edited.stdout).toMatch(new RegExp(`^${trail.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+ DG_AUDIT_RECORDING_EDITED`, 'm'))

    rmSync(file)
    const missing = await dockgate(['audit', 'verify', trail])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toContain(`DG_AUDIT_RECORDING_MISSING the recording sessions/${victim.auditID}.cast of record ${victim.auditID}`)
    expect((await dockgate(['audit', 'report', trail, '--text'])).stdout).toContain(`recording problem: ${victim.auditID}: the recording is missing`)
    rmSync(copy, { recursive: true, force: true })
  })
})

describe.skipIf(socket === '')('session recording caps and failures', () => {
  let capped: TestGateway
  beforeAll(async () => {
    capped = await startGateway({ socket, policy: POLICY, clients: CLIENTS, auditConfig: { sessionMaxBytes: 4096, sessionInput: true } })
  })
  afterAll(async () => { await capped?.close() })

  it('the size cap ends the recording, not the session, and both the cast and the record say so; input is recorded when configured', async () => {
    const run = await docker(capped.port, capped.pki.bundle('alice'), ['run', '-i', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'read line; echo "got $line"; head -c 100000 /dev/zero | tr "\\0" x'], { input: 'typed secret\n' })
    expect(run.code).toBe(0)
    expect(run.stdout).toBe(`got typed secret\n${'x'.repeat(100000)}`)
    const record = await closing(capped, /^\/containers\/[^/]+\/attach$/, 1)
    const recording = record.recording as Recording
    expect(recording).toMatchObject({ truncated: 'size', input: true })
    expect(recording.bytes).toBeLessThanOrEqual(4096)
    const cast = castOf(capped, recording)
    expect(cast.bytes.length).toBe(recording.bytes)
    expect(cast.events.filter((e) => e[1] === 'i').map((e) => e[2]).join('')).toBe('typed secret\n')
    expect(output(cast.events)).toMatch(/^got typed secret\r\nx+\r\n\[dockgate: recording stopped: it reached audit\.sessionMaxBytes \(4096 bytes\); the session went on unrecorded\]\r\n$/)
    expect(cast.events.at(-1)).toEqual([expect.any(Number), 'm', 'dockgate: recording stopped (size)'])
  })

  it('the duration cap ends the recording, not the session', async () => {
    const timed = await startGateway({ socket, policy: POLICY, clients: CLIENTS, auditConfig: { sessionMaxSeconds: 1 } })
    try {
      const run = await docker(timed.port, timed.pki.bundle('alice'), ['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'echo before; sleep 3; echo after'])
      expect(run).toMatchObject({ code: 0, stdout: 'before\nafter\n' })
      const record = await closing(timed, /^\/containers\/[^/]+\/attach$/, 1)
      const recording = record.recording as Recording
      expect(recording.truncated).toBe('duration')
      const seen = output(castOf(timed, recording).events)
      expect(seen).not.toContain('after')
      expect(seen).toContain('[dockgate: recording stopped: it reached audit.sessionMaxSeconds (1 s); the session went on unrecorded]')
    } finally {
      await timed.close()
    }
  })

  it('refuses a session whose recording cannot be created, and records why', async () => {
    const blocked = mkdtempSync(join(tmpdir(), 'dockgate-blocked-'))
    writeFileSync(join(blocked, 'not-a-folder'), '')
    const refusing = await startGateway({ socket, policy: POLICY, clients: CLIENTS, auditConfig: { sessions: join(blocked, 'not-a-folder', 'sessions') } })
    try {
      const name = `dg-${tag}-refused`
      const run = await docker(refusing.port, refusing.pki.bundle('alice'), ['run', '-i', '--name', name, '--network', 'none', IMAGE, 'echo', 'never shown'], { input: '' })
      await docker(refusing.port, refusing.pki.bundle('alice'), ['rm', '-f', name])
      expect(run.code).not.toBe(0)
      expect(run.stdout).not.toContain('never shown')
      const refused = refusing.records().find((r) => r.stage === 'Refused' && r.code === 'DG_SESSION_UNRECORDED')
      expect(refused?.reason).toMatch(/this session must be recorded \(audit level session\) and cannot create the session recording .*not-a-folder\/sessions\/.*\.cast: ENOTDIR/)
      expect(readdirSync(blocked)).toEqual(['not-a-folder'])
    } finally {
      await refusing.close()
      rmSync(blocked, { recursive: true, force: true })
    }
  })
})

describe.skipIf(socket === '')('session recording in the built CLI (recorders in their own thread)', () => {
  afterEach(killAll)

  it('records exec sessions off the serving thread; a session cut at shutdown keeps its recording, and verify vouches for both', async () => {
    const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform']], 'shutdown:\n  graceSeconds: 1\n')
    const bundle = join(dir, 'certs', 'clients', 'alice')
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    const port = await served.port()
    const name = `dg-${tag}-cli`
    try {
      expect((await docker(port, bundle, ['run', '-d', '--name', name, '--network', 'none', IMAGE, 'sleep', '600'])).code).toBe(0)
      const whole = await docker(port, bundle, ['exec', '-i', name, 'sh', '-c', 'cat; echo done'], { input: 'through the thread\n' })
      expect(whole).toMatchObject({ code: 0, stdout: 'through the thread\ndone\n' })
      const open = spawn('docker', ['exec', '-i', name, 'cat'], { env: dockerEnv(port, bundle) })
      let echoed = ''
      open.stdout.on('data', (c: Buffer) => { echoed += c.toString() })
      open.stdin.write('before shutdown\n')
      await waitFor(() => echoed === 'before shutdown\n', 15_000, 'the open exec session')
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)

      const trail = join(dir, 'audit', 'audit.jsonl')
      const closed = readFileSync(trail, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as SealedAuditRecord)
        .filter((r) => r.stage === 'ResponseComplete' && r.recording !== undefined)
      expect(closed.map((r) => [r.aborted, r.recording?.truncated])).toEqual([[false, null], [true, null]])
      const shown = closed.map((r) => readFileSync(join(dir, 'audit', r.recording?.file ?? ''), 'utf8'))
      expect(shown[0]).toContain('through the thread\\r\\n')
      expect(shown[1]).toContain('before shutdown')
      const verified = await dockgate(['audit', 'verify', trail])
      expect(verified.stdout).toContain('2 session recording(s) named by these records: each is present')
      expect(verified.code).toBe(0)
    } finally {
      await new Promise<void>((resolve) => spawn('docker', ['rm', '-f', name], { env: socketEnv(socket) }).on('close', () => { resolve() }))
    }
  })

  it('serve --check names the sessions folder, and fails when recordings could not be created there', async () => {
    const dir = await prepare(socket, POLICY, [], '  sessions: blocker/sessions\n')
    const checked = serve(['serve', '--config', 'config.yaml', '--check'], dir)
    expect(await checked.exited).toBe(0)
    expect(checked.output()).toContain(`  sessions  ${join(dir, 'blocker', 'sessions')} (level session: recordings up to 67108864 bytes and 86400 s, input not recorded)`)
    writeFileSync(join(dir, 'blocker'), '')
    const blocked = serve(['serve', '--config', 'config.yaml', '--check'], dir)
    expect(await blocked.exited).toBe(1)
    expect(blocked.output()).toMatch(/DG_SESSION_UNRECORDED audit\.sessions .*blocker\/sessions cannot take recordings: .*\(ENOTDIR\); sessions at level session would be refused/)
  })
})
