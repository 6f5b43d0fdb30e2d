/**
 * Which sessions level `session` records, and terminal resizes reaching
 * the recordings open for the exec instance or container they name.
 */
import { describe, expect, it } from 'vitest'
import { isTerminalSession, OpenRecordings, type RecordingTap } from '../../../src/gateway/session-recording.js'
import type { RequestBase } from '../../../src/gateway/records.js'

function base (method: string, target: string, ref: RequestBase['objectRef'], upgrade: string | null = null): RequestBase {
  return {
    schema: 1, auditID: 'a', receivedAt: '', client: { address: '127.0.0.1' }, objectRef: ref,
    request: { method, target, path: target.split('?')[0]?.replace(/^\/v[\d.]+/, '') ?? null, apiVersion: '1.41', upgrade }
  }
}

function tap (): RecordingTap & { sizes: string[] } {
  const sizes: string[] = []
  return { sizes, begin () {}, output () {}, input () {}, close: () => undefined, summary: () => null, resize (cols, rows) { sizes.push(`${cols}x${rows}`) } }
}

describe('session recording in the gateway', () => {
  it('records exec start and attach upgraded to tcp, nothing else', () => {
    expect(isTerminalSession(base('POST', '/v1.41/exec/e1/start', { resource: 'exec', name: 'e1', subresource: 'start' }, 'tcp'))).toBe(true)
    expect(isTerminalSession(base('POST', '/v1.41/containers/web/attach?stream=1', { resource: 'containers', name: 'web', subresource: 'attach' }, 'tcp'))).toBe(true)
    expect(isTerminalSession(base('POST', '/v1.41/exec/e1/start', { resource: 'exec', name: 'e1', subresource: 'start' }))).toBe(false)
    expect(isTerminalSession(base('GET', '/v1.41/containers/web/attach/ws', { resource: 'containers', name: 'web', subresource: 'attach' }, 'websocket'))).toBe(false)
    expect(isTerminalSession(base('POST', '/v1.41/session', null, 'h2c'))).toBe(false)
  })

  it('an accepted resize reaches every recording open for its object, and only those', () => {
    const open = new OpenRecordings()
    const [exec, other, container] = [tap(), tap(), tap()]
    const remove = open.add(base('POST', '/exec/e1/start', { resource: 'exec', name: 'e1', subresource: 'start' }, 'tcp'), exec)
    open.add(base('POST', '/exec/e2/start', { resource: 'exec', name: 'e2', subresource: 'start' }, 'tcp'), other)
    open.add(base('POST', '/containers/web/attach', { resource: 'containers', name: 'web', subresource: 'attach' }, 'tcp'), container)
    open.ended(base('POST', '/v1.41/exec/e1/resize?h=30&w=100', { resource: 'exec', name: 'e1', subresource: 'resize' }), 200)
    open.ended(base('POST', '/v1.41/containers/web/resize?h=40&w=120', { resource: 'containers', name: 'web', subresource: 'resize' }), 200)
    // Refused, not a resize, or a size that is not one: nothing.
    open.ended(base('POST', '/v1.41/exec/e1/resize?h=50&w=200', { resource: 'exec', name: 'e1', subresource: 'resize' }), 404)
    open.ended(base('GET', '/v1.41/exec/e1/json', { resource: 'exec', name: 'e1', subresource: 'json' }), 200)
    open.ended(base('POST', '/v1.41/exec/e1/resize?h=0&w=x', { resource: 'exec', name: 'e1', subresource: 'resize' }), 200)
    remove()
    open.ended(base('POST', '/v1.41/exec/e1/resize?h=31&w=101', { resource: 'exec', name: 'e1', subresource: 'resize' }), 200)
    expect([exec.sizes, other.sizes, container.sizes]).toEqual([['100x30'], [], ['120x40']])
  })
})
