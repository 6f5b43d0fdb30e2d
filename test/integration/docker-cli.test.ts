/**
 * The stock docker CLI, pointed at dockgate with a platform certificate,
 * works normally against a real daemon: every command a person uses daily,
 * including the streamed and hijacked ones the socket proxies break.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { certificateOf, startGateway, type TestGateway } from '../support/gateway.js'
import { docker, dockerEnv, type CliResult } from '../support/clients.js'

const socket = inject('dockerSocket')
const registry = inject('registry')
const IMAGE = 'dockgate-test/busybox:latest'
const tag = Math.random().toString(36).slice(2, 8)

describe.skipIf(socket === '')('docker CLI through dockgate, platform certificate, real daemon', () => {
  let gw: TestGateway
  const cli = async (args: string[], options?: { input?: string; timeoutMs?: number }): Promise<CliResult> =>
    await docker(gw.port, gw.pki.bundle('alice'), args, options)
  const ok = async (args: string[], options?: { input?: string }): Promise<string> => {
    const result = await cli(args, options)
    expect(result.stderr.replace(/DEPRECATED[\s\S]*?variable\.\n\n?/, '')).toBe('')
    expect(result.code).toBe(0)
    return result.stdout
  }

  beforeAll(async () => { gw = await startGateway({ socket }) })
  afterAll(async () => {
    await cli(['rm', '-f', `dg-${tag}-bg`])
    await gw?.close()
  })

  it('docker version shows the daemon behind the gateway', async () => {
    const out = await ok(['version', '--format', '{{.Server.APIVersion}}'])
    expect(out.trim()).toMatch(/^1\.\d+$/)
  })

  it('docker info, ps and images answer', async () => {
    expect(await ok(['info', '--format', '{{.OSType}}'])).toBe('linux\n')
    await ok(['ps', '-a'])
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(IMAGE)
  })

  it('docker run --rm prints the output and exits with the container status', async () => {
    expect(await ok(['run', '--rm', '--network', 'none', IMAGE, 'echo', 'hello from a container'])).toBe('hello from a container\n')
    const failed = await cli(['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'exit 3'])
    expect(failed.code).toBe(3)
  })

  it('echo hi | docker run -i --rm IMAGE cat prints hi and exits 0 (half-close both ways)', async () => {
    expect(await ok(['run', '-i', '--rm', '--network', 'none', IMAGE, 'cat'], { input: 'hi\n' })).toBe('hi\n')
  })

  it('docker exec and exec -i reach a running container', async () => {
    await ok(['run', '-d', '--name', `dg-${tag}-bg`, '--network', 'none', IMAGE, 'sleep', '600'])
    expect(await ok(['exec', `dg-${tag}-bg`, 'echo', 'exec works'])).toBe('exec works\n')
    expect(await ok(['exec', '-i', `dg-${tag}-bg`, 'wc', '-c'], { input: 'twelve bytes' })).toBe('12\n')
  })

  it('docker logs -f delivers lines while the container is still running', async () => {
    const name = `dg-${tag}-logs`
    await ok(['run', '-d', '--name', name, '--network', 'none', IMAGE, 'sh', '-c', 'echo first; sleep 4; echo second'])
    const started = Date.now()
    const firstLineAt = await new Promise<number>((resolve, reject) => {
      const child = spawn('docker', ['logs', '-f', name], { env: dockerEnv(gw.port, gw.pki.bundle('alice')) })
      child.stdout.on('data', (chunk: Buffer) => { if (chunk.toString().includes('first')) resolve(Date.now() - started) })
      child.on('close', () => { reject(new Error('logs -f ended before the first line')) })
    })
    expect(firstLineAt).toBeLessThan(3000)
    await cli(['rm', '-f', name])
  })

  it('docker events streams events as they happen', async () => {
    const name = `dg-${tag}-ev`
    await ok(['run', '-d', '--name', name, '--network', 'none', IMAGE, 'sleep', '600'])
    const child = spawn('docker', ['events', '--filter', `container=${name}`, '--format', '{{.Action}}'], { env: dockerEnv(gw.port, gw.pki.bundle('alice')) })
    let seen = ''
    child.stdout.on('data', (c: Buffer) => { seen += c.toString() })
    // The stream is open once the gateway has audited its start (RequestReceived comes with the response head).
    await expect.poll(() => gw.records().some((r) => r.request?.path === '/events' && r.stage === 'RequestReceived'), { timeout: 10_000 }).toBe(true)
    await ok(['pause', name])
    await expect.poll(() => seen, { timeout: 5000 }).toContain('pause')
    child.kill()
    await cli(['rm', '-f', name])
  })

  it('docker build (classic builder) uploads the context and streams progress', async () => {
    const context = mkdtempSync(join(tmpdir(), 'dg-build-'))
    writeFileSync(join(context, 'Dockerfile'), `FROM ${IMAGE}\nCOPY payload.txt /payload.txt\nRUN cat /payload.txt > /copied.txt\nCMD ["cat", "/copied.txt"]\n`)
    writeFileSync(join(context, 'payload.txt'), 'built through dockgate\n')
    await ok(['build', '-q', '-t', `dockgate-test/built:${tag}`, context])
    expect(await ok(['run', '--rm', '--network', 'none', `dockgate-test/built:${tag}`])).toBe('built through dockgate\n')
    await ok(['rmi', `dockgate-test/built:${tag}`])
  })

  it('docker cp copies into and out of a container', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-cp-'))
    writeFileSync(join(dir, 'in.txt'), 'copied in\n')
    await ok(['cp', join(dir, 'in.txt'), `dg-${tag}-bg:/tmp/in.txt`])
    expect(await ok(['exec', `dg-${tag}-bg`, 'cat', '/tmp/in.txt'])).toBe('copied in\n')
    await ok(['cp', `dg-${tag}-bg:/tmp/in.txt`, join(dir, 'out.txt')])
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('copied in\n')
  })

  it('docker export streams the container filesystem as a tar', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dg-export-'))
    await ok(['export', '-o', join(dir, 'fs.tar'), `dg-${tag}-bg`])
    const tar = readFileSync(join(dir, 'fs.tar'))
    expect(tar.length).toBeGreaterThan(500_000)
    expect(tar.includes(Buffer.from('bin/busybox'))).toBe(true)
  })

  it('docker volume create and rm', async () => {
    expect(await ok(['volume', 'create', `dg-${tag}-vol`])).toBe(`dg-${tag}-vol\n`)
    expect(await ok(['volume', 'rm', `dg-${tag}-vol`])).toBe(`dg-${tag}-vol\n`)
  })

  it.skipIf(registry === '')('docker push and pull against a local registry', async () => {
    const ref = `${registry}/dockgate-it:${tag}`
    await ok(['tag', IMAGE, ref])
    expect(await ok(['push', ref])).toMatch(/digest: sha256:/)
    await ok(['rmi', ref])
    expect(await ok(['pull', ref])).toContain(ref)
    await ok(['rmi', ref])
  })

  it('audits each request with identity, rule, status and bytes, and hijacks at open and close', () => {
    const records = gw.records()
    const create = records.find((r) => r.request?.path === '/containers/create' && r.stage === 'ResponseComplete')
    expect(create).toMatchObject({
      decision: 'allow', status: 201, identity: { teams: ['platform'] }, rule: { text: '* /**', team: 'platform' }
    })
    expect(certificateOf(create)?.subject).toContain('CN=alice')
    expect(create?.bytesIn).toBeGreaterThan(0)
    const attach = records.filter((r) => r.request?.upgrade === 'tcp' && r.request.path?.endsWith('/attach'))
    expect(attach.map((r) => r.stage)).toEqual(expect.arrayContaining(['RequestReceived', 'ResponseComplete']))
    const closed = attach.find((r) => r.stage === 'ResponseComplete')
    expect(closed?.status).toBe(101)
    expect(closed?.sessionMs).toBeGreaterThanOrEqual(0)
    expect(new Set(records.map((r) => r.auditID)).size).toBe(records.filter((r) => r.stage !== 'RequestReceived').length)
  })
})
