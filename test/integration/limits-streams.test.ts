/**
 * The per-identity cap on long-lived streams and hijacked sessions, with
 * the docker CLI against the real daemon: one identity at its cap is
 * refused its next stream (429, in Docker's error shape, audited and
 * counted) while another team keeps working; a closed stream frees its
 * slot; a reloaded cap applies at once.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker, dockerEnv, rawExchange } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { get, sample, startRuntime, type RuntimeHarness } from '../support/runtime.js'

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
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /containers/json"
      - "GET /events"
`

describe.skipIf(socket === '')('limits.streamsPerIdentity', () => {
  let gw: RuntimeHarness
  const children: ChildProcess[] = []
  const stream = (cn: string): ChildProcess => {
    const child = spawn('docker', ['events'], { env: dockerEnv(gw.port, gw.bundle(cn)) })
    children.push(child)
    return child
  }
  const openStreams = (): number => gw.runtime.gateway.stats().streams

  beforeAll(async () => {
    gw = await startRuntime({
      socket,
      policy: POLICY,
      clients: [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'oscar', '--ou', 'ops']],
      extraConfig: 'limits:\n  streamsPerIdentity: 2\n'
    })
  })
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill()
    await waitFor(() => openStreams() === 0, 10_000, 'every stream to close')
  })
  afterAll(async () => { await gw?.close() })

  it('refuses the next stream of an identity at its cap, while another team still streams and everyone still makes ordinary requests', async () => {
    stream('alice')
    stream('alice')
    await waitFor(() => openStreams() === 2, 10_000, 'alice\'s two streams')

    const third = await docker(gw.port, gw.bundle('alice'), ['events'], { timeoutMs: 15_000 })
    expect(third.code).not.toBe(0)
    expect(third.stderr).toContain('Error response from daemon: dockgate: CN=alice,OU=platform already has 2 open streams and sessions (limits.streamsPerIdentity)')

    // A hijacked session counts against the same cap, and is refused before the daemon sees it.
    const attach = await rawExchange(gw.port, gw.bundle('alice'),
      'POST /v1.41/containers/no-such-container/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
    expect(attach).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/)
    expect(attach).toMatch(/\r\nRetry-After: 1\r\n/)
    expect(attach).toContain('already has 2 open streams and sessions')

    expect((await docker(gw.port, gw.bundle('alice'), ['ps', '-q'])).code).toBe(0)
    const oscars = stream('oscar')
    await waitFor(() => openStreams() === 3, 10_000, 'oscar\'s stream to open')
    expect((await docker(gw.port, gw.bundle('oscar'), ['ps', '-q'])).code).toBe(0)
    expect(oscars.exitCode).toBeNull()

    const refused = gw.records().filter((r) => r.code === 'DG_LIMIT_STREAMS')
    expect(refused).toHaveLength(2)
    expect(refused[0]).toMatchObject({ stage: 'Refused', decision: 'deny', status: 429, identity: { subject: 'CN=alice,OU=platform', teams: ['platform'] }, request: { method: 'GET', path: '/events' } })
    expect(refused[1]).toMatchObject({ status: 429, request: { method: 'POST', upgrade: 'tcp' } })
    const metrics = (await get(`${gw.admin ?? ''}/metrics`)).body
    expect(sample(metrics, 'dockgate_limit_hits_total', { limit: 'streams' })).toBe(2)
    expect(sample(metrics, 'dockgate_requests_total', { team: 'platform', decision: 'deny', status: '429' })).toBe(2)
  })

  it('gives the slot back when a stream ends', async () => {
    const first = stream('alice')
    stream('alice')
    await waitFor(() => openStreams() === 2, 10_000, 'two streams')
    first.kill()
    await waitFor(() => openStreams() === 1, 10_000, 'the slot to be released')
    stream('alice')
    await waitFor(() => openStreams() === 2, 10_000, 'a new stream in the freed slot')
  })

  it('applies a reloaded cap without a restart, and says which limits need one', async () => {
    stream('alice')
    stream('alice')
    await waitFor(() => openStreams() === 2, 10_000, 'two streams')
    const applied = gw.runtime.reloader.stats().applied
    const config = readFileSync(gw.configFile, 'utf8')
    writeFileSync(gw.configFile, config.replace('streamsPerIdentity: 2', 'streamsPerIdentity: 3\n  headerBytes: 16384'))
    await waitFor(() => gw.runtime.reloader.stats().applied > applied, 10_000, 'the reload')
    stream('alice')
    await waitFor(() => openStreams() === 3, 10_000, 'a third stream under the new cap')
    const messages = gw.logs().map((line) => line.msg)
    expect(messages).toContain('limits.headerBytes changed to 16384 but dockgate still uses 32768: restart dockgate to apply it (everything else was reloaded)')
    expect(messages.some((m) => m.includes('streamsPerIdentity'))).toBe(false)
  })
})
