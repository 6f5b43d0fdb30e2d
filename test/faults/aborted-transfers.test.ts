/**
 * Fault: a client killed (SIGKILL) halfway through a large transfer: a
 * `docker load` of a 200 MiB image tarball (an image of one 200 MiB layer
 * of random bytes, made with `docker import` and `docker save` straight on
 * the daemon), and a `docker export` of a container holding a 200 MiB file.
 *
 * Thresholds: dockgate stays up and serves; its descriptors return to the
 * baseline (+3) within 15 s; each request has exactly one record, and
 * exactly one record marks it `aborted: true`; the daemon shows no image
 * from the cut load (`docker images -a` on the daemon socket is unchanged).
 */
import { execFile, spawn } from 'node:child_process'
import { createReadStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { AuditRecord } from '../../src/audit/record.js'
import { dockerEnv, rawRequest } from '../support/clients.js'
import { figure, quietFds, settledFds, startServed, timeUntil, direct, IMAGE, type Served } from './support.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const NAME = 'client killed mid-transfer'
const MIB = 1024 * 1024
const SIZE = 200 * MIB
const FD_MARGIN = 3
const tag = `dockgate-fault/big:${process.pid}`
const exported = `dgf-export-${process.pid}`

/** Runs the docker CLI through dockgate and SIGKILLs it once `halfway` says so; resolves with the bytes moved by then. */
async function killHalfway (served: Served, args: readonly string[], feed: string | null): Promise<number> {
  const child = spawn('docker', args, { env: dockerEnv(served.port, served.bundle), stdio: ['pipe', 'pipe', 'ignore'] })
  const closed = new Promise<void>((resolve) => child.on('close', () => { resolve() }))
  let moved = 0
  await new Promise<void>((resolve) => {
    const cut = (): void => { child.kill('SIGKILL'); resolve() }
    if (feed !== null) {
      const input = createReadStream(feed)
      input.on('data', (chunk) => { moved += chunk.length; if (moved >= SIZE / 2) { input.destroy(); cut() } })
      input.pipe(child.stdin)
      child.stdin.on('error', () => {})
    } else {
      child.stdin.end()
      child.stdout.on('data', (chunk: Buffer) => { moved += chunk.length; if (moved >= SIZE / 2) cut() })
    }
    child.on('close', () => { resolve() })
  })
  await closed
  return moved
}

/** The records of requests to `path`, by auditID. */
function byRequest (records: readonly AuditRecord[], path: RegExp): Map<string, AuditRecord[]> {
  const out = new Map<string, AuditRecord[]>()
  for (const r of records) {
    if (!path.test(r.request?.path ?? '')) continue
    out.set(r.auditID, [...(out.get(r.auditID) ?? []), r])
  }
  return out
}

describe.skipIf(socket === '')('fault: a client killed halfway through a 200 MiB load and export', () => {
  let dir = ''
  let tarball = ''
  let served: Served
  let imagesBefore: string[] = []

  beforeAll(async () => {
    dir = mkdtempSync('/tmp/dgf-big.')
    const root = join(dir, 'root')
    mkdirSync(root)
    await run('sh', ['-c', `head -c ${SIZE} /dev/urandom > "$0/big" && tar -C "$0" -c . | docker -H "unix://$1" import - "$2" >/dev/null`, root, socket, tag], { timeout: 180_000 })
    rmSync(root, { recursive: true })
    tarball = join(dir, 'big.tar')
    await direct(socket, ['save', '-o', tarball, tag])
    await direct(socket, ['rmi', tag])
    await direct(socket, ['run', '--name', exported, '--network', 'none', IMAGE, 'sh', '-c', `head -c ${SIZE} /dev/urandom > /big`])
    imagesBefore = (await direct(socket, ['images', '-a', '--no-trunc', '-q'])).split('\n').filter((l) => l !== '').sort()
    served = await startServed({ socket })
  }, 300_000)
  afterAll(async () => {
    await served?.stop()
    await direct(socket, ['rm', '-f', exported]).catch(() => '')
    await direct(socket, ['rmi', '-f', tag]).catch(() => '')
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  /**
   * Kills the docker CLI halfway through `args` (fed `feed`), then checks
   * what both cases promise: dockgate serves on, gives its descriptors
   * back, and records the one request (matching `path`) once, aborted.
   * Returns that request's records.
   */
  const cutHalfway = async (what: string, moved: string, args: readonly string[], feed: string | null, path: RegExp): Promise<AuditRecord[]> => {
    const baseline = await quietFds(served)
    const bytes = await killHalfway(served, args, feed)
    const recorded = await timeUntil(() => [...byRequest(served.records(), path).values()][0]?.some((r) => r.stage === 'ResponseComplete') === true, 15_000)
    const after = await settledFds(served, baseline + FD_MARGIN)
    const ping = await rawRequest(served.port, served.bundle, 'GET', '/_ping')
    const requests = byRequest(served.records(), path)
    const records = [...requests.values()][0] ?? []

    figure(NAME, `${what}: MiB ${moved} before the kill`, bytes / MIB, 'MiB', null)
    figure(NAME, `${what}: recorded after the kill`, (recorded ?? NaN) / 1000, 's', '15 s')
    figure(NAME, `${what}: descriptors after (baseline ${baseline})`, after, '', `baseline + ${FD_MARGIN}`)
    expect(bytes).toBeGreaterThanOrEqual(SIZE / 2)
    expect(recorded).not.toBeNull()
    expect(ping.status).toBe(200)
    expect(after).toBeLessThanOrEqual(baseline + FD_MARGIN)
    expect(requests.size).toBe(1)
    expect(records.filter((r) => r.aborted === true)).toHaveLength(1)
    expect(records.filter((r) => r.stage === 'ResponseComplete')).toHaveLength(1)
    return records
  }

  it('a docker load cut halfway: dockgate serves on, gives its descriptors back, records the request once as aborted, and no image appears', async () => {
    expect(statSync(tarball).size).toBeGreaterThan(SIZE)
    const records = await cutHalfway('docker load', 'sent', ['load'], tarball, /^\/images\/load$/)
    const imagesAfter = (await direct(socket, ['images', '-a', '--no-trunc', '-q'])).split('\n').filter((l) => l !== '').sort()
    expect(records.find((r) => r.stage === 'ResponseComplete')?.bytesIn ?? 0).toBeGreaterThan(0)
    expect(imagesAfter).toEqual(imagesBefore)
    await expect(direct(socket, ['image', 'inspect', tag])).rejects.toThrow(/No such image/)
  })

  it('a docker export cut halfway: dockgate serves on, gives its descriptors back and records the request once as aborted', async () => {
    await cutHalfway('docker export', 'received', ['export', exported], null, /\/export$/)
    expect(served.child.exitCode).toBeNull()
  })
})
