// Starting what the bench compares, all in front of ONE private dockerd so
// the backend is identical: the daemon's own TLS listener, HAProxy with
// mTLS, the bare Node forwarder and dockgate (workers 1 and 2). Everything
// lives under one temporary folder and is stopped by `stopAll`.
import { spawn, fork, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { Buffer } from 'node:buffer'
import http from 'node:http'
import net from 'node:net'
import { clearTimeout } from 'node:timers'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createCa, issueClientCertificate, issueServerCertificate } from '../../dist/certs/issue.js'

const root = resolve(import.meta.dirname, '..', '..')
const children = []

/** A private folder for the run, removed by stopAll. */
export const dir = mkdtempSync(join(tmpdir(), 'dgb-'))

/** One CA; a server certificate (localhost, 127.0.0.1) shared by every listener; one client certificate. */
export function pki () {
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
    client: { ca: ca.certPem, cert: client.certPem, key: client.keyPem, servername: 'localhost' }
  }
}

export async function freePort () {
  return await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

async function until (what, probe, ms = 30_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await probe()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${what} did not come up within ${ms / 1000} s`)
}

const listening = (port) => new Promise((resolve) => {
  const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true) }).on('error', () => resolve(false))
})

/** An HTTP request over the daemon socket; resolves with status and body. */
export function daemon (socketPath, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c)).on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }))
    }).on('error', reject)
    req.end(body === undefined ? undefined : Buffer.isBuffer(body) ? body : JSON.stringify(body))
  })
}

/**
 * A private dockerd with a Unix socket and its own TLS listener
 * (`--tlsverify`), with the same flags as scripts/test-daemon.sh: it never
 * creates networks or touches iptables.
 */
export async function startDockerd (tls) {
  const port = await freePort()
  const socketPath = join(dir, 'docker.sock')
  const child = spawn('dockerd', ['-H', `unix://${socketPath}`, '-H', `tcp://127.0.0.1:${port}`,
    '--tlsverify', '--tlscacert', tls.ca, '--tlscert', tls.cert, '--tlskey', tls.key,
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'docker.pid'),
    '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false'], { stdio: ['ignore', 'ignore', 'ignore'] })
  children.push({ child, name: 'dockerd' })
  await until('dockerd', async () => existsSync(socketPath) && await daemon(socketPath, 'GET', '/_ping').then((r) => r.status === 200, () => false))
  return { port, socketPath, pid: child.pid }
}

/** HAProxy terminating mutual TLS in front of the daemon socket (the peer). */
export async function startHaproxy (tls, socketPath) {
  const port = await freePort()
  const cfg = join(dir, 'haproxy.cfg')
  writeFileSync(cfg, [
    'global', '  maxconn 8000', 'defaults', '  mode http', '  timeout connect 5s', '  timeout client 600s', '  timeout server 600s',
    'frontend mtls', `  bind 127.0.0.1:${port} ssl crt ${tls.haproxyPem} ca-file ${tls.ca} verify required`, '  default_backend docker',
    'backend docker', `  server daemon ${socketPath}`, ''
  ].join('\n'))
  const child = spawn('haproxy', ['-db', '-f', cfg], { stdio: 'ignore' })
  children.push({ child, name: 'haproxy' })
  await until('haproxy', () => listening(port))
  return { port, pid: child.pid }
}

/** The bare Node mTLS forwarder (bench/bare-forwarder.mjs), the floor. */
export async function startBare (tls, socketPath) {
  const port = await freePort()
  const child = fork(join(root, 'bench', 'bare-forwarder.mjs'), [String(port), tls.ca, tls.cert, tls.key, socketPath], { stdio: 'ignore' })
  children.push({ child, name: 'bare' })
  await until('bare forwarder', () => listening(port))
  return { port, pid: child.pid }
}

/** dockgate serve with a one-team allow-all policy and limits out of the way; `workers` processes; `label` names its folder (two of the same workers). */
export async function startDockgate (tls, socketPath, workers, label = `dockgate-${workers}`) {
  const port = await freePort()
  const sub = join(dir, label)
  mkdirSync(sub)
  writeFileSync(join(sub, 'policy.yaml'), 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n')
  writeFileSync(join(sub, 'config.yaml'), [
    `listen: 127.0.0.1:${port}`, `upstream: unix://${socketPath}`,
    'tls:', `  ca: ${tls.ca}`, `  cert: ${tls.cert}`, `  key: ${tls.key}`,
    'policy: policy.yaml', 'audit:', `  file: ${process.env.DOCKGATE_BENCH_AUDIT_DIR === undefined ? '' : process.env.DOCKGATE_BENCH_AUDIT_DIR + '/' + label + '-'}audit.jsonl`,
    'limits:', '  maxConnections: 100000', '  connectionsPerIdentity: 100000', '  streamsPerIdentity: 100000',
    '  requestsPerSecond: 1000000', '  requestBurst: 1000000', '  unverifiedConnections: 100000', '  unverifiedPerAddress: 100000',
    `workers: ${workers}`, ''].join('\n'))
  const child = spawn(process.execPath, [...(process.env.DOCKGATE_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
    process.env.DOCKGATE_BENCH_MAIN ?? join(root, 'dist', 'main.js'), 'serve', '--config', join(sub, 'config.yaml')],
  { stdio: ['ignore', process.env.DOCKGATE_BENCH_STDERR === '1' ? 'inherit' : 'ignore', process.env.DOCKGATE_BENCH_STDERR === '1' ? 'inherit' : 'pipe'], cwd: sub, env: { ...process.env, DOCKGATE_LOG_LEVEL: 'warn' } })
  let stderr = ''
  child.stderr?.on('data', (c) => { stderr += c })
  children.push({ child, name: label })
  await until(`dockgate (workers: ${workers}): ${stderr}`, () => listening(port))
  return { port, pid: child.pid, auditDir: sub }
}

/** Resident set size of a process and its children (cluster workers), in MB. */
export function rssMb (pid) {
  let kb = 0
  const visit = (p) => {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0)
      for (const c of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').split(' ').filter(Boolean)) visit(c)
    } catch { /* gone */ }
  }
  visit(pid)
  return kb / 1024
}

/** Stops everything started, dockerd last, unmounts what it left under the folder and removes the folder. */
export async function stopAll () {
  for (const { child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
    await exited
    clearTimeout(timer)
  }
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m?.startsWith(dir + '/')).sort().reverse()
  for (const m of mounts) { try { execFileSync('umount', ['-l', m]) } catch { /* already gone */ } }
  rmSync(dir, { recursive: true, force: true })
}
