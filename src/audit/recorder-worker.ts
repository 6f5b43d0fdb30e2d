/**
 * The recorder thread (recorder-host.ts): runs each session's
 * SessionRecorder on the messages the serving thread posts, in order, with
 * the times the bytes passed there, and answers each `close` with the
 * recording's summary once its file is written and fsynced.
 */
import { parentPort } from 'node:worker_threads'
import { SessionRecorder } from './session-recorder.js'
import type { HostMessage, WorkerReply } from './recorder-host.js'

const recorders = new Map<number, SessionRecorder>()
// The time of the message being handled: each recorder's clock.
let now = 0

parentPort?.on('message', (message: HostMessage) => {
  if (message.op === 'open') {
    recorders.set(message.id, new SessionRecorder({ ...message.options, clock: () => now }, message.fd, false))
    return
  }
  const recorder = recorders.get(message.id)
  now = message.t
  if (recorder === undefined) return
  switch (message.op) {
    case 'begin': return recorder.begin(message.format, message.size)
    case 'output': return recorder.output(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength))
    case 'input': return recorder.input(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength))
    case 'resize': return recorder.resize(message.cols, message.rows)
    case 'overrun': return recorder.overrun()
    case 'close':
      recorders.delete(message.id)
      void recorder.close().then((summary) => { parentPort?.postMessage({ id: message.id, summary } satisfies WorkerReply) })
  }
})
