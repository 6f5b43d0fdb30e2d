#!/usr/bin/env node
// Side-by-side benchmark: the same load against the daemon socket directly,
// HAProxy as a plain socket proxy (the Tecnativa/linuxserver design),
// HAProxy terminating mutual TLS (the nearest peer to dockgate), and
// dockgate (mTLS + identity + policy + audit). Rounds are interleaved and the
// median of each is reported as a ratio: absolute numbers on a shared
// machine are noise, ratios taken in one run are not.
//
// A third scenario downloads a large file (`docker cp`'s archive endpoint)
// through each target and reports throughput: proxies that stall on
// backpressure show up here, not in small requests.
//
//   npm run build && node bench/run.mjs [--socket /var/run/docker.sock] [--seconds 5] [--rounds 3] [--connections 10] [--download-mib 256]
import { spawn, execFileSync } from 'node:child_process'
import http from 'node:http'
import https from 'node:https'
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import net from 'node:net'
import autocannon from 'autocannon'
import { createCa, issueClientCertificate, issueServerCertificate } from '../dist/certs/issue.js'

const { values: args } = parseArgs({
  options: {
    socket: { type: 'string', default: process.env.DOCKGATE_TEST_DOCKER_SOCK ?? '/var/run/docker.sock' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    'download-mib': { type: 'string', default: '256' }
  }
})
const root = resolve(import.meta.dirname, '..')
const dir = mkdtempSync(join(tmpdir(), 'dockgate-bench-'))
const children = []

function pki () {
  const ca = createCa({ commonName: 'bench CA', days: 2 })
  const server = issueServerCertificate(ca, { hosts: [], days: 2 })
  const client = issueClientCertificate(ca, { cn: 'bench', ous: ['platform'], days: 2 })
  mkdirSync(join(dir, 'tls'))
  const file = (name, text) => { writeFileSync(join(dir, 'tls', name), text, { mode: 0o600 }); return join(dir, 'tls', name) }
  return {
    ca: file('ca.pem', ca.certPem),
    cert: file('cert.pem', server.certPem),
    key: file('key.pem', server.keyPem),
    haproxyPem: file('haproxy.pem', server.certPem + server.keyPem),
    client: { ca: ca.certPem, cert: client.certPem, key: client.keyPem }
  }
}

async function freePort () {
  return await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

async function waitForPort (port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) }).on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on ${port}`)
}

async function startHaproxy (tls, plainPort, mtlsPort) {
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, [
    'global', '  maxconn 4096', 'defaults', '  mode http', '  timeout connect 5s', '  timeout client 60s', '  timeout server 60s',
    'frontend plain', `  bind 127.0.0.1:${plainPort}`, '  default_backend docker',
    'frontend mtls', `  bind 127.0.0.1:${mtlsPort} ssl crt ${tls.haproxyPem} ca-file ${tls.ca} verify required`, '  default_backend docker',
    'backend docker', `  server daemon ${args.socket}`, ''
  ].join('\n'))
  children.push(spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' }))
  await waitForPort(plainPort)
  await waitForPort(mtlsPort)
}

async function startDockgate (tls, port) {
  writeFileSync(join(dir, 'policy.yaml'), 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n')
  writeFileSync(join(dir, 'config.yaml'), `listen: 127.0.0.1:${port}\nupstream: unix://${args.socket}\ntls:\n  ca: ${tls.ca}\n  cert: ${tls.cert}\n  key: ${tls.key}\npolicy: policy.yaml\naudit:\n  file: audit.jsonl\n`)
  children.push(spawn(process.execPath, [join(root, 'dist', 'main.js'), 'serve', '--config', join(dir, 'config.yaml')], { stdio: 'ignore', env: { ...process.env, DOCKGATE_LOG_LEVEL: 'warn' } }))
  await waitForPort(port)
}

