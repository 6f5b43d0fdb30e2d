/**
 * Reading the end of an existing audit file, so a writer can continue its
 * chain after a restart or a recovery: the last complete line, and any
 * bytes after it (an incomplete line left by a crash or power loss).
 */
import { readSync } from 'node:fs'

const CHUNK = 64 * 1024
/** A record is at most limits.bodyBytes (256 MiB) plus metadata; anything longer is not one of ours. */
const MAX_LINE = 300 * 1024 * 1024

/** The end of a file: its last complete line (without newline) and what follows it. */
export interface FileTail {
  readonly lastLine: string | null
  /** Bytes after the last newline: empty unless a write was cut short. */
  readonly torn: Buffer
}

/**
 * Reads the tail of the open file `fd` of `size` bytes. Throws on I/O
 * errors and when a line is implausibly long (not an audit file).
 */
export function readTail (fd: number, size: number): FileTail {
  if (size === 0) return { lastLine: null, torn: Buffer.alloc(0) }
  const lastNewline = findNewlineBefore(fd, size)
  const torn = readRange(fd, lastNewline + 1, size)
  if (lastNewline < 0) return { lastLine: null, torn }
  const start = findNewlineBefore(fd, lastNewline) + 1
  return { lastLine: readRange(fd, start, lastNewline).toString('utf8'), torn }
}

// The offset of the last '\n' before `end`, or -1 when there is none.
function findNewlineBefore (fd: number, end: number): number {
  let position = end
  while (position > 0) {
    const length = Math.min(CHUNK, position)
    position -= length
    const chunk = readRange(fd, position, position + length)
    const index = chunk.lastIndexOf(0x0a)
    if (index >= 0) return position + index
    if (end - position > MAX_LINE) throw new Error(`no line break in the last ${MAX_LINE} bytes: not an audit file`)
  }
  return -1
}

function readRange (fd: number, start: number, end: number): Buffer {
  if (end - start > MAX_LINE) throw new Error(`a line of more than ${MAX_LINE} bytes: not an audit file`)
  const buffer = Buffer.alloc(end - start)
  let done = 0
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, start + done)
    if (n === 0) break
    done += n
  }
  return buffer.subarray(0, done)
}
