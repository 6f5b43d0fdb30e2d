/**
 * Fault: dockgate started with a descriptor limit far below what its
 * connection limits need (`ulimit -n 256`, hard and soft: Node raises the
 * soft limit to the hard one), then 300 mTLS connections at once, each
 * sending a request and holding its connection (from ten loopback sources,
 * 30 each, so no source meets limits.unverifiedPerAddress and every refusal
 * is the descriptor limit's).
 *
 * Thresholds: no crash; the start warns that the limit is too low, and the
 * log says so again when the process runs out of descriptors (libuv
 * accepts and closes what is over the limit, which nobody else reports);
 * once the connections close, descriptors are back to the baseline (+3)
 * and the docker CLI is served.
 */
import net from 'node:net'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { docker, tlsOptions } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { figure, quietFds, settledFds, startServed, type Served } from './support.js'

const socket = inject('dockerSocket')
const NAME = 'ulimit -n 256'
const NOFILE = 256
const SOURCES = Array.from({ length: 10 }, (_, i) => `127.0.0.${i + 2}`)
const PER_SOURCE = 30
const FD_MARGIN = 3

/** One connection's fate: answered (its status line), or closed or reset before an answer. */
interface Attempt { readonly socket: tls.TLSSocket; outcome: string | null }

function attempt (served: Served, from: string): Attempt {
  const tcp = net.connect({ host: '127.0.0.1', port: served.port, localAddress: from })
  const s = tls.connect({ socket: tcp, ...tlsOptions(served.bundle) }, () => {
    s.write('GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n')
  })
  const a: Attempt = { socket: s, outcome: null }
  let got = ''
  s.on('data', (c: Buffer) => {
    got += c.toString('latin1')
    if (a.outcome === null && got.includes('\r\n\r\n')) a.outcome = got.slice(0, got.indexOf('\r\n'))
  })
  tcp.on('error', () => {})
  s.on('error', (err: NodeJS.ErrnoException) => { a.outcome ??= `error ${err.code ?? err.message}` })
  s.on('close', () => { a.outcome ??= 'closed before an answer' })
  return a
}

describe.skipIf(socket === '')('fault: a descriptor limit too low for the connection limits', () => {
  let served: Served
  const attempts: Attempt[] = []
  beforeAll(async () => { served = await startServed({ socket, nofile: NOFILE }) })
  afterAll(async () => {
    for (const a of attempts) a.socket.destroy()
    await served?.stop()
  })

  it('survives 300 connections at once, says why it refuses some, and serves normally once they close', async () => {
    const limits = await served.metric('process_max_fds')
    const warnedAtStart = served.logs().find((l) => l.level === 40 && l.msg.startsWith(`this process may open ${NOFILE} files`))
    const baseline = await quietFds(served)
    let peak = baseline
    const sampler = setInterval(() => { peak = Math.max(peak, served.fds()) }, 100)

    attempts.push(...SOURCES.flatMap((from) => Array.from({ length: PER_SOURCE }, () => attempt(served, from))))
    await waitFor(() => attempts.every((a) => a.outcome !== null), 30_000, 'every connection to be answered or closed')
    const outcomes = new Map<string, number>()
    for (const a of attempts) outcomes.set(a.outcome ?? '', (outcomes.get(a.outcome ?? '') ?? 0) + 1)
    const answered = outcomes.get('HTTP/1.1 200 OK') ?? 0
    await waitFor(() => served.logs().some((l) => l.msg.includes('file descriptors')), 5000, 'the log to say descriptors ran out')
    const ranOut = served.logs().find((l) => l.msg.includes('file descriptors'))
    for (const a of attempts) a.socket.destroy()
    const after = await settledFds(served, baseline + FD_MARGIN)
    clearInterval(sampler)
    const cli = await docker(served.port, served.bundle, ['version', '--format', '{{.Server.Version}}'])

    figure(NAME, 'connections answered', answered, `of ${attempts.length}`, null)
    figure(NAME, 'connections closed or reset unanswered', attempts.length - answered, `of ${attempts.length}`, null)
    figure(NAME, 'descriptors: baseline', baseline, '', null)
    figure(NAME, 'descriptors: peak', peak, '', `${NOFILE} (the limit)`)
    figure(NAME, 'descriptors: after', after, '', `baseline + ${FD_MARGIN}`)
    process.stdout.write(`fault: ${NAME}: outcomes ${JSON.stringify(Object.fromEntries(outcomes))}\n`)
    process.stdout.write(`fault: ${NAME}: logged: ${ranOut?.msg ?? '(nothing)'}\n`)

    expect(limits).toBe(NOFILE)
    expect(warnedAtStart).toBeDefined()
    expect(served.child.exitCode).toBeNull()
    expect(peak).toBeLessThanOrEqual(NOFILE)
    // Some were served, and the rest were what the limit could not take.
    expect(answered).toBeGreaterThan(0)
    expect(answered).toBeLessThan(attempts.length)
    expect(ranOut?.level).toBe(40)
    expect(ranOut?.msg).toMatch(new RegExp(`of its ${NOFILE} file descriptors`))
    expect(after).toBeLessThanOrEqual(baseline + FD_MARGIN)
    expect(cli.stderr).toBe('')
    expect(cli.code).toBe(0)
  })
})
