#!/usr/bin/env node
// `npm run bench`: dockgate side by side, in ONE run with interleaved rounds,
// with a bare Node mTLS forwarder (the floor of this stack), dockerd's own
// TLS listener (the reference), HAProxy with mTLS (the peer) and the bare
// daemon socket, all in front of one private dockerd started for the run.
// Absolute numbers on a shared machine are noise; the ratios are the result.
// Every figure is printed beside its goal (issue 12, lib/goals.mjs) and all
// of it is written as JSON.
//
//   npm run bench -- [--quick] [--json FILE] [--seconds S] [--rounds N]
//
// --quick: a few minutes (2 s x 2 rounds, 64 MiB transfers, 256 MiB upload
// for the RSS figure); the default full run takes about 15 minutes.
// Needs root (dockerd), dockerd and haproxy on PATH, and `npm run build`.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { daemon, dir, pki, rssMb, startBare, startDockerd, startDockgate, startHaproxy, stopAll } from './lib/setup.mjs'
import { keepAlive, newConnections, openStreams } from './lib/load.mjs'
import { download, upload } from './lib/transfer.mjs'
import { decisionCosts } from './lib/decision.mjs'
import { ownWork } from './lib/own-work.mjs'
import { verdict } from './lib/goals.mjs'

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string', default: resolve(import.meta.dirname, 'results', 'latest.json') },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' }
  }
})
const quick = args.quick
const seconds = Number(args.seconds ?? (quick ? 2 : 5))
const rounds = Number(args.rounds ?? (quick ? 2 : 3))
const transferMib = quick ? 64 : 300
const uploadRssMib = quick ? 256 : 1024
const sections = new Set((args.only ?? 'small,connections,transfer,rss,decision,own,workers').split(','))
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const verdicts = []
const results = { startedAt: new Date().toISOString(), cores: availableParallelism(), loadavgStart: loadavg(), quick, seconds, rounds }
const log = (line = '') => { console.log(line) }

/** Runs `measure(target)` for every target, `rounds` times, rotating the order each round; medians by name. */
async function interleaved (targets, measure, n = rounds) {
  const samples = new Map(targets.map((t) => [t.name, []]))
  for (let round = 0; round < n; round++) {
    const order = targets.map((_, i) => targets[(i + round) % targets.length])
    for (const t of order) samples.get(t.name).push(await measure(t))
  }
  return samples
}

async function small (targets, bare) {
  results.small = {}
  log('\n## Small requests, keep-alive (median of rounds; req/s as a ratio to the bare Node forwarder)')
  // A short warm-up per target so every JIT has run before the first round.
  for (const t of targets) await keepAlive(t, '/_ping', 4, 0.5)
  for (const path of ['/_ping', '/v1.41/containers/json']) {
    for (const connections of [1, 16, 64]) {
      const samples = await interleaved(targets, async (t) => await keepAlive(t, path, connections, seconds))
      const row = {}
      for (const t of targets) {
        const runs = samples.get(t.name)
        row[t.name] = { rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) }
      }
      results.small[`${path} c${connections}`] = row
      log(`\nGET ${path}, ${connections} connection(s)\n| target | req/s x bare | p50 ms | p99 ms |\n|---|---|---|---|`)
      for (const t of targets) log(`| ${t.name} | ${(row[t.name].rps / row[bare.name].rps).toFixed(2)} | ${row[t.name].p50.toFixed(3)} | ${row[t.name].p99.toFixed(3)} |`)
    }
  }
}

function smallVerdicts (bare, gate) {
  const lines = []
  for (const path of ['/_ping', '/v1.41/containers/json']) {
    const at = (c) => results.small[`${path} c${c}`]
    lines.push(verdict(verdicts, 'small.16', `${path} req/s, 16 conn.`, at(16)[gate.name].rps / at(16)[bare.name].rps))
    lines.push(verdict(verdicts, 'small.1', `${path} req/s, 1 conn.`, at(1)[gate.name].rps / at(1)[bare.name].rps))
    lines.push(verdict(verdicts, 'p50.added', `${path} added p50, 1 conn.`, at(1)[gate.name].p50 - at(1)[bare.name].p50))
  }
  return lines
}

async function connections (targets, reference, gate) {
  log('\n## New mutual-TLS connections per second (8 concurrent handshakes, one /_ping each)\n| target | conn/s x dockerd TLS |\n|---|---|')
  const samples = await interleaved(targets, async (t) => await newConnections(t, 8, seconds))
  results.connections = Object.fromEntries(targets.map((t) => [t.name, median(samples.get(t.name))]))
  for (const t of targets) log(`| ${t.name} | ${(results.connections[t.name] / results.connections[reference.name]).toFixed(2)} |`)
  return [verdict(verdicts, 'connections', 'new connections/s', results.connections[gate.name] / results.connections[reference.name])]
}

