#!/usr/bin/env node
// What recording sessions (audit level `session`) costs the session itself,
// side by side with the same gateway at level `metadata`: two dockgate
// processes in front of one daemon, differing only in the team's level.
//
// 1. Throughput: `docker exec C sh -c 'yes LINE | head -c N'` through each,
//    output to /dev/null, MiB/s. Printable text, so the recorder does its
//    full work (demultiplexing, UTF-8, JSON escaping, hashing, writing),
//    and a size cap above N, so the whole stream is recorded.
// 2. Keystroke round trip: one exec session (`cat`, no TTY) held open by a
//    raw client that sends a line and waits for its echo, 2000 times; p50
//    and p99 in microseconds.
// Rounds are interleaved and medians reported as ratios.
//
//   npm run build && node bench/sessions.mjs [--socket /var/run/docker.sock] [--rounds 3] [--mib 128] [--echoes 2000]
import { spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import net from 'node:net'
import tls from 'node:tls'
import { Buffer } from 'node:buffer'
import { createCa, issueClientCertificate, issueServerCertificate } from '../dist/certs/issue.js'

const { values: args } = parseArgs({
  options: {
    socket: { type: 'string', default: process.env.DOCKGATE_TEST_DOCKER_SOCK ?? '/var/run/docker.sock' },
    rounds: { type: 'string', default: '3' },
    mib: { type: 'string', default: '128' },
    echoes: { type: 'string', default: '2000' },
    image: { type: 'string', default: 'dockgate-test/busybox:latest' }
  }
})
const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'dockgate-bench-sessions-'))
const children = []
const container = `dockgate-bench-sessions-${process.pid}`
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
// session-inline: the recorder on the serving thread (DOCKGATE_RECORDER=inline) instead of its own thread.
const LEVELS = ['metadata', 'session', 'session-inline']

function pki () {
  const ca = createCa({ commonName: 'bench CA', days: 2 })
  const server = issueServerCertificate(ca, { hosts: [], days: 2 })
  const client = issueClientCertificate(ca, { cn: 'bench', ous: ['platform'], days: 2 })
  const file = (sub, name, text) => { mkdirSync(join(dir, sub), { recursive: true }); writeFileSync(join(dir, sub, name), text, { mode: 0o600 }); return join(dir, sub, name) }
  file('client', 'ca.pem', ca.certPem)
  file('client', 'cert.pem', client.certPem)
  file('client', 'key.pem', client.keyPem)
  return { ca: file('tls', 'ca.pem', ca.certPem), cert: file('tls', 'cert.pem', server.certPem), key: file('tls', 'key.pem', server.keyPem), bundle: join(dir, 'client'), client: { ca: ca.certPem, cert: client.certPem, key: client.keyPem } }
}

async function freePort () {
  return await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

async function waitForPort (port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => { const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) }).on('error', () => resolve(false)) })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on ${port}`)
}

async function startDockgate (pem, port, variant) {
  const sub = join(dir, `gateway-${variant}`)
  const level = variant.split('-')[0]
  mkdirSync(sub)
  writeFileSync(join(sub, 'policy.yaml'), `version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    audit: ${level}\n    allow: ["* /**"]\n    containers: unrestricted\n`)
  writeFileSync(join(sub, 'config.yaml'), `listen: 127.0.0.1:${port}\nupstream: unix://${args.socket}\ntls:\n  ca: ${pem.ca}\n  cert: ${pem.cert}\n  key: ${pem.key}\npolicy: policy.yaml\naudit:\n  file: audit.jsonl\n  sessionMaxBytes: ${8 * 1024 ** 3}\n`)
  children.push(spawn(process.execPath, [join(root, 'dist', 'main.js'), 'serve', '--config', join(sub, 'config.yaml')], { stdio: 'ignore', env: { ...process.env, DOCKGATE_LOG_LEVEL: 'warn', ...(variant.endsWith('inline') ? { DOCKGATE_RECORDER: 'inline' } : {}) } }))
  await waitForPort(port)
  return sub
}

async function run (cmd, argv, env = process.env) {
  return await new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (c) => { err += c })
    child.on('close', (code) => {
      if (code === 0) resolve()
      else reject(new Error(`${cmd} ${argv.join(' ')}: exit ${code}: ${err}`))
    })
  })
}

function dockerEnv (port, bundle) {
  return { ...process.env, DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: bundle, DOCKER_CLI_HINTS: 'false' }
}

