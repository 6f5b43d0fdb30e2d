// Large transfers, as `docker cp` makes them: a tar archive uploaded with
// PUT /containers/{id}/archive and a file downloaded with GET of the same
// endpoint. Throughput in MiB/s, measured by the client from the first
// byte sent to the last byte received.
import { Buffer } from 'node:buffer'
import http from 'node:http'
import https from 'node:https'
import { clearInterval, setInterval } from 'node:timers'

const MiB = 1048576

/** One ustar header for a regular file `name` of `size` bytes. */
function tarHeader (name, size) {
  const h = Buffer.alloc(512)
  const put = (text, at) => { h.write(text, at, 'latin1') }
  put(name, 0); put('0000644\0', 100); put('0000000\0', 108); put('0000000\0', 116)
  put(size.toString(8).padStart(11, '0') + '\0', 124); put('00000000000\0', 136)
  put('        ', 148); put('0', 156); put('ustar\0', 257); put('00', 263)
  let sum = 0
  for (const b of h) sum += b
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return h
}

function request (target, options) {
  return target.socketPath !== undefined
    ? http.request({ socketPath: target.socketPath, ...options })
    : https.request({ host: '127.0.0.1', port: target.port, agent: false, ...target.tls, ...options })
}

/** Uploads a tar holding `mib` MiB of zeros as /big.bin into container `id`; MiB/s. `onTick` runs every 100 ms meanwhile. */
export async function upload (target, id, mib, onTick = () => {}) {
  const started = performance.now()
  const tick = setInterval(onTick, 100)
  try {
    await new Promise((resolve, reject) => {
      const req = request(target, {
        method: 'PUT', path: `/containers/${id}/archive?path=/`,
        headers: { 'content-type': 'application/x-tar', 'content-length': String(512 + mib * MiB + 1024) }
      })
      req.on('response', (res) => {
        res.resume()
        res.on('end', () => res.statusCode === 200 ? resolve() : reject(new Error(`${target.name} upload: ${res.statusCode}`)))
      }).on('error', reject)
      const chunk = Buffer.alloc(MiB)
      let left = mib
      const more = () => {
        while (left > 0) {
          left--
          if (!req.write(chunk)) { req.once('drain', more); return }
        }
        req.end(Buffer.alloc(1024))
      }
      req.write(tarHeader('big.bin', mib * MiB))
      more()
    })
  } finally {
    clearInterval(tick)
  }
  return mib / ((performance.now() - started) / 1000)
}

/** Downloads /big.bin from container `id` as a tar; MiB/s. */
export async function download (target, id) {
  const started = performance.now()
  const bytes = await new Promise((resolve, reject) => {
    request(target, { method: 'GET', path: `/containers/${id}/archive?path=/big.bin` })
      .on('response', (res) => {
        if (res.statusCode !== 200) reject(new Error(`${target.name} download: ${res.statusCode}`))
        let n = 0
        res.on('data', (c) => { n += c.length }).on('end', () => resolve(n)).on('error', reject)
      }).on('error', reject).end()
  })
  return bytes / MiB / ((performance.now() - started) / 1000)
}