async function load (target, path) {
  const result = await autocannon({
    ...target,
    url: target.url + path,
    connections: Number(args.connections),
    duration: Number(args.seconds),
    pipelining: 1
  })
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${target.name} ${path}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function main () {
  execFileSync('haproxy', ['-v'])
  const tls = pki()
  const [plainPort, mtlsPort, gatePort] = [await freePort(), await freePort(), await freePort()]
  await startHaproxy(tls, plainPort, mtlsPort)
  await startDockgate(tls, gatePort)
  const clientTls = { tlsOptions: tls.client, servername: 'localhost' }
  const targets = [
    { name: 'daemon socket (direct)', url: 'http://localhost', socketPath: args.socket },
    { name: 'HAProxy, plain socket proxy', url: `http://127.0.0.1:${plainPort}` },
    { name: 'HAProxy, mTLS', url: `https://127.0.0.1:${mtlsPort}`, ...clientTls },
    { name: 'dockgate (mTLS+policy+audit)', url: `https://127.0.0.1:${gatePort}`, ...clientTls }
  ]
  for (const path of ['/_ping', '/v1.41/containers/json']) {
    const samples = new Map(targets.map((t) => [t.name, []]))
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const target of targets) samples.get(target.name).push(await load(target, path))
    }
    report(path, targets, samples)
  }
  await downloads(targets)
}

// The file lives in a stopped container made straight through the socket.
async function downloads (targets) {
  const name = `dockgate-bench-${process.pid}`
  const mib = Number(args['download-mib'])
  execFileSync('docker', ['-H', `unix://${args.socket}`, 'run', '--name', name, '--network', 'none', 'dockgate-test/busybox',
    'dd', 'if=/dev/zero', 'of=/big.bin', 'bs=1048576', `count=${mib}`], { stdio: 'ignore' })
  try {
    const path = `/v1.41/containers/${name}/archive?path=/big.bin`
    const samples = new Map(targets.map((t) => [t.name, []]))
    for (let round = 0; round < Number(args.rounds); round++) {
      for (const target of targets) samples.get(target.name).push(await downloadOnce(target, path))
    }
    const summary = targets.map((t) => ({ name: t.name, mbps: median(samples.get(t.name)) }))
    console.log(`\nGET ${path.replace(name, '{id}')}  (${mib} MiB, ${args.rounds} interleaved rounds, medians)`)
    console.log('| target | MiB/s vs direct | MiB/s vs HAProxy mTLS |')
    console.log('|---|---|---|')
    for (const s of summary) console.log(`| ${s.name} | ${(s.mbps / summary[0].mbps).toFixed(2)} | ${(s.mbps / summary[2].mbps).toFixed(2)} |`)
  } finally {
    execFileSync('docker', ['-H', `unix://${args.socket}`, 'rm', '-f', name], { stdio: 'ignore' })
  }
}

async function downloadOnce (target, path) {
  const url = new URL(target.url + path)
  const started = performance.now()
  const bytes = await new Promise((resolve, reject) => {
    const options = target.socketPath !== undefined
      ? { socketPath: target.socketPath, path }
      : { host: url.hostname, port: url.port, path, ...(target.tlsOptions ?? {}), servername: target.servername, agent: false }
    const get = url.protocol === 'https:' ? https.get : http.get
    get(options, (res) => {
      let n = 0
      res.on('data', (c) => { n += c.length })
      res.on('end', () => resolve(n))
      res.on('error', reject)
    }).on('error', reject)
  })
  return bytes / 1048576 / ((performance.now() - started) / 1000)
}

function report (path, targets, samples) {
  const summary = targets.map((t) => {
    const runs = samples.get(t.name)
    return { name: t.name, rps: median(runs.map((r) => r.rps)), p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) }
  })
  const direct = summary[0].rps
  const mtls = summary[2].rps
  console.log(`\nGET ${path}  (${args.connections} connections, ${args.seconds} s x ${args.rounds} interleaved rounds, medians)`)
  console.log('| target | req/s vs direct | req/s vs HAProxy mTLS | p50 ms | p99 ms |')
  console.log('|---|---|---|---|---|')
  for (const s of summary) {
    console.log(`| ${s.name} | ${(s.rps / direct).toFixed(2)} | ${(s.rps / mtls).toFixed(2)} | ${s.p50} | ${s.p99} |`)
  }
}

main().catch((err) => { console.error(err); process.exitCode = 1 }).finally(() => {
  for (const child of children) child.kill('SIGTERM')
})
