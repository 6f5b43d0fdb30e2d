import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { onClientGone } from '../../../src/proxy/client-gone.js'

const closed = async (socket: PassThrough): Promise<void> => await new Promise((resolve) => { socket.once('close', () => { setImmediate(resolve) }) })

describe('onClientGone', () => {
  it('tells every exchange on a connection once when it closes, through one listener', async () => {
    const socket = new PassThrough()
    const calls: number[] = []
    for (let i = 0; i < 50; i++) onClientGone(socket, () => { calls.push(i) })
    expect(socket.listenerCount('close')).toBe(1)
    const done = closed(socket)
    socket.destroy()
    await done
    expect(calls).toEqual(Array.from({ length: 50 }, (_, i) => i))
  })

  it('does not call an exchange that cancelled (it ended on its own)', async () => {
    const socket = new PassThrough()
    let called = 0
    const cancel = onClientGone(socket, () => { called += 1 })
    cancel()
    const done = closed(socket)
    socket.destroy()
    await done
    expect(called).toBe(0)
  })

  it('calls at once for a connection already closed', () => {
    const socket = new PassThrough()
    socket.destroy()
    let called = 0
    onClientGone(socket, () => { called += 1 })
    expect(called).toBe(1)
  })
})
