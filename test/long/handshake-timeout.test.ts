/**
 * A bare TCP connection that never starts a TLS handshake is closed at the
 * handshake timeout (10 s), not reported and then kept open. It waits the
 * timeout out in real time, so it is in `npm run test:long`; the rest of
 * what happens before verification is in test/integration/unverified.test.ts.
 */
import type net from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest'
import { bare, closedWithin } from '../support/clients.js'
import { startRuntime, type RuntimeHarness } from '../support/runtime.js'

const socket = inject('dockerSocket')
const POLICY = 'version: 1\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: ["* /**"]\n'
const CLIENTS = [['--cn', 'alice', '--ou', 'platform']]

const held: net.Socket[] = []
afterEach(() => { for (const s of held.splice(0)) s.destroy() })

describe.skipIf(socket === '')('connections that never finish a TLS handshake', () => {
  let gw: RuntimeHarness
  beforeAll(async () => {
    gw = await startRuntime({ socket, policy: POLICY, clients: CLIENTS, extraConfig: 'limits:\n  maxConnections: 4\n' })
  })
  afterAll(async () => { await gw?.close() })

  it('are closed at the handshake timeout when the client sends nothing', async () => {
    const s = await bare(gw.port)
    held.push(s)
    // handshakeTimeout is 10 s; before the fix the socket was reported and then kept open.
    expect(await closedWithin(s, 13_000)).toBe(true)
  }, 20_000)
})
