/**
 * Writing asciicast v2 (the report reads it back: cast.ts), the recording
 * format asciinema and its web player read
 * (https://docs.asciinema.org/manual/asciicast/v2/): a header line, a JSON
 * object, then one JSON array per event, `[SECONDS, CODE, DATA]`, with
 * SECONDS since the session opened, CODE `o` (output shown to the user),
 * `i` (input the user sent), `r` (terminal resized, DATA `COLSxROWS`) or
 * `m` (a marker, DATA its label).
 *
 * Invariants: every line is one JSON value followed by `\n`; DATA is text
 * decoded as UTF-8 with one decoder per stream, so a character split
 * across chunks (or frames) is decoded whole, never as two replacement
 * characters; bytes that are not UTF-8 become U+FFFD, as in asciinema.
 */
import { StringDecoder } from 'node:string_decoder'

/** The header line's fields; `dockgate` is ours (players ignore keys they do not know). */
export interface CastHeader {
  readonly width: number
  readonly height: number
  /** Unix time (seconds) when the session opened. */
  readonly timestamp: number
  readonly title: string
  readonly env: Readonly<Record<string, string>>
  readonly dockgate: {
    readonly auditID: string
    /** Whether the session had a terminal (raw bytes) or was multiplexed stdout and stderr. */
    readonly tty: boolean
    /** Whether input is recorded (`i` events). */
    readonly input: boolean
  }
}

/** An event's code. */
export type CastCode = 'o' | 'i' | 'r' | 'm'

/** The header line, ending in `\n`. */
export function castHeader (header: CastHeader): string {
  return JSON.stringify({ version: 2, width: header.width, height: header.height, timestamp: header.timestamp, env: header.env, title: header.title, dockgate: header.dockgate }) + '\n'
}

/** One event line, ending in `\n`; `seconds` is kept to the microsecond. */
export function castEvent (seconds: number, code: CastCode, data: string): string {
  return `[${(Math.round(seconds * 1e6) / 1e6).toFixed(6)}, ${JSON.stringify(code)}, ${JSON.stringify(data)}]\n`
}

/**
 * One stream's bytes as text: a UTF-8 decoder that keeps a character split
 * across chunks for the next one. With `lineEnds`, a `\n` not preceded by
 * `\r` becomes `\r\n`: what a terminal does to a program's output when no
 * TTY is involved (the client's own terminal translates it; a player does
 * not), so a non-TTY recording shows lines as the user saw them.
 */
export class StreamText {
  private readonly decoder = new StringDecoder('utf8')
  private lastWasCr = false

  constructor (private readonly lineEnds: boolean) {}

  /** The text `chunk` completes; empty when it holds only part of a character. */
  write (chunk: Buffer): string {
    return this.fix(this.decoder.write(chunk))
  }

  /** What is left at the end of the stream (an incomplete character becomes U+FFFD). */
  end (): string {
    return this.fix(this.decoder.end())
  }

  private fix (text: string): string {
    if (!this.lineEnds || text === '') return text
    // A \n right after a \r that ended the chunk before is already a line end.
    const head = this.lastWasCr && text.startsWith('\n') ? '\n' : ''
    this.lastWasCr = text.endsWith('\r')
    return head + text.slice(head.length).replace(LINE_END, '\r\n')
  }
}

const LINE_END = /\r?\n/g

/** The parts of a cast file a reader needs. */
export interface ParsedEvent {
  readonly seconds: number
  readonly code: string
  readonly data: string
}

/** Reads one event line; null when the line is not an event (the caller says where). */
export function parseCastEvent (line: string): ParsedEvent | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (!Array.isArray(value) || value.length < 3) return null
  const [seconds, code, data] = value as unknown[]
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0 || typeof code !== 'string' || typeof data !== 'string') return null
  return { seconds, code, data }
}

/** Reads a header line: the fields a player needs, or null when it is not an asciicast v2 header. */
export function parseCastHeader (line: string): { width: number; height: number; timestamp: number | null; title: string | null } | null {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    return null
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null
  const header = value as Record<string, unknown>
  if (header.version !== 2 || typeof header.width !== 'number' || typeof header.height !== 'number') return null
  return {
    width: header.width,
    height: header.height,
    timestamp: typeof header.timestamp === 'number' ? header.timestamp : null,
    title: typeof header.title === 'string' ? header.title : null
  }
}
