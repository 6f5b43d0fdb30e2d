// The load generator: raw keep-alive HTTP/1.1 connections (TLS with the
// client certificate, or the Unix socket), one request in flight each, with
// latencies in microseconds. autocannon records whole milliseconds, too
// coarse for a goal of 0.05 ms added latency, and its per-request work
// (histograms, events) costs more than this loop; the same generator serves
// every target, on the same cores, so ratios compare like with like.
import { Buffer } from 'node:buffer'
import net from 'node:net'
import tls from 'node:tls'

/** Opens a connection to a target: `{ port, tls }` or `{ socketPath }`. */
export function connect (target) {
  return new Promise((resolve, reject) => {
    const socket = target.socketPath !== undefined
      ? net.connect(target.socketPath, () => resolve(socket))
      : tls.connect({ host: '127.0.0.1', port: target.port, ...target.tls }, () => resolve(socket))
    socket.once('error', reject)
  })
}

/**
 * Reads HTTP/1.1 responses off a socket: `onResponse(status)` per complete
 * response (Content-Length or chunked bodies).
 */
function responses (socket, onResponse) {
  let buf = Buffer.alloc(0)
  socket.on('data', (chunk) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    for (;;) {
      const head = buf.indexOf('\r\n\r\n')
      if (head < 0) return
      const text = buf.toString('latin1', 0, head)
      const status = Number(text.slice(9, 12))
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(text)
      let end
      if (length !== null) {
        end = head + 4 + Number(length[1])
        if (buf.length < end) return
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(text)) {
        const last = buf.indexOf('\r\n0\r\n\r\n', head + 2)
        if (last < 0) return
        end = last + 7
      } else {
        end = head + 4
      }
      buf = buf.subarray(end)
      onResponse(status)
    }
  })
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

/**
 * `connections` keep-alive connections each sending GET `path` back to back
 * for `seconds`; req/s and p50/p99 latency in ms. Any non-200 fails the run.
 */
export async function keepAlive (target, path, connections, seconds) {
  const request = Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: dockgate-bench\r\n\r\n`)
  const sockets = await Promise.all(Array.from({ length: connections }, () => connect(target)))
  const latencies = []
  let stopped = false
  let failure = null
  const runs = sockets.map((socket) => new Promise((resolve) => {
    let sent = 0n
    const send = () => { sent = process.hrtime.bigint(); socket.write(request) }
    responses(socket, (status) => {
      latencies.push(Number(process.hrtime.bigint() - sent) / 1e6)
      if (status !== 200) failure ??= new Error(`${target.name} ${path}: status ${status}`)
      if (stopped || failure !== null) { socket.destroy(); resolve(); return }
      send()
    })
    socket.on('close', resolve)
    socket.on('error', (err) => { failure ??= err })
    send()
  }))
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  stopped = true
  const elapsed = (performance.now() - started) / 1000
  const done = latencies.length
  await Promise.all(runs)
  if (failure !== null) throw failure
  const sorted = latencies.slice(0, done).sort((a, b) => a - b)
  return { rps: done / elapsed, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
}

/**
 * New mutual-TLS connections per second: `concurrency` loops, each opening
 * a connection (full handshake, no session resumption), sending one
 * GET /_ping with `Connection: close` and waiting for the answer.
 */
export async function newConnections (target, concurrency, seconds) {
  const request = Buffer.from('GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
  const deadline = performance.now() + seconds * 1000
  let count = 0
  const once = async () => {
    const socket = await connect(target)
    await new Promise((resolve, reject) => {
      responses(socket, (status) => {
        if (status !== 200) reject(new Error(`${target.name}: status ${status}`))
        else { count++; resolve() }
        socket.destroy()
      })
      socket.once('error', reject)
      socket.write(request)
    })
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < deadline) await once() }))
  return count / ((performance.now() - started) / 1000)
}

/**
 * Opens `count` GET /events streams and waits for every one's response
 * headers; returns a function closing them all.
 */
export async function openStreams (target, count) {
  const sockets = []
  const batch = 50
  for (let i = 0; i < count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, async () => {
      const socket = await connect(target)
      sockets.push(socket)
      await new Promise((resolve, reject) => {
        let head = ''
        const onData = (chunk) => {
          head += chunk.toString('latin1')
          if (!head.includes('\r\n\r\n')) return
          socket.off('data', onData)
          if (!head.startsWith('HTTP/1.1 200')) reject(new Error(`${target.name} /events: ${head.split('\r\n')[0]}`))
          else resolve()
        }
        socket.on('data', onData)
        socket.once('error', reject)
        socket.write('GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n')
      })
    }))
  }
  return () => { for (const s of sockets) s.destroy() }
}
