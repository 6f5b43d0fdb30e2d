/**
 * systemd socket activation, reproduced without systemd: the listening
 * socket is created first (as `dockgate.socket` does) and handed to
 * `dockgate serve` as fd 3 with LISTEN_FDS=1 and LISTEN_PID set to its own
 * pid (a shell execs into node, keeping its pid, as systemd does). A
 * connection made before dockgate runs waits in the backlog and is served;
 * `listen:` in the config is not used. With workers, they serve the
 * inherited socket through the primary.
 */
import { spawn } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, inject, it } from 'vitest'
import { docker } from '../support/clients.js'
import { killAll, prepare, serve } from '../support/cli.js'
import { CLI, waitFor } from '../support/live.js'

const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const stops: Array<() => void> = []
afterEach(() => {
  killAll()
  for (const stop of stops.splice(0)) stop()
})

/** A listening socket that nobody accepts on yet, as systemd holds it. */
async function listeningSocket (): Promise<{ fd: number; port: number; server: net.Server }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 16 }, resolve))
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  return { fd, port: (server.address() as net.AddressInfo).port, server }
}

async function activated (extra: string): Promise<{ port: number; dir: string; child: ReturnType<typeof spawn>; output: () => string; exited: Promise<number | null> }> {
  const dir = await prepare(socket, POLICY, [['--cn', 'alice', '--ou', 'platform']], extra)
  const { fd, port, server } = await listeningSocket()
  const child = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"', process.execPath, CLI, 'serve', '--config', 'config.yaml'], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe', fd], env: { ...process.env, DOCKGATE_LOG_LEVEL: 'info' }
  })
  stops.push(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  // dockgate holds its own copy of the socket now; with ours closed, only dockgate can accept on it.
  await new Promise((resolve) => server.close(resolve))
  return { port, dir, child, output: () => output, exited }
}

describe.skipIf(socket === '')('systemd socket activation (LISTEN_FDS)', () => {
  it('serves the inherited socket, not `listen:`, and says so', async () => {
    const gw = await activated('')
    const early = docker(gw.port, join(gw.dir, 'certs', 'clients', 'alice'), ['version', '--format', '{{.Server.Version}}'])
    await waitFor(() => gw.output().includes('"msg":"dockgate listening"'), 20_000, 'dockgate to listen')
    expect(gw.output()).toContain('"socketActivated":true')
    expect(gw.output()).toContain(`"address":"127.0.0.1:${gw.port}"`)
    expect((await early).code).toBe(0)
    gw.child.kill('SIGTERM')
    expect(await gw.exited).toBe(0)
  })

  it('lets two workers serve the inherited socket', async () => {
    const gw = await activated('workers: 2\n')
    await waitFor(() => (gw.output().match(/"msg":"worker \d listening"/g) ?? []).length === 2, 20_000, 'both workers')
    for (let i = 0; i < 4; i++) {
      expect((await docker(gw.port, join(gw.dir, 'certs', 'clients', 'alice'), ['version', '--format', '{{.Server.Version}}'])).code).toBe(0)
    }
    gw.child.kill('SIGTERM')
    expect(await gw.exited).toBe(0)
  })

  it('refuses to guess when systemd passes more than one socket', async () => {
    const dir = await prepare(socket, POLICY, [])
    const served = serve(['serve', '--config', 'config.yaml'], dir, { env: { LISTEN_FDS: '2', LISTEN_PID: '0' } })
    // LISTEN_PID 0 is not this process: the variables are ignored and `listen:` is used.
    await served.port()
    served.child.kill('SIGTERM')
    expect(await served.exited).toBe(0)
    const two = spawn('/bin/sh', ['-c', 'LISTEN_PID=$$ LISTEN_FDS=2 exec "$0" "$@"', process.execPath, CLI, 'serve', '--config', 'config.yaml'], { cwd: dir })
    let output = ''
    two.stderr.on('data', (c: Buffer) => { output += c.toString() })
    expect(await new Promise((resolve) => two.on('close', resolve))).toBe(1)
    expect(output).toContain('dockgate: not started: systemd passed 2 sockets (LISTEN_FDS=2); dockgate takes exactly one, the TLS port')
  })
})
