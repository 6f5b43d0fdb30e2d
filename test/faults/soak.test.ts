/**
 * A soak: eight clients (dockerode over mTLS, each a loop of one kind of
 * work: ps, inspect, run --rm, logs, exec, events, cp, and version/info/
 * images/ping) for DOCKGATE_SOAK_SECONDS (180 unless set; CI uses the
 * default, a developer may run it shorter). Every API call a client makes
 * is counted where it is dialled, so the audit trail can be held to it.
 *
 * Thresholds: 0 failed requests; resident memory grows by at most 30 MiB
 * from the end of the warm-up (a sixth of the run, at most 20 s) to after
 * the clients stop and their connections close; descriptors are back to
 * their level before the run (+3); exactly one final record (ResponseComplete
 * or Refused) per request sent; `dockgate audit verify` passes.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import Docker from 'dockerode'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { auditVerify, direct, figure, IMAGE, quietFds, startServed, type Served } from './support.js'

const socket = inject('dockerSocket')
const NAME = 'soak'
const SECONDS = Number(process.env.DOCKGATE_SOAK_SECONDS ?? '180')
const WARMUP_S = Math.min(20, SECONDS / 6)
const RSS_GROWTH_MB = 30
const FD_MARGIN = 3
const label = `dgf-soak=${process.pid}`
const target = `dgf-soak-${process.pid}`

async function drain (stream: AsyncIterable<Buffer | string>): Promise<number> {
  let bytes = 0
  for await (const chunk of stream) bytes += chunk.length
  return bytes
}

/** dockerode on `served` with every dial counted. */
function client (served: Served, counter: { dials: number }): Docker {
  const read = (f: string): Buffer => readFileSync(join(served.bundle, f))
  const docker = new Docker({ host: '127.0.0.1', port: served.port, protocol: 'https', ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') })
  const modem = docker.modem as unknown as { dial: (options: unknown, callback: unknown) => unknown }
  const dial = modem.dial.bind(modem)
  modem.dial = (options, callback) => { counter.dials += 1; return dial(options, callback) }
  return docker
}

/** The eight kinds of work; each resolves when one round is done and throws on anything unexpected. */
function work (docker: Docker): Record<string, () => Promise<void>> {
  const c = docker.getContainer(target)
  return {
    ps: async () => { if ((await docker.listContainers({ all: true })).length === 0) throw new Error('ps: empty') },
    inspect: async () => { if ((await c.inspect()).State.Running !== true) throw new Error('inspect: not running') },
    'run --rm': async () => {
      const run = await docker.createContainer({ Image: IMAGE, Cmd: ['true'], Labels: { 'dgf-soak': String(process.pid) }, HostConfig: { NetworkMode: 'none' } })
      await run.start()
      const waited = await run.wait() as { StatusCode: number }
      await run.remove()
      if (waited.StatusCode !== 0) throw new Error(`run: exit ${waited.StatusCode}`)
    },
    logs: async () => { if ((await c.logs({ stdout: true, stderr: true, tail: 20 })).length === 0) throw new Error('logs: empty') },
    exec: async () => {
      const exec = await c.exec({ Cmd: ['echo', 'hi'], AttachStdout: true, AttachStderr: true })
      const stream = await exec.start({ hijack: true, stdin: false })
      const bytes = await drain(stream)
      stream.destroy()
      const inspected = await exec.inspect()
      if (bytes === 0 || inspected.ExitCode !== 0) throw new Error(`exec: ${bytes} bytes, exit ${inspected.ExitCode}`)
    },
    events: async () => {
      const now = Math.floor(Date.now() / 1000)
      await drain(await docker.getEvents({ since: now - 5, until: now }))
    },
    cp: async () => {
      await c.infoArchive({ path: '/etc/passwd' })
      if (await drain(await c.getArchive({ path: '/etc/passwd' })) === 0) throw new Error('cp: empty')
    },
    'version, info, images, ping': async () => {
      await docker.version()
      await docker.info()
      await docker.listImages()
      await docker.ping()
    }
  }
}

describe.skipIf(socket === '')(`fault: a ${SECONDS} s soak of eight mixed clients`, () => {
  let served: Served
  beforeAll(async () => {
    await direct(socket, ['run', '-d', '--name', target, '--network', 'none', IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do echo tick; sleep 1; done'])
    served = await startServed({ socket })
  })
  afterAll(async () => {
    await served?.stop()
    await direct(socket, ['rm', '-f', target]).catch(() => '')
    const left = (await direct(socket, ['ps', '-aq', '--filter', `label=${label}`]).catch(() => '')).split('\n').filter((l) => l !== '')
    if (left.length > 0) await direct(socket, ['rm', '-f', ...left]).catch(() => '')
  })

  it('fails no request, keeps memory and descriptors flat, and writes one record per request', async () => {
    const fdsBefore = await quietFds(served)
    const rssStart = served.rssMb()
    const counter = { dials: 0 }
    const docker = client(served, counter)
    const failures: string[] = []
    const rounds = new Map<string, number>()
    const end = Date.now() + SECONDS * 1000
    let rssPeak = rssStart
    const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, served.rssMb()) }, 1000)
    let rssWarm = NaN
    const warm = setTimeout(() => { rssWarm = served.rssMb() }, WARMUP_S * 1000)
    await Promise.all(Object.entries(work(docker)).map(async ([kind, round]) => {
      while (Date.now() < end) {
        await round().catch((err: unknown) => { failures.push(`${kind}: ${(err as Error).message}`) })
        rounds.set(kind, (rounds.get(kind) ?? 0) + 1)
      }
    }))
    clearTimeout(warm)
    clearInterval(sampler)
    // Let every kept-alive connection go: dockgate closes idle ones after 5 s.
    const fdsAfter = await quietFds(served, 30_000)
    const rssAfter = served.rssMb()
    const records = served.records()
    const finals = records.filter((r) => r.stage === 'ResponseComplete' || r.stage === 'Refused')
    const perRequest = new Map<string, number>()
    for (const r of finals) perRequest.set(r.auditID, (perRequest.get(r.auditID) ?? 0) + 1)
    const verified = await auditVerify(served)

    figure(NAME, 'requests sent', counter.dials, '', null)
    figure(NAME, 'rounds', [...rounds.values()].reduce((a, b) => a + b, 0), '', null)
    process.stdout.write(`fault: ${NAME}: rounds by client ${JSON.stringify(Object.fromEntries(rounds))}\n`)
    figure(NAME, 'failed requests', failures.length, '', '0')
    figure(NAME, 'final records (ResponseComplete + Refused)', finals.length, '', `${counter.dials} (one per request)`)
    figure(NAME, 'RSS before the run', rssStart, 'MiB', null)
    figure(NAME, `RSS after ${WARMUP_S.toFixed(0)} s of warm-up`, rssWarm, 'MiB', null)
    figure(NAME, 'RSS peak', rssPeak, 'MiB', null)
    figure(NAME, 'RSS after settling', rssAfter, 'MiB', null)
    figure(NAME, 'RSS growth from warm-up to settled', rssAfter - rssWarm, 'MiB', `${RSS_GROWTH_MB} MiB`)
    figure(NAME, `descriptors before ${fdsBefore}, after`, fdsAfter, '', `before + ${FD_MARGIN}`)

    expect(failures.slice(0, 10)).toEqual([])
    expect(counter.dials).toBeGreaterThan(SECONDS * 4)
    expect([...rounds.keys()]).toHaveLength(8)
    expect(finals).toHaveLength(counter.dials)
    expect([...perRequest.values()].every((n) => n === 1)).toBe(true)
    expect(finals.filter((r) => r.stage === 'Refused')).toEqual([])
    expect(rssAfter - rssWarm).toBeLessThanOrEqual(RSS_GROWTH_MB)
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + FD_MARGIN)
    expect(verified.code).toBe(0)
    expect(served.child.exitCode).toBeNull()
  }, (SECONDS + 180) * 1000)
})
