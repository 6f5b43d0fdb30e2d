#!/usr/bin/env node
// What `audit.fsync: true` costs, side by side with the default, measured
// twice: the audit writer alone (records per second), and dockgate in front
// of the daemon under load (requests per second, latency). Rounds are
// interleaved and medians reported as ratios: absolute numbers depend on
// the disk, the ratio is what an operator weighs.
//
//   npm run build && node bench/audit.mjs [--socket /var/run/docker.sock] [--seconds 5] [--rounds 3] [--connections 10] [--dir /var/log/dockgate]
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import net from 'node:net'
import autocannon from 'autocannon'
import { openAuditLog } from '../dist/audit/log.js'
import { createCa, issueClientCertificate, issueServerCertificate } from '../dist/certs/issue.js'

const { values: args } = parseArgs({
  options: {
    socket: { type: 'string', default: process.env.DOCKGATE_TEST_DOCKER_SOCK ?? '/var/run/docker.sock' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    dir: { type: 'string', default: tmpdir() }
  }
})
const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(args.dir, 'dockgate-bench-audit-'))
const children = []
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// A ResponseComplete record of typical size (about 900 bytes sealed).
function record () {
  return {
    schema: 1, auditID: randomUUID(), stage: 'ResponseComplete', receivedAt: new Date().toISOString(),
    client: { address: '10.1.2.3', port: 50123 },
    identity: { subject: 'CN=alice,OU=platform', sans: { dns: [], uri: [], email: [] }, issuer: 'CN=dockgate CA,O=dockgate', serial: '5C3B'.repeat(8), fingerprint256: 'DA:59'.repeat(16).slice(0, 95), entry: { ref: '/etc/dockgate/policy.yaml:3', index: 0 }, teams: ['platform'] },
    request: { method: 'POST', target: '/v1.41/containers/create?name=web', path: '/containers/create', apiVersion: '1.41', upgrade: null },
    objectRef: { resource: 'containers', name: 'web', subresource: 'create' }, level: 'metadata',
    decision: 'allow', rule: { ref: '/etc/dockgate/policy.yaml:9', text: '* /**', team: 'platform' },
    status: 201, upstreamStatus: 201, bytesIn: 1489, bytesOut: 88, durationMs: 14.1, aborted: false
  }
}

function writerRun (fsync, seconds) {
  const sub = join(dir, `writer-${fsync}-${randomUUID()}`)
  mkdirSync(sub)
  const audit = openAuditLog({ file: join(sub, 'audit.jsonl'), fsync })
  const until = Date.now() + seconds * 1000
  let count = 0
  while (Date.now() < until) {
    for (let i = 0; i < 50; i++) audit.write(record())
    count += 50
  }
  void audit.close()
  return count / seconds
}

function pki () {
  const ca = createCa({ commonName: 'bench CA', days: 2 })
  const server = issueServerCertificate(ca, { hosts: [], days: 2 })
  const client = issueClientCertificate(ca, { cn: 'bench', ous: ['platform'], days: 2 })
  mkdirSync(join(dir, 'tls'))
  const file = (name, text) => { writeFileSync(join(dir, 'tls', name), text, { mode: 0o600 }); return join(dir, 'tls', name) }
  return { ca: file('ca.pem', ca.certPem), cert: file('cert.pem', server.certPem), key: file('key.pem', server.keyPem), client: { ca: ca.certPem, cert: client.certPem, key: client.keyPem } }
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

async function startDockgate (tls, port, fsync) {
  const sub = join(dir, `gateway-${fsync}`)
  mkdirSync(sub)
  writeFileSync(join(sub, 'policy.yaml'), 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n')
  writeFileSync(join(sub, 'config.yaml'), `listen: 127.0.0.1:${port}\nupstream: unix://${args.socket}\ntls:\n  ca: ${tls.ca}\n  cert: ${tls.cert}\n  key: ${tls.key}\npolicy: policy.yaml\naudit:\n  file: audit.jsonl\n  fsync: ${fsync}\n`)
  children.push(spawn(process.execPath, [join(root, 'dist', 'main.js'), 'serve', '--config', join(sub, 'config.yaml')], { stdio: 'ignore', env: { ...process.env, DOCKGATE_LOG_LEVEL: 'warn' } }))
  await waitForPort(port)
}

async function load (url, tls) {
  const result = await autocannon({ url, tlsOptions: tls.client, servername: 'localhost', connections: Number(args.connections), duration: Number(args.seconds), pipelining: 1 })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 }
}

async function main () {
  const rounds = Number(args.rounds)
  const writer = { false: [], true: [] }
  for (let round = 0; round < rounds; round++) {
    for (const fsync of [false, true]) writer[fsync].push(writerRun(fsync, Math.min(2, Number(args.seconds))))
  }
  const [off, on] = [median(writer.false), median(writer.true)]
  console.log(`\nAudit writer alone (${dir}), records/s, ${rounds} interleaved rounds, medians`)
  console.log('| audit.fsync | records/s | vs fsync false |')
  console.log('|---|---|---|')
  console.log(`| false | ${Math.round(off)} | 1.00 |`)
  console.log(`| true | ${Math.round(on)} | ${(on / off).toFixed(3)} (${(off / on).toFixed(0)}x slower) |`)

  const tls = pki()
  const ports = { false: await freePort(), true: await freePort() }
  for (const fsync of [false, true]) await startDockgate(tls, ports[fsync], fsync)
  const samples = { false: [], true: [] }
  for (let round = 0; round < rounds; round++) {
    for (const fsync of [false, true]) samples[fsync].push(await load(`https://127.0.0.1:${ports[fsync]}/_ping`, tls))
  }
  const sum = (fsync) => ({ rps: median(samples[fsync].map((s) => s.rps)), p50: median(samples[fsync].map((s) => s.p50)), p99: median(samples[fsync].map((s) => s.p99)) })
  const [g0, g1] = [sum(false), sum(true)]
  console.log(`\ndockgate GET /_ping in front of ${args.socket} (${args.connections} connections, ${args.seconds} s x ${rounds} interleaved rounds, medians)`)
  console.log('| audit.fsync | req/s | vs fsync false | p50 ms | p99 ms |')
  console.log('|---|---|---|---|---|')
  console.log(`| false | ${Math.round(g0.rps)} | 1.00 | ${g0.p50} | ${g0.p99} |`)
  console.log(`| true | ${Math.round(g1.rps)} | ${(g1.rps / g0.rps).toFixed(2)} | ${g1.p50} | ${g1.p99} |`)
}

main().catch((err) => { console.error(err); process.exitCode = 1 }).finally(() => {
  for (const child of children) child.kill('SIGTERM')
})
