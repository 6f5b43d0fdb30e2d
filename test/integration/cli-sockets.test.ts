/**
 * Socket listeners as an operator runs them: the built CLI with a config
 * that has `sockets:` and no TLS listener, real signals. The socket file is
 * created at start and removed at a graceful stop; one left by a killed
 * dockgate is replaced; a path held by something else (a regular file, a
 * folder, a live socket) is refused and left exactly as it was; with
 * `workers: 2` next to a TLS port, one process serves the sockets.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { docker, dockerOn } from '../support/clients.js'
import { killAll, prepare, serve, type Served } from '../support/cli.js'
import { waitFor } from '../support/live.js'

const socket = inject('dockerSocket')

const POLICY = `version: 1
identities:
  - match: { socket: tool }
    teams: [tool]
  - match: { ou: platform }
    teams: [platform]
teams:
  tool:
    allow: ["GET,HEAD /_ping", "GET /version"]
  platform:
    allow: ["GET,HEAD /_ping", "GET /version"]
`

/** A folder with the policy and a sockets-only config serving `tool` at run/tool.sock. */
function socketsOnly (extra = ''): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dg-cli-sock-'))
  mkdirSync(join(dir, 'run'))
  writeFileSync(join(dir, 'policy.yaml'), POLICY)
  writeFileSync(join(dir, 'config.yaml'), [
    `upstream: unix://${socket}`,
    'sockets:',
    '  - path: run/tool.sock',
    '    identity: tool',
    'policy: policy.yaml',
    'audit:',
    '  file: audit/audit.jsonl',
    extra
  ].join('\n'))
  return { dir, path: join(dir, 'run', 'tool.sock') }
}

async function listening (served: Served): Promise<void> {
  await waitFor(() => served.logs().some((l) => l.msg === 'dockgate listening') || served.child.exitCode !== null, 30_000, 'dockgate to listen')
  if (served.child.exitCode !== null) throw new Error(`dockgate exited:\n${served.output()}`)
}

const version = async (path: string): Promise<string> => (await dockerOn(path, ['version', '--format', '{{.Server.APIVersion}}'])).stdout.trim()

describe.skipIf(socket === '')('socket listeners at start and stop, the built CLI', () => {
  afterEach(() => { killAll() })

  it('creates the socket at start, serves it with no TLS listener, and removes it on SIGTERM', async () => {
    const { dir, path } = socketsOnly()
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    await listening(served)
    expect(served.logs().find((l) => l.msg === 'dockgate listening')).toMatchObject({ address: null, sockets: [path] })
    expect(await version(path)).toBe('1.41')
    served.child.kill('SIGTERM')
    expect(await served.exited).toBe(0)
    expect(existsSync(path)).toBe(false)
  })

  it('replaces the stale socket a killed dockgate left behind', async () => {
    const { dir, path } = socketsOnly()
    const first = serve(['serve', '--config', 'config.yaml'], dir)
    await listening(first)
    first.child.kill('SIGKILL')
    await first.exited
    expect(lstatSync(path).isSocket()).toBe(true)
    expect((await dockerOn(path, ['version'])).code).not.toBe(0)
    const second = serve(['serve', '--config', 'config.yaml'], dir)
    await listening(second)
    expect(await version(path)).toBe('1.41')
  })

  it('refuses to start over a regular file or a folder at the path, naming it, and never touches it', async () => {
    const { dir, path } = socketsOnly()
    writeFileSync(path, 'not yours\n')
    const overFile = serve(['serve', '--config', 'config.yaml'], dir)
    expect(await overFile.exited).toBe(1)
    expect(overFile.output()).toContain(`dockgate: not started: DG_LISTEN_FAILED socket listener: ${path} exists and is not a socket (a regular file); dockgate never removes or overwrites it`)
    expect(readFileSync(path, 'utf8')).toBe('not yours\n')
    const other = socketsOnly()
    mkdirSync(other.path)
    const overFolder = serve(['serve', '--config', 'config.yaml'], other.dir)
    expect(await overFolder.exited).toBe(1)
    expect(overFolder.output()).toContain(`${other.path} exists and is not a socket (a folder)`)
    expect(lstatSync(other.path).isDirectory()).toBe(true)
  })

  it('refuses to take a socket another live process answers on, which keeps serving', async () => {
    const { dir, path } = socketsOnly()
    // dockgate's probe connects and hangs up at once: the answer may meet a closed socket.
    const squatter: Server = createServer((c) => { c.on('error', () => {}); c.end('mine') })
    await new Promise<void>((resolve) => { squatter.listen(path, resolve) })
    try {
      const served = serve(['serve', '--config', 'config.yaml'], dir)
      expect(await served.exited).toBe(1)
      expect(served.output()).toContain(`another process is listening on ${path}`)
      expect(lstatSync(path).isSocket()).toBe(true)
      expect(squatter.listening).toBe(true)
    } finally {
      await new Promise((resolve) => { squatter.close(resolve) })
    }
  })

  it('on reload applies the policy to a running socket, keeps its listeners, and says a changed sockets: needs a restart', async () => {
    const { dir, path } = socketsOnly()
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    await listening(served)
    writeFileSync(join(dir, 'policy.yaml'), POLICY.replace('allow: ["GET,HEAD /_ping", "GET /version"]', 'allow: ["GET,HEAD /_ping"]'))
    writeFileSync(join(dir, 'config.yaml'), readFileSync(join(dir, 'config.yaml'), 'utf8').replace('sockets:', 'sockets:\n  - path: run/second.sock\n    identity: second'))
    served.child.kill('SIGHUP')
    await waitFor(() => served.logs().some((l) => String(l.msg).startsWith('reloaded')), 20_000, 'the reload')
    expect(served.logs().find((l) => l.key === 'sockets')?.msg).toMatch(/^sockets changed to .*second\.sock.* but dockgate still uses .*: restart dockgate to apply it/)
    expect(existsSync(join(dir, 'run', 'second.sock'))).toBe(false)
    expect((await dockerOn(path, ['version'])).stderr).toContain('dockgate: tool may not GET /version')
  })

  it('names a missing folder instead of failing obscurely', async () => {
    const { dir } = socketsOnly()
    writeFileSync(join(dir, 'config.yaml'), readFileSync(join(dir, 'config.yaml'), 'utf8').replace('run/tool.sock', 'missing/tool.sock'))
    const check = serve(['serve', '--config', 'config.yaml', '--check'], dir)
    expect(await check.exited).toBe(1)
    expect(check.output()).toContain(`the folder ${join(dir, 'missing')} for ${join(dir, 'missing', 'tool.sock')} does not exist`)
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    expect(await served.exited).toBe(1)
    expect(served.output()).toContain(`the folder ${join(dir, 'missing')} for tool.sock does not exist`)
  })

  it('with workers: 2 next to the TLS port, serves the sockets from one worker and removes them when the cluster stops', async () => {
    const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform']],
      'workers: 2\nsockets:\n  - path: tool.sock\n    identity: tool\n')
    const served = serve(['serve', '--config', 'config.yaml'], dir)
    const port = await served.port()
    const path = join(dir, 'tool.sock')
    expect(await version(path)).toBe('1.41')
    expect((await docker(port, join(dir, 'certs', 'clients', 'alice'), ['version', '--format', '{{.Server.APIVersion}}'])).stdout.trim()).toBe('1.41')
    served.child.kill('SIGTERM')
    expect(await served.exited).toBe(0)
    expect(existsSync(path)).toBe(false)
  })
})
