// The gateway's open connections, with a fake clock: each is closed and
// audited the moment its certificate's notAfter passes, not before, also
// when that is further away than one setTimeout can wait (2^31−1 ms); and
// when tls.ca changes, those whose certificate no new CA issued.
import { X509Certificate } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { AuditLog } from '../../../src/audit/log.js'
import type { AuditRecord } from '../../../src/audit/record.js'
import { OpenConnections } from '../../../src/gateway/open-connections.js'
import { tlsConnection } from '../../../src/gateway/connection.js'
import { createCa, issueClientCertificate } from '../../../src/certs/issue.js'
import type { CertificateIdentity } from '../../../src/tls/identity.js'

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

  const add = (notAfter: Date, chain: readonly X509Certificate[] = []): FakeSocket => {
    const socket = new FakeSocket()
    open.add(socket as unknown as Socket, tlsConnection(identity(notAfter), '127.0.0.1', 5000), () => chain)
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

  it('when tls.ca changes, closes only the connections whose certificate no CA in it issued', () => {
    vi.useRealTimers()
    const oldCa = createCa({ commonName: 'old CA', days: 30 })
    const newCa = createCa({ commonName: 'new CA', days: 30 })
    const x509 = (pem: string): X509Certificate => new X509Certificate(pem)
    const ofOld = x509(issueClientCertificate(oldCa, { cn: 'a', ous: [], days: 1 }).certPem)
    const ofNew = x509(issueClientCertificate(newCa, { cn: 'b', ous: [], days: 1 }).certPem)
    const later = new Date(Date.now() + 3_600_000)
    const fromOld = add(later, [ofOld, x509(oldCa.certPem)])
    const fromNew = add(later, [ofNew, x509(newCa.certPem)])
    const unreadable = add(later, [])
    // Both CAs trusted (rotation with overlap): nothing to close, except what cannot be checked.
    expect(open.closeUntrusted([x509(oldCa.certPem), x509(newCa.certPem)])).toBe(1)
    expect([fromOld.destroyed, fromNew.destroyed, unreadable.destroyed]).toEqual([false, false, true])
    expect(open.closeUntrusted([x509(newCa.certPem)])).toBe(1)
    expect([fromOld.destroyed, fromNew.destroyed]).toEqual([true, false])
    expect(written.map((record) => [record.code, record.tls])).toEqual([
      ['DG_CONNECTION_UNTRUSTED', { reason: 'unknown-ca', detail: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }],
      ['DG_CONNECTION_UNTRUSTED', { reason: 'unknown-ca', detail: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' }]
    ])
  })
})
