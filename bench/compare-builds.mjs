#!/usr/bin/env node
// Two builds of dockgate side by side, to judge one change: both serve in
// front of ONE private dockerd (bench/lib/setup.mjs), beside the bare Node
// forwarder, with interleaved rounds of keep-alive GET /_ping; each is
// reported as req/s against the bare forwarder and as CPU microseconds per
// request (user + system from /proc, over the requests it served), the
// figure that moves least with the machine's other load.
//
//   node bench/compare-builds.mjs A B [--connections 16] [--seconds 3] [--rounds 4]
//
// A and B are folders each holding a build's `dist/` and a `package.json`
// (e.g. `cp -r dist package.json /tmp/before/`), inside this checkout or
// beside a `node_modules` link to it, so their imports resolve. Needs root.
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pki, startBare, startDockerd, startDockgate, stopAll } from './lib/setup.mjs'
import { keepAlive } from './lib/load.mjs'

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { connections: { type: 'string', default: '16' }, seconds: { type: 'string', default: '3' }, rounds: { type: 'string', default: '4' } }
})
if (positionals.length !== 2) {
  console.error('usage: node bench/compare-builds.mjs A B [--connections N] [--seconds S] [--rounds R]')
  process.exit(2)
}
const [connections, seconds, rounds] = [Number(args.connections), Number(args.seconds), Number(args.rounds)]
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
/** CPU time of a process so far, in clock ticks (user + system). */
const ticks = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return Number(fields[11]) + Number(fields[12])
}

async function main () {
  const tls = pki()
  const dockerd = await startDockerd(tls)
  const targets = [{ name: 'bare Node forwarder', ...(await startBare(tls, dockerd.socketPath)) }]
  for (const [label, folder] of [['A', positionals[0]], ['B', positionals[1]]]) {
    process.env.DOCKGATE_BENCH_MAIN = resolve(folder, 'dist', 'main.js')
    targets.push({ name: `${label} (${folder})`, ...(await startDockgate(tls, dockerd.socketPath, 1, label)) })
  }
  delete process.env.DOCKGATE_BENCH_MAIN
  for (const t of targets) t.tls = tls.client
  for (const t of targets) await keepAlive(t, '/_ping', connections, 3)
  const samples = new Map(targets.map((t) => [t.name, { rps: [], cpu: [] }]))
  for (let round = 0; round < rounds; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      const before = ticks(t.pid)
      const run = await keepAlive(t, '/_ping', connections, seconds)
      // Clock ticks are 1/100 s: 10,000 us each.
      samples.get(t.name).rps.push(run.rps)
      samples.get(t.name).cpu.push((ticks(t.pid) - before) * 10_000 / (run.rps * seconds))
    }
  }
  const bare = median(samples.get(targets[0].name).rps)
  console.log(`GET /_ping, ${connections} connections, ${rounds} rounds of ${seconds} s\n| target | req/s x bare | CPU us per request | CPU per round |\n|---|---|---|---|`)
  for (const t of targets) {
    const s = samples.get(t.name)
    console.log(`| ${t.name} | ${(median(s.rps) / bare).toFixed(2)} | ${median(s.cpu).toFixed(0)} | ${s.cpu.map((c) => c.toFixed(0)).join(' ')} |`)
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1 }).finally(async () => { await stopAll() })