async function throughput (port, bundle) {
  const bytes = Number(args.mib) * 1024 * 1024
  const started = performance.now()
  await run('docker', ['exec', container, 'sh', '-c', `yes 'dockgate session recording benchmark, a line of plain text' | head -c ${bytes}`], dockerEnv(port, bundle))
  return Number(args.mib) / ((performance.now() - started) / 1000)
}

// One request on a fresh TLS connection; resolves with the socket and what followed the head.
async function request (port, client, method, path, body) {
  return await new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...client, servername: 'localhost' }, () => {
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${path.endsWith('/start') ? 'Connection: Upgrade\r\nUpgrade: tcp\r\n' : ''}\r\n${body}`)
    })
    let buffered = Buffer.alloc(0)
    const onData = (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end < 0) return
      socket.off('data', onData)
      resolve({ socket, head: buffered.subarray(0, end).toString(), rest: buffered.subarray(end + 4) })
    }
    socket.on('data', onData)
    socket.on('error', reject)
  })
}

async function roundTrips (port, client) {
  const created = await request(port, client, 'POST', `/v1.41/containers/${container}/exec`, JSON.stringify({ AttachStdin: true, AttachStdout: true, Cmd: ['cat'] }))
  const id = /"Id":"([0-9a-f]+)"/.exec(created.rest.toString())?.[1] ?? /"Id":"([0-9a-f]+)"/.exec((await new Promise((r) => created.socket.once('data', r))).toString())?.[1]
  created.socket.destroy()
  const { socket, head } = await request(port, client, 'POST', `/v1.41/exec/${id}/start`, JSON.stringify({ Detach: false, Tty: false }))
  if (!head.startsWith('HTTP/1.1 101')) throw new Error(`exec start: ${head}`)
  const times = []
  let waiting = null
  let got = 0
  socket.on('data', (chunk) => { got += chunk.length; if (waiting !== null && got >= waiting.need) { const w = waiting; waiting = null; w.resolve() } })
  for (let i = 0; i < Number(args.echoes); i++) {
    const line = `keystroke ${i}\n`
    const need = got + 8 + line.length
    const started = performance.now()
    await new Promise((resolve) => { waiting = { need, resolve }; socket.write(line) })
    times.push((performance.now() - started) * 1000)
  }
  socket.end()
  socket.destroy()
  times.sort((a, b) => a - b)
  return { p50: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] }
}

async function main () {
  const pem = pki()
  await run('docker', ['-H', `unix://${args.socket}`, 'run', '-d', '--name', container, '--network', 'none', args.image, 'sleep', '3600'])
  const ports = {}
  const dirs = {}
  for (const level of LEVELS) {
    ports[level] = await freePort()
    dirs[level] = await startDockgate(pem, ports[level], level)
  }
  const rate = Object.fromEntries(LEVELS.map((l) => [l, []]))
  const rtt = Object.fromEntries(LEVELS.map((l) => [l, []]))
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const level of LEVELS) {
      rate[level].push(await throughput(ports[level], pem.bundle))
      rtt[level].push(await roundTrips(ports[level], pem.client))
      // Recordings of earlier rounds are not kept: the disk is not what is measured.
      rmSync(join(dirs[level], 'sessions'), { recursive: true, force: true })
    }
  }
  const m = (level) => ({ rate: median(rate[level]), p50: median(rtt[level].map((r) => r.p50)), p99: median(rtt[level].map((r) => r.p99)) })
  const off = m('metadata')
  console.log(`\ndocker exec through dockgate in front of ${args.socket}, level metadata vs session (${args.rounds} interleaved rounds, medians)`)
  console.log(`| audit level | exec output, ${args.mib} MiB | vs metadata | round trip p50 | p99 |`)
  console.log('|---|---|---|---|---|')
  for (const level of LEVELS) {
    const on = m(level)
    const name = { metadata: 'metadata', session: 'session (recorder thread)', 'session-inline': 'session (recorder inline)' }[level]
    console.log(`| ${name} | ${on.rate.toFixed(1)} MiB/s | ${(on.rate / off.rate).toFixed(2)} | ${Math.round(on.p50)} µs (${(on.p50 / off.p50).toFixed(2)}x) | ${Math.round(on.p99)} µs (${(on.p99 / off.p99).toFixed(2)}x) |`)
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1 }).finally(async () => {
  for (const child of children) child.kill('SIGTERM')
  await run('docker', ['-H', `unix://${args.socket}`, 'rm', '-f', container]).catch(() => {})
})