async function transfers (targets, socketPath, haproxy, reference, gate) {
  const created = await daemon(socketPath, 'POST', '/containers/create', { Image: 'dockgate-bench/empty', Cmd: ['/none'], NetworkDisabled: true })
  const id = JSON.parse(created.body).Id
  log(`\n## ${transferMib} MiB upload (PUT archive) and download (GET archive), MiB/s as ratios`)
  const samples = await interleaved(targets, async (t) => ({ up: await upload(t, id, transferMib), down: await download(t, id) }))
  results.transfer = Object.fromEntries(targets.map((t) => [t.name, { up: median(samples.get(t.name).map((s) => s.up)), down: median(samples.get(t.name).map((s) => s.down)) }]))
  log('| target | upload x HAProxy | upload x dockerd TLS | download x HAProxy | download x dockerd TLS |\n|---|---|---|---|---|')
  const r = (t, k, of) => results.transfer[t.name][k] / results.transfer[of.name][k]
  for (const t of targets) log(`| ${t.name} | ${r(t, 'up', haproxy).toFixed(2)} | ${r(t, 'up', reference).toFixed(2)} | ${r(t, 'down', haproxy).toFixed(2)} | ${r(t, 'down', reference).toFixed(2)} |`)
  results.transferContainer = id
  return [
    verdict(verdicts, 'transfer.haproxy', 'download x HAProxy', r(gate, 'down', haproxy)),
    verdict(verdicts, 'transfer.haproxy', 'upload x HAProxy', r(gate, 'up', haproxy)),
    verdict(verdicts, 'transfer.dockerd', 'download x dockerd TLS', r(gate, 'down', reference)),
    verdict(verdicts, 'transfer.dockerd', 'upload x dockerd TLS', r(gate, 'up', reference))
  ]
}

async function rss (targets, gate, socketPath) {
  log('\n## Resident memory (MB; the process and its children)\n| target | idle after load | 1,000 open /events |\n|---|---|---|')
  results.rss = {}
  await new Promise((resolve) => setTimeout(resolve, 2000))
  for (const t of targets) {
    const idle = rssMb(t.pid)
    const close = await openStreams(t, 1000)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const streams = rssMb(t.pid)
    close()
    results.rss[t.name] = { idle, streams }
    log(`| ${t.name} | ${idle.toFixed(0)} | ${streams.toFixed(0)} |`)
  }
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const id = results.transferContainer ?? JSON.parse((await daemon(socketPath, 'POST', '/containers/create', { Image: 'dockgate-bench/empty', Cmd: ['/none'] })).body).Id
  const before = rssMb(gate.pid)
  let peak = before
  await upload(gate, id, uploadRssMib, () => { peak = Math.max(peak, rssMb(gate.pid)) })
  results.rss.upload = { mib: uploadRssMib, before, peak }
  log(`\ndockgate during a ${uploadRssMib} MiB upload: ${before.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB`)
  return [
    verdict(verdicts, 'rss.idle', 'dockgate RSS idle', results.rss[gate.name].idle),
    verdict(verdicts, 'rss.streams', 'dockgate RSS, 1,000 streams', results.rss[gate.name].streams),
    verdict(verdicts, 'rss.upload', `dockgate RSS growth, ${uploadRssMib} MiB upload`, peak - before)
  ]
}

function decisions () {
  results.decision = decisionCosts([10, 1000, 10000], quick ? 20000 : 100000)
  log('\n## One policy decision (judgeRequest on the compiled policy), microseconds\n| rules | matching the last rule | matching none (default deny) |\n|---|---|---|')
  for (const [rules, d] of Object.entries(results.decision)) log(`| ${rules} | ${d.last.toFixed(3)} | ${d.none.toFixed(3)} |`)
  const worst = (n) => Math.max(results.decision[n].last, results.decision[n].none)
  return [
    verdict(verdicts, 'decision.1000', 'decision, 1,000 rules (worst)', worst(1000)),
    verdict(verdicts, 'decision.flat', 'decision, 10,000 over 1,000 rules', worst(10000) / worst(1000))
  ]
}

function own () {
  results.ownWork = ownWork(quick ? 2000 : 5000)
  log(`\n## dockgate's own work per request (GET /_ping: identity, policy, exchange, a hash-chained audit record, metrics; in-process, no sockets)\n${results.ownWork.toFixed(1)} us`)
  return [verdict(verdicts, 'own.work', 'own work per request (in-process)', results.ownWork)]
}

