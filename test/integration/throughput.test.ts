/**
 * Large downloads flow at the speed of the slower side, with backpressure
 * and flat memory; uploads are counted to the byte as they stream. The reader here is slow on purpose (every 16 KiB waits a
 * turn of the event loop), as a TLS client across a network is: the daemon
 * socket is faster than the client, so the gateway must pause and resume
 * the daemon's answer many times. An HTTP client library that resumes
 * slowly after a pause turned a 200 MB `docker cp` from one second into
 * five minutes; this test measures the gateway against the daemon socket in
 * the same run, so a slow machine slows both.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { startGateway, TEST_POLICY, type TestGateway } from '../support/gateway.js'
import { docker, tlsOptions } from '../support/clients.js'

const socket = inject('dockerSocket')
const IMAGE = 'dockgate-test/busybox:latest'
const name = `dg-throughput-${Math.random().toString(36).slice(2, 8)}`
const MIB = 1024 * 1024
const SIZE_MIB = 96

/** A tar of one file `name` holding `size` zero bytes, made by tar(1) as a client's would be. */
function tarOf (name: string, size: number): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'dg-upload-'))
  try {
    writeFileSync(join(dir, name), Buffer.alloc(size))
    return execFileSync('tar', ['-C', dir, '-c', name], { maxBuffer: 2 * size + 1024 * 1024 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A reader that takes 16 KiB per event-loop turn, counting what it got. */
function slowReader (): Writable & { received: number } {
  const reader = Object.assign(new Writable({
    highWaterMark: 16 * 1024,
    write (chunk: Buffer, _encoding, done) {
      reader.received += chunk.length
      setImmediate(done)
    }
  }), { received: 0 })
  return reader
}

/** Reads the whole answer of `get` through a slow reader; resolves with the bytes and the seconds it took. */
async function download (get: (onResponse: (res: http.IncomingMessage) => void) => http.ClientRequest): Promise<{ bytes: number; seconds: number }> {
  const started = performance.now()
  return await new Promise((resolve, reject) => {
    get((res) => {
      const reader = slowReader()
      res.pipe(reader)
      reader.on('finish', () => { resolve({ bytes: reader.received, seconds: (performance.now() - started) / 1000 }) })
      res.on('error', reject)
    }).on('error', reject)
  })
}

describe.skipIf(socket === '')('large downloads through the gateway', () => {
  let gw: TestGateway
  const path = `/v1.41/containers/${name}/archive?path=/big.bin`

  beforeAll(async () => {
    gw = await startGateway({ socket, policy: TEST_POLICY })
    const made = await docker(gw.port, gw.pki.bundle('alice'), ['run', '--name', name, '--network', 'none', IMAGE,
      'dd', 'if=/dev/zero', 'of=/big.bin', 'bs=1048576', `count=${SIZE_MIB}`])
    expect(made.code).toBe(0)
  })
  afterAll(async () => {
    await docker(gw.port, gw.pki.bundle('alice'), ['rm', '-f', name])
    await gw?.close()
  })

  it('keeps pace with the daemon socket for a slow reader, with flat memory', async () => {
    const direct = await download((onResponse) => http.get({ socketPath: socket, path }, onResponse))
    const rssBefore = process.memoryUsage().rss
    const through = await download((onResponse) => https.get({
      host: '127.0.0.1', port: gw.port, path, agent: false, ...tlsOptions(gw.pki.bundle('alice'))
    }, onResponse))
    const rssGrowth = process.memoryUsage().rss - rssBefore
    expect(through.bytes).toBe(direct.bytes)
    expect(through.bytes).toBeGreaterThan(SIZE_MIB * MIB)
    // TLS and a second hop cost something; a stalled relay costs 50 times more.
    expect(through.seconds).toBeLessThan(direct.seconds * 8 + 3)
    // The gateway runs in this process: it buffers a few chunks, not the download.
    expect(rssGrowth).toBeLessThan(SIZE_MIB * MIB)
  })

  // The body streams to the daemon with nothing in between (no counting
  // stream): the bytes are counted as they pass, and the record says
  // exactly how many went, with and without a Content-Length.
  it.each([['with a Content-Length', true], ['chunked', false]])('records the exact bytes of an upload streamed %s, and the daemon gets them all', async (_how, sized) => {
    const size = 5 * MIB + 123
    const tar = tarOf(`up-${sized ? 'sized' : 'chunked'}.bin`, size)
    const answer = await new Promise<{ status: number; id: string }>((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: gw.port, method: 'PUT', path: `/v1.41/containers/${name}/archive?path=/`, agent: false, ...tlsOptions(gw.pki.bundle('alice')),
        headers: { 'content-type': 'application/x-tar', ...(sized ? { 'content-length': String(tar.length) } : {}) }
      }, (res) => {
        res.resume()
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, id: String(res.headers['x-dockgate-request-id']) }) })
      }).on('error', reject)
      // Written in pieces, as a client streaming a build context or `docker cp` does.
      for (let at = 0; at < tar.length; at += 256 * 1024) req.write(tar.subarray(at, at + 256 * 1024))
      req.end()
    })
    expect(answer.status).toBe(200)
    const record = gw.records().find((r) => r.auditID === answer.id && r.stage === 'ResponseComplete')
    expect(record).toMatchObject({ decision: 'allow', status: 200, bytesIn: tar.length, aborted: false })
    const stat = await new Promise<string>((resolve, reject) => {
      http.request({ socketPath: socket, method: 'HEAD', path: `/v1.41/containers/${name}/archive?path=/up-${sized ? 'sized' : 'chunked'}.bin` }, (res) => {
        res.resume()
        resolve(String(res.headers['x-docker-container-path-stat']))
      }).on('error', reject).end()
    })
    expect((JSON.parse(Buffer.from(stat, 'base64').toString()) as { size: number }).size).toBe(size)
  })
})
