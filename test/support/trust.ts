/**
 * For the tests of open connections and the end of trust (expiry, a CA
 * dropped from tls.ca): client bundles from any CA with a chosen notAfter,
 * and a `docker events` stream proven open end to end.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { issueClientCertificate, type Ca } from '../../src/certs/issue.js'
import { docker, dockerEnv } from './clients.js'
import { waitFor, type LiveGateway } from './live.js'

/** Everything the end-of-trust tests share. */
export const TRUST_POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'

/** The gateway's own CA, from the files `dockgate certs init` wrote. */
export function gatewayCa (gw: LiveGateway): Ca {
  return { certPem: readFileSync(join(gw.certs, 'ca', 'ca.pem'), 'utf8'), keyPem: readFileSync(join(gw.certs, 'ca', 'key.pem'), 'utf8') }
}

/** A DOCKER_CERT_PATH bundle that trusts `serverCa`, from `issuer`, valid from a minute ago until `notAfter`. */
export function bundleFrom (gw: LiveGateway, serverCa: Ca, name: string, issuer: Ca, notAfter: Date): { dir: string; serial: string } {
  const issued = issueClientCertificate(issuer, { cn: name, ous: ['platform'], days: 1, notBefore: new Date(Date.now() - 60_000), notAfter })
  const dir = join(gw.dir, 'bundles', name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'ca.pem'), serverCa.certPem)
  writeFileSync(join(dir, 'cert.pem'), issued.certPem)
  writeFileSync(join(dir, 'key.pem'), issued.keyPem, { mode: 0o600 })
  return { dir, serial: issued.serialHex }
}

/**
 * Starts `docker events` with bundle `dir` and proves the stream open end
 * to end: its RequestReceived record (the daemon answered), then an event
 * it relays. Waits for each condition, however loaded the machine.
 */
export async function openEvents (gw: LiveGateway, dir: string): Promise<{ exited: Promise<number | null>; running: () => boolean }> {
  const opened = (): number => gw.records().filter((record) => record.stage === 'RequestReceived' && record.request?.path === '/events').length
  const before = opened()
  const events = spawn('docker', ['events', '--format', '{{.Action}}'], { env: dockerEnv(gw.port, dir) })
  let output = ''
  let running = true
  events.stdout.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((resolve) => events.on('close', (code) => { running = false; resolve(code) }))
  await waitFor(() => opened() > before || !running, 30_000, 'the events stream to open')
  const name = `dg-trust-${process.pid}-${Date.now()}`
  await docker(gw.port, gw.bundle('alice'), ['create', '--name', name, '--network', 'none', 'dockgate-test/busybox:latest', 'true'])
  await docker(gw.port, gw.bundle('alice'), ['rm', name])
  await waitFor(() => output.includes('create') || !running, 30_000, 'the create event')
  expect(output).toContain('create')
  return { exited, running: () => running }
}