async function workers (w1, w2) {
  log(`\n## workers (cores: ${results.cores}); GET /_ping, 64 connections`)
  const samples = await interleaved([w1, w2], async (t) => (await keepAlive(t, '/_ping', 64, seconds)).rps)
  results.workers = { cores: results.cores, 1: median(samples.get(w1.name)), 2: median(samples.get(w2.name)) }
  log(`| workers | req/s x workers: 1 |\n|---|---|\n| 1 | 1.00 |\n| 2 | ${(results.workers[2] / results.workers[1]).toFixed(2)} |`)
  return [verdict(verdicts, 'workers', `workers: 2 over 1 (${results.cores} cores)`, results.workers[2] / results.workers[1])]
}

/** An image with one empty file: containers of it are only created (never run), to hold transferred files. */
async function emptyImage (socketPath) {
  const { execFileSync } = await import('node:child_process')
  mkdirSync(`${dir}/image`, { recursive: true })
  writeFileSync(`${dir}/image/empty`, '')
  const tar = execFileSync('tar', ['-C', `${dir}/image`, '-c', 'empty'])
  const made = await daemon(socketPath, 'POST', '/images/create?fromSrc=-&repo=dockgate-bench/empty&tag=latest', tar)
  if (made.status !== 200) throw new Error(`image import: ${made.status} ${made.body}`)
}

/** What the bench needs before it starts anything: root, and dockerd and haproxy on the PATH; the fix when one is missing. */
function preflight () {
  const missing = ['dockerd', 'haproxy'].filter((tool) => !process.env.PATH.split(':').some((dir) => existsSync(`${dir}/${tool}`)))
  const problems = [
    ...(process.getuid?.() === 0 ? [] : ['the bench starts its own dockerd, so it must run as root']),
    ...(missing.length === 0 ? [] : [`${missing.join(' and ')} not found on the PATH (on Debian: apt-get install ${missing.map((m) => m === 'dockerd' ? 'docker.io' : m).join(' ')})`])
  ]
  if (problems.length > 0) throw new Error(`npm run bench: ${problems.join('; ')}`)
}

async function main () {
  preflight()
  const tls = pki()
  const dockerd = await startDockerd(tls)
  await emptyImage(dockerd.socketPath)
  const [haproxy, bare, gate, gate2] = [await startHaproxy(tls, dockerd.socketPath), await startBare(tls, dockerd.socketPath),
    await startDockgate(tls, dockerd.socketPath, 1), sections.has('workers') ? await startDockgate(tls, dockerd.socketPath, 2) : null]
  const viaTls = (name, server) => ({ name, port: server.port, pid: server.pid, tls: tls.client })
  const T = {
    socket: { name: 'daemon socket', socketPath: dockerd.socketPath },
    dockerd: viaTls('dockerd TLS', dockerd),
    haproxy: viaTls('HAProxy mTLS', haproxy),
    bare: viaTls('bare Node forwarder', bare),
    gate: viaTls('dockgate', gate)
  }
  log(`# dockgate bench, ${results.startedAt}, ${results.cores} cores, load average ${results.loadavgStart.map((l) => l.toFixed(2)).join(' ')}${quick ? ', --quick' : ''}`)
  const lines = []
  if (sections.has('small')) { await small([T.socket, T.dockerd, T.haproxy, T.bare, T.gate], T.bare); lines.push(...smallVerdicts(T.bare, T.gate)) }
  if (sections.has('connections')) lines.push(...await connections([T.dockerd, T.haproxy, T.bare, T.gate], T.dockerd, T.gate))
  if (sections.has('transfer')) lines.push(...await transfers([T.socket, T.dockerd, T.haproxy, T.bare, T.gate], dockerd.socketPath, T.haproxy, T.dockerd, T.gate))
  if (sections.has('rss')) lines.push(...await rss([T.haproxy, T.bare, T.gate], T.gate, dockerd.socketPath))
  if (sections.has('decision')) lines.push(...decisions())
  if (sections.has('own')) lines.push(...own())
  if (gate2 !== null) lines.push(...await workers(T.gate, viaTls('dockgate workers: 2', gate2)))
  results.loadavgEnd = loadavg()
  results.verdicts = verdicts
  log(`\n## Goals (issue 12); load average at the end ${results.loadavgEnd.map((l) => l.toFixed(2)).join(' ')}\n| figure | dockgate | goal | |\n|---|---|---|---|`)
  for (const line of lines) log(line)
  mkdirSync(dirname(args.json), { recursive: true })
  writeFileSync(args.json, JSON.stringify(results, null, 2) + '\n')
  log(`\nJSON: ${args.json}`)
}

main().catch((err) => { console.error(err); process.exitCode = 1 }).finally(async () => { await stopAll() })
