/**
 * Docker's multiplexed stream format (what `docker exec` and `attach`
 * without a TTY send): each frame is an 8-byte header, `[STREAM, 0, 0, 0,
 * SIZE as uint32 big-endian]`, then SIZE bytes of that stream (1 stdout,
 * 2 stderr; 0 stdin and 3 the daemon's own error are rare).
 *
 * Invariants: pieces come out in arrival order and are never held back
 * waiting for the rest of a frame (a frame's payload is passed on in as many
 * pieces as it arrived in), so what is recorded keeps the session's timing;
 * the only bytes buffered are an incomplete header (at most 7). A header
 * that is not one (bytes 1 to 3 not zero, or a stream above 3) means the
 * stream is not multiplexed after all: that byte and everything after it
 * are passed on as raw output, as the docker CLI would fail there instead.
 */

/** Which stream a piece of payload belongs to. */
export type StreamKind = 'stdin' | 'stdout' | 'stderr' | 'system'

/** A piece of one stream's payload. `raw`: the input stopped being frames; what follows is unframed output. */
export interface StreamPiece {
  readonly stream: StreamKind | 'raw'
  readonly data: Buffer
}

const HEADER = 8
const KINDS: readonly StreamKind[] = ['stdin', 'stdout', 'stderr', 'system']

/** Splits a multiplexed stream, chunk by chunk, into pieces of its streams. */
export class FrameDemuxer {
  private header = Buffer.alloc(0)
  private stream: StreamKind = 'stdout'
  /** Payload bytes of the current frame still to come. */
  private left = 0
  private raw = false

  /** The pieces `chunk` completes or continues, in order. */
  push (chunk: Buffer): StreamPiece[] {
    if (this.raw) return chunk.length === 0 ? [] : [{ stream: 'raw', data: chunk }]
    const pieces: StreamPiece[] = []
    let at = 0
    while (at < chunk.length) {
      if (this.left > 0) {
        const take = Math.min(this.left, chunk.length - at)
        pieces.push({ stream: this.stream, data: chunk.subarray(at, at + take) })
        this.left -= take
        at += take
        continue
      }
      const need = HEADER - this.header.length
      const part = chunk.subarray(at, at + need)
      this.header = this.header.length === 0 ? Buffer.from(part) : Buffer.concat([this.header, part])
      at += part.length
      if (this.header.length < HEADER) break
      const kind = KINDS[this.header[0] ?? 255]
      if (kind === undefined || this.header[1] !== 0 || this.header[2] !== 0 || this.header[3] !== 0) {
        this.raw = true
        pieces.push({ stream: 'raw', data: Buffer.concat([this.header, chunk.subarray(at)]) })
        this.header = Buffer.alloc(0)
        return pieces
      }
      this.stream = kind
      this.left = this.header.readUInt32BE(4)
      this.header = Buffer.alloc(0)
    }
    return pieces
  }

  /** Bytes held that never became a whole header (a stream cut mid-header); empty normally. */
  rest (): Buffer {
    return this.header
  }
}

/**
 * Whether the first bytes of a stream look like a frame header. Used only
 * where the daemon does not say which format it sends (attach on API
 * versions before 1.42 always says raw): a terminal's output practically
 * never starts with a byte from 0 to 3 followed by three zero bytes.
 */
export function looksMultiplexed (first: Buffer): boolean {
  return first.length >= 4 && (first[0] ?? 255) <= 3 && first[1] === 0 && first[2] === 0 && first[3] === 0
}
