#!/usr/bin/env node
// The floor of this stack: a Node mutual-TLS forwarder that does nothing but
// verify the client certificate and forward each request over a keep-alive
// Unix socket agent. No policy, no audit, no framework. dockgate's goal is
// to come close to this (issue 12).
//
//   node bench/bare-forwarder.mjs PORT CA CERT KEY SOCKET
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'

const [port, ca, cert, key, socketPath] = process.argv.slice(2)
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256 })
https.createServer({ ca: readFileSync(ca), cert: readFileSync(cert), key: readFileSync(key), requestCert: true, rejectUnauthorized: true }, (req, res) => {
  const up = http.request({ socketPath, agent, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers)
    // A stream (events, logs -f) sends its headers before any body: relay them at once.
    res.flushHeaders()
    answer.pipe(res)
  })
  up.on('error', () => { res.destroy() })
  req.pipe(up)
}).listen(Number(port), '127.0.0.1', () => { process.send?.('ready') })
