/**
 * When the daemon cannot be reached, clients get a 502 at once with a
 * message, never a hang, and the operator's log says what to do: for a
 * crashed daemon (a stale socket nothing accepts on), and for a socket
 * dockgate may not open, where it names the user it runs as and the group
 * to join. The permission case runs the built CLI as `nobody` (root would
 * bypass the check) in front of a socket owned by the docker group.
 */
import { spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { docker, rawExchange, rawRequest, type RawResponse } from '../support/clients.js'
import { killAll, prepare, serve } from '../support/cli.js'
import { startFakeDaemon } from '../support/fake-daemon.js'
import { waitFor } from '../support/live.js'
import { get, startRuntime } from '../support/runtime.js'
import { chownTree, dockerGroup, NOBODY, runsAsRoot } from '../support/users.js'

const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'

const POLICY_WITH_CI = POLICY.replace('teams:\n', 'teams:\n  ci:\n    allow: ["POST /containers/create"]\n').replace('identities:\n', 'identities:\n  - match: { ou: ci }\n    teams: [ci]\n')

afterEach(killAll)

/** A socket file left by a daemon that was killed: it exists, nothing accepts on it. */
async function staleSocket (): Promise<string> {
  const path = join(mkdtempSync(join(tmpdir(), 'dg-stale-')), 'docker.sock')
  const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`])
  await new Promise((resolve) => holder.stdout.once('data', resolve))
  holder.kill('SIGKILL')
  await new Promise((resolve) => holder.once('close', resolve))
  return path
}

describe('a daemon that is down', () => {
  it('answers 502 within a second with the reason, for requests and hijacks, logs what to do once, and is not ready', async () => {
    const path = await staleSocket()
    const gw = await startRuntime({ socket: path, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
    try {
      const started = Date.now()
      const res = await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/v1.41/containers/json')
      expect(Date.now() - started).toBeLessThan(1000)
      expect(res.status).toBe(502)
      expect(JSON.parse(res.body)).toEqual({ message: `dockgate: the Docker daemon at unix://${path} is not answering (ECONNREFUSED: nothing accepts on the daemon socket; is dockerd running?)` })
      const hijack = await rawExchange(gw.port, gw.bundle('alice'),
        'POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}')
      expect(hijack).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/)
      const cli = await docker(gw.port, gw.bundle('alice'), ['ps'], { timeoutMs: 20_000 })
      expect(cli.stderr).toContain('is not answering (ECONNREFUSED: nothing accepts on the daemon socket; is dockerd running?)')
      expect(gw.records().filter((r) => r.code === 'DG_UPSTREAM_UNAVAILABLE').length).toBeGreaterThanOrEqual(3)

      await waitFor(() => gw.logs().some((l) => l.msg.includes('nothing accepts on it')), 5000, 'the diagnosis in the log')
      const warnings = gw.logs().filter((l) => l.msg.includes('is not answering'))
      expect(warnings).toHaveLength(1)
      // Nothing else warns: the audit trail has every 502.
      expect(gw.logs().filter((l) => l.level >= 40)).toEqual(warnings)
      expect(warnings[0]?.msg).toBe(`the Docker daemon at unix://${path} is not answering (ECONNREFUSED); the socket exists but nothing accepts on it: is dockerd running?; requests are answered 502 until it is up`)
      expect((await get(`${gw.admin ?? ''}/readyz`)).status).toBe(503)
    } finally {
      await gw.close()
    }
  })
})

describe('a daemon that answers /_ping but drops every other request', () => {
  it('answers each 502 and audits it, without a warning per request in the log', async () => {
    const daemon = await startFakeDaemon((req) => { req.socket.destroy() })
    const gw = await startRuntime({ socket: daemon.socketPath, policy: POLICY, clients: [['--cn', 'alice', '--ou', 'platform']] })
    try {
      for (let i = 0; i < 5; i++) {
        const res = await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/v1.41/containers/json')
        expect(res.status).toBe(502)
        expect(JSON.parse(res.body)).toEqual({ message: `dockgate: the Docker daemon at unix://${daemon.socketPath} is not answering (ECONNRESET)` })
      }
      expect(gw.records().filter((r) => r.stage === 'ResponseComplete' && r.code === 'DG_UPSTREAM_UNAVAILABLE')).toHaveLength(5)
      expect(gw.logs().filter((l) => l.level >= 40)).toEqual([])
    } finally {
      await gw.close()
      await daemon.close()
    }
  })
})

