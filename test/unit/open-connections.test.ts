// The gateway's open connections, with a fake clock: each is closed and
// audited the moment its certificate's notAfter passes, not before, also
// when that is further away than one setTimeout can wait (2^31−1 ms).
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AuditLog } from '../../src/audit/log.js'
import type { AuditRecord } from '../../src/audit/record.js'
import { OpenConnections } from '../../src/app/open-connections.js'
import type { CertificateIdentity } from '../../src/tls/identity.js'

const DAY = 86_400_000

class FakeSocket extends EventEmitter {
  destroyed = false
  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.emit('close')
  }
}

function identity (notAfter: Date): CertificateIdentity {
  return {
    subject: 'CN=brief', issuer: 'CN=ca', cn: ['brief'], ou: [], o: [], sanDns: [], sanUri: [], sanEmail: [],
    serial: '0A', fingerprint256: 'AA', issuerFingerprint256: 'CA', notAfter: notAfter.toISOString()
  }
}

describe('OpenConnections', () => {
  let written: AuditRecord[]
  let open: OpenConnections
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date('2026-11-24T12:00:00Z') })
    written = []
    open = new OpenConnections({ write: (record: AuditRecord) => { written.push(record); return true } } as unknown as AuditLog)
  })
  afterEach(() => { vi.useRealTimers() })

  const add = (notAfter: Date): FakeSocket => {
    const socket = new FakeSocket()
    open.add(socket as unknown as Socket, { identity: identity(notAfter), remoteAddress: '127.0.0.1', remotePort: 5000 })
    return socket
  }

  it('closes a connection once its certificate expires (notAfter is its last valid moment), audited as DG_CONNECTION_EXPIRED', () => {
    const socket = add(new Date(Date.now() + 5000))
    vi.advanceTimersByTime(5000)
    expect(socket.destroyed).toBe(false)
    vi.advanceTimersByTime(1)
    expect(socket.destroyed).toBe(true)
    expect(open.sockets.size).toBe(0)
    expect(written).toEqual([expect.objectContaining({
      stage: 'ConnectionClosed', code: 'DG_CONNECTION_EXPIRED', tls: { reason: 'expired', detail: 'CERT_HAS_EXPIRED' },
      client: { address: '127.0.0.1', port: 5000 }, identity: expect.objectContaining({ serial: '0A' }) as unknown
    })])
  })

  it('waits past the setTimeout limit without firing early or spinning', () => {
    const wait = vi.spyOn(globalThis, 'setTimeout')
    const socket = add(new Date(Date.now() + 30 * DAY))
    vi.advanceTimersByTime(1000)
    // One timer, not one re-armed every millisecond (what an overflowing delay does).
    expect(wait).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(30 * DAY - 1000)
    expect(socket.destroyed).toBe(false)
    vi.advanceTimersByTime(1)
    expect(socket.destroyed).toBe(true)
    expect(wait).toHaveBeenCalledTimes(2)
  })

  it('forgets a connection that closed on its own, writing nothing when its certificate expires later', () => {
    const socket = add(new Date(Date.now() + 5000))
    socket.destroy()
    vi.advanceTimersByTime(10_000)
    expect(written).toEqual([])
    expect(vi.getTimerCount()).toBe(0)
  })
})