describe('a daemon that accepts connections and never answers', () => {
  it('answers new requests and hijacks 502 at once while /_ping goes unanswered, lets requests in flight wait, and serves again when it answers', async () => {
    let hung = true
    const daemon = await startFakeDaemon((req, res) => {
      if (hung) return
      res.setHeader('content-type', req.url === '/_ping' ? 'text/plain' : 'application/json')
      res.end(req.url === '/_ping' ? 'OK' : '[]')
    }, { answerPing: false })
    const gw = await startRuntime({ socket: daemon.socketPath, policy: POLICY_WITH_CI, clients: [['--cn', 'alice', '--ou', 'platform'], ['--cn', 'carol', '--ou', 'ci']] })
    try {
      let inFlightDone = false
      const inFlight = rawRequest(gw.port, gw.bundle('alice'), 'POST', '/v1.41/containers/web/stop?t=600').finally(() => { inFlightDone = true })
      await waitFor(() => gw.logs().some((l) => l.msg.includes('is not answering (ETIMEDOUT)')), 10_000, 'the probe to find the daemon hung')
      const started = Date.now()
      const res = await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/v1.41/containers/json')
      expect(Date.now() - started).toBeLessThan(1000)
      expect(res.status).toBe(502)
      expect(JSON.parse(res.body)).toEqual({ message: `dockgate: the Docker daemon at unix://${daemon.socketPath} is not answering (ETIMEDOUT: the daemon accepts connections but does not answer /_ping; is dockerd hung?)` })
      const hijack = await rawExchange(gw.port, gw.bundle('alice'),
        'POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}', 2000)
      expect(hijack).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/)
      const cli = await docker(gw.port, gw.bundle('alice'), ['ps'], { timeoutMs: 20_000 })
      expect(cli.stderr).toContain('is not answering (ETIMEDOUT: the daemon accepts connections but does not answer /_ping; is dockerd hung?)')
      expect(gw.records().find((r) => r.auditID === res.headers['x-dockgate-request-id'])).toMatchObject({
        stage: 'Refused', code: 'DG_UPSTREAM_UNAVAILABLE', status: 502, request: { method: 'GET', path: '/containers/json' }
      })
      expect(inFlightDone).toBe(false)
      // A judged body gets the policy's answer first; an allowed one then gets the 502, unforwarded.
      const create = async (body: unknown, who: string): Promise<RawResponse> => await rawRequest(gw.port, gw.bundle(who), 'POST', '/v1.41/containers/create',
        { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const privileged = await create({ Image: 'x', HostConfig: { Privileged: true } }, 'carol')
      expect(privileged.status).toBe(403)
      expect(JSON.parse(privileged.body)).toEqual({ message: 'dockgate: ci may not create a privileged container' })
      const ordinary = await create({ Image: 'x' }, 'carol')
      expect(ordinary.status).toBe(502)
      expect(ordinary.body).toContain('does not answer /_ping')
      expect(gw.records().find((r) => r.auditID === ordinary.headers['x-dockgate-request-id'])).toMatchObject({ decision: 'allow', status: 502 })

      hung = false
      await waitFor(() => gw.logs().some((l) => l.msg.includes('answers again')), 10_000, 'the daemon to answer again')
      expect((await rawRequest(gw.port, gw.bundle('alice'), 'GET', '/v1.41/containers/json')).status).toBe(200)
      expect(inFlightDone).toBe(false)
      void inFlight.catch(() => {})
    } finally {
      await gw.close()
      await daemon.close()
    }
  }, 40_000)
})

describe('a daemon socket dockgate may not open', () => {
  it('says which user dockgate runs as and which group to join, answers 502 with the reason, and is not ready', async () => {
    const daemon = await startFakeDaemon((_req, res) => { res.end('OK') })
    const group = dockerGroup()
    if (runsAsRoot()) {
      // The usual setup: root:docker 0660; nobody is not in the docker group.
      chmodSync(join(daemon.socketPath, '..'), 0o755)
      chownSync(daemon.socketPath, 0, group.gid)
      chmodSync(daemon.socketPath, 0o660)
    } else {
      chmodSync(daemon.socketPath, 0o000)
    }
    const dir = await prepare(daemon.socketPath, POLICY, [['--cn', 'alice', '--ou', 'platform']], 'admin: 127.0.0.1:0\n')
    const asUser = runsAsRoot() ? { uid: NOBODY.uid, gid: NOBODY.gid } : {}
    if (runsAsRoot()) chownTree(dir, NOBODY.uid, NOBODY.gid)
    try {
      const served = serve(['serve', '--config', 'config.yaml'], dir, asUser)
      const port = await served.port()
      const expected = runsAsRoot()
        ? `permission denied: dockgate runs as user nobody (uid ${NOBODY.uid}), which is not in group ${group.name} that owns ${daemon.socketPath} (mode 0660); ` +
          `add it with \`usermod -aG ${group.name} nobody\` (or SupplementaryGroups=${group.name} in the systemd unit, group_add in compose) and restart dockgate`
        : `permission denied: ${daemon.socketPath} has mode 0000, which does not let its group`
      await waitFor(() => served.output().includes(expected), 10_000, 'the permission diagnosis')
      expect(served.output()).toContain(`the Docker daemon at unix://${daemon.socketPath} is not answering (EACCES)`)

      const cli = await docker(port, join(dir, 'certs', 'clients', 'alice'), ['version', '--format', '{{.Server.Version}}'])
      expect(cli.stderr).toContain('is not answering (EACCES: the gateway may not open the daemon socket; its operator must add dockgate\'s user to the socket\'s group)')
      const ready = await get(`${await served.admin()}/readyz`)
      expect(ready.status).toBe(503)
      expect(ready.body).toContain(runsAsRoot() ? `which is not in group ${group.name}` : 'has mode 0000')
      served.child.kill('SIGTERM')
      expect(await served.exited).toBe(0)
    } finally {
      await daemon.close()
    }
  })
})

