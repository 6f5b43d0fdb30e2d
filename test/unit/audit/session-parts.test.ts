/**
 * The parts of session recording on their own: Docker's stream frames
 * split however the network splits them, UTF-8 split across chunks and
 * frames, the asciicast lines, and the recorder's file (caps, hash,
 * permissions, no file for a session that never opened).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FrameDemuxer, looksMultiplexed, type StreamPiece } from '../../../src/audit/stream-frames.js'
import { castEvent, castHeader, parseCastEvent, parseCastHeader, StreamText } from '../../../src/audit/cast-format.js'
import { SessionRecorder, type RecorderOptions } from '../../../src/audit/session-recorder.js'
import { recordingPath, recordingProblems } from '../../../src/audit/recording-check.js'
import type { FileSummary } from '../../../src/audit/verify.js'

function frame (stream: number, payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload
  const header = Buffer.alloc(8)
  header[0] = stream
  header.writeUInt32BE(data.length, 4)
  return Buffer.concat([header, data])
}

/** Splits `bytes` at the given offsets (sorted, deduplicated, within range). */
function split (bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Buffer[] = []
  let from = 0
  for (const cut of [...at, bytes.length]) {
    chunks.push(bytes.subarray(from, cut))
    from = cut
  }
  return chunks
}

/** Joins the pieces of each stream. */
function byStream (pieces: readonly StreamPiece[]): Record<string, string> {
  const out: Record<string, Buffer[]> = {}
  for (const p of pieces) (out[p.stream] ??= []).push(p.data)
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Buffer.concat(v).toString('utf8')]))
}

describe('FrameDemuxer', () => {
  it('splits frames whose headers and payloads are cut anywhere, keeping each stream\'s bytes in order', () => {
    const wire = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err ä\n'), frame(1, ''), frame(1, 'out two €\n'), frame(2, 'err 2\n')])
    fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
      const demuxer = new FrameDemuxer()
      const pieces = split(wire, cuts).flatMap((chunk) => demuxer.push(chunk))
      expect(byStream(pieces)).toEqual({ stdout: 'out one\nout two €\n', stderr: 'err ä\nerr 2\n' })
      expect(demuxer.rest().length).toBe(0)
    }))
  })

  it('passes a payload on as it arrives, never waiting for the rest of its frame', () => {
    const demuxer = new FrameDemuxer()
    const whole = frame(1, 'abcdef')
    expect(demuxer.push(whole.subarray(0, 10))).toEqual([{ stream: 'stdout', data: Buffer.from('ab') }])
    expect(demuxer.push(whole.subarray(10))).toEqual([{ stream: 'stdout', data: Buffer.from('cdef') }])
  })

  it('holds at most an incomplete header, and tells what is left when the stream ends inside one', () => {
    const demuxer = new FrameDemuxer()
    expect(demuxer.push(frame(2, 'x').subarray(0, 5))).toEqual([])
    expect(demuxer.rest().length).toBe(5)
  })

  it('a header that is not one: everything from there on is raw output, nothing dropped', () => {
    const demuxer = new FrameDemuxer()
    const pieces = [...demuxer.push(frame(1, 'ok\n')), ...demuxer.push(Buffer.from('not a frame header')), ...demuxer.push(Buffer.from(' more'))]
    expect(byStream(pieces)).toEqual({ stdout: 'ok\n', raw: 'not a frame header more' })
  })

  it('looksMultiplexed: a frame header start, not a terminal\'s output', () => {
    expect(looksMultiplexed(frame(1, 'x'))).toBe(true)
    expect(looksMultiplexed(Buffer.from('/ # '))).toBe(false)
    expect(looksMultiplexed(Buffer.from([1, 0, 0]))).toBe(false)
  })
})

describe('StreamText and the asciicast lines', () => {
  it('decodes UTF-8 split across chunks anywhere into whole characters', () => {
    const text = 'añ€😀 end'
    const bytes = Buffer.from(text)
    fc.assert(fc.property(fc.array(fc.nat(), { maxLength: 8 }), (cuts) => {
      const stream = new StreamText(false)
      const decoded = split(bytes, cuts).map((c) => stream.write(c)).join('') + stream.end()
      expect(decoded).toBe(text)
    }))
  })

  it('with lineEnds, a lone \\n becomes \\r\\n, also when the \\r ended the chunk before', () => {
    const stream = new StreamText(true)
    expect(stream.write(Buffer.from('a\nb\r'))).toBe('a\r\nb\r')
    expect(stream.write(Buffer.from('\nc\n\n'))).toBe('\nc\r\n\r\n')
    expect(new StreamText(false).write(Buffer.from('a\n'))).toBe('a\n')
  })

  it('bytes that are not UTF-8 become U+FFFD, and an incomplete last character too', () => {
    const stream = new StreamText(false)
    expect(stream.write(Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82]))).toBe('a\uFFFDb')
    expect(stream.end()).toBe('\uFFFD')
  })

  it('writes one JSON value per line that asciicast readers parse back', () => {
    const header = castHeader({ width: 120, height: 40, timestamp: 1764800000, title: 'CN=alice: POST /exec/1/start', env: {}, dockgate: { auditID: 'a', tty: true, input: false } })
    expect(header.endsWith('}\n')).toBe(true)
    expect(JSON.parse(header)).toMatchObject({ version: 2, width: 120, height: 40, timestamp: 1764800000, env: {}, title: 'CN=alice: POST /exec/1/start' })
    expect(parseCastHeader(header.trimEnd())).toEqual({ width: 120, height: 40, timestamp: 1764800000, title: 'CN=alice: POST /exec/1/start' })
    const event = castEvent(1.2345678, 'o', 'line\r\n"quoted" \u001b[31mred\u001b[0m\n')
    expect(event).toBe('[1.234568, "o", "line\\r\\n\\"quoted\\" \\u001b[31mred\\u001b[0m\\n"]\n')
    expect(parseCastEvent(event.trimEnd())).toEqual({ seconds: 1.234568, code: 'o', data: 'line\r\n"quoted" \u001b[31mred\u001b[0m\n' })
    expect(parseCastEvent('{"not":"an event"}')).toBeNull()
    expect(parseCastHeader('{"version":1,"width":80,"height":24}')).toBeNull()
  })
})

describe('SessionRecorder', () => {
  const make = (over: Partial<RecorderOptions> = {}): { recorder: SessionRecorder; file: string; tick: (ms: number) => void } => {
    const dir = join(mkdtempSync(join(tmpdir(), 'dockgate-rec-')), 'sessions')
    let now = 0
    const options = { dir, auditDir: join(dir, '..'), auditID: 'id-1', title: 't', input: false, maxBytes: 64 * 1024, maxSeconds: 60, clock: () => now, ...over }
    return { recorder: new SessionRecorder(options), file: join(dir, `${options.auditID}.cast`), tick: (ms) => { now += ms } }
  }
  const events = (file: string): Array<[number, string, string]> =>
    readFileSync(file, 'utf8').trimEnd().split('\n').slice(1).map((l) => JSON.parse(l) as [number, string, string])

  it('records output with its time, names the file relative to the audit folder, and hashes exactly the file', async () => {
    const { recorder, file, tick } = make({ input: true })
    recorder.begin('tty', { width: 100, height: 30 })
    tick(250)
    recorder.output(Buffer.from('hello '))
    recorder.output(Buffer.from([0xe2, 0x82]))
    tick(250)
    recorder.output(Buffer.from([0xac, 0x0a]))
    recorder.input(Buffer.from('ls\r'))
    recorder.resize(120, 40)
    const summary = await recorder.close()
    const bytes = readFileSync(file)
    expect(summary).toEqual({ file: 'sessions/id-1.cast', bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), truncated: null, input: true })
    expect(JSON.parse(bytes.toString().split('\n')[0] ?? '')).toMatchObject({ version: 2, width: 100, height: 30, dockgate: { auditID: 'id-1', tty: true, input: true } })
    expect(events(file)).toEqual([[0.25, 'o', 'hello '], [0.5, 'o', '€\n'], [0.5, 'i', 'ls\r'], [0.5, 'r', '120x40']])
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(statSync(join(file, '..')).mode & 0o777).toBe(0o700)
  })

  it('does not record input unless asked to', async () => {
    const { recorder, file } = make()
    recorder.begin('multiplexed', { width: 80, height: 24 })
    recorder.input(Buffer.from('secret\n'))
    recorder.output(frame(1, 'shown\n'))
    expect((await recorder.close())?.input).toBe(false)
    expect(events(file)).toEqual([[0, 'o', 'shown\r\n']])
  })

  it('a sniffed stream is demultiplexed when it starts with a frame header, and left raw when not', async () => {
    const framed = make()
    framed.recorder.begin('sniff', { width: 80, height: 24 })
    const wire = frame(1, 'out\n')
    framed.recorder.output(wire.subarray(0, 2))
    framed.recorder.output(wire.subarray(2))
    await framed.recorder.close()
    expect(events(framed.file).map((e) => e[2]).join('')).toBe('out\r\n')
    const raw = make()
    raw.recorder.begin('sniff', { width: 80, height: 24 })
    raw.recorder.output(Buffer.from('/'))
    await raw.recorder.close()
    expect(events(raw.file).map((e) => e[2]).join('')).toBe('/')
  })

  it('the size cap keeps what fits, then says so in the file and the summary; later output is not recorded', async () => {
    const { recorder, file } = make({ maxBytes: 4096 })
    recorder.begin('tty', { width: 80, height: 24 })
    recorder.output(Buffer.from('a'.repeat(10_000)))
    recorder.output(Buffer.from('after the cap'))
    const summary = await recorder.close()
    expect(summary?.truncated).toBe('size')
    expect(summary?.bytes).toBeLessThanOrEqual(4096)
    expect(readFileSync(file).length).toBe(summary?.bytes)
    const recorded = events(file)
    expect(recorded[0]?.[2]).toMatch(/^a{3000,}$/)
    expect(recorded.slice(1).map((e) => e.slice(1))).toEqual([
      ['o', '\r\n[dockgate: recording stopped: it reached audit.sessionMaxBytes (4096 bytes); the session went on unrecorded]\r\n'],
      ['m', 'dockgate: recording stopped (size)']
    ])
  })

  it('the duration cap stops recording at maxSeconds', async () => {
    const { recorder, file, tick } = make({ maxSeconds: 2 })
    recorder.begin('tty', { width: 80, height: 24 })
    recorder.output(Buffer.from('early'))
    tick(2500)
    recorder.output(Buffer.from('late'))
    const summary = await recorder.close()
    expect(summary?.truncated).toBe('duration')
    expect(events(file).map((e) => e.slice(0, 2).concat(e[2]?.slice(0, 30) ?? ''))).toEqual([
      [0, 'o', 'early'], [2, 'o', '\r\n[dockgate: recording stopped'], [2, 'm', 'dockgate: recording stopped (d']
    ])
  })

  it('a session that never opened leaves no file; an existing file is never reused', async () => {
    const { recorder, file } = make()
    expect(existsSync(file)).toBe(true)
    expect(await recorder.close()).toBeNull()
    expect(existsSync(file)).toBe(false)
    const first = make({ auditID: 'same' })
    expect(() => new SessionRecorder({ dir: join(first.file, '..'), auditDir: '/', auditID: 'same', title: '', input: false, maxBytes: 4096, maxSeconds: 1 }))
      .toThrow(/cannot create the session recording .*same\.cast: EEXIST/)
    await first.recorder.close()
  })

  it('names a recording outside the audit folder by its absolute path', async () => {
    const { recorder, file } = make({ auditDir: '/nonexistent/audit' })
    recorder.begin('tty', { width: 80, height: 24 })
    expect((await recorder.close())?.file).toBe(file)
  })
})

describe('recording checks (audit verify)', () => {
  it('looks for a recording beside the audit file, at its absolute path, or by name in --sessions DIR', () => {
    expect(recordingPath({ file: 'sessions/a.cast' }, '/var/log/dockgate/audit.2026.jsonl.gz')).toBe('/var/log/dockgate/sessions/a.cast')
    expect(recordingPath({ file: '/srv/rec/a.cast' }, '/var/log/dockgate/audit.jsonl')).toBe('/srv/rec/a.cast')
    expect(recordingPath({ file: '/srv/rec/a.cast' }, '/var/log/dockgate/audit.jsonl', '/evidence/sessions')).toBe('/evidence/sessions/a.cast')
  })

  it('reports a recording that is missing, or differs in size or hash, at its record\'s line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dockgate-check-'))
    const recorder = new SessionRecorder({ dir: join(dir, 'sessions'), auditDir: dir, auditID: 'r1', title: '', input: false, maxBytes: 4096, maxSeconds: 60 })
    recorder.begin('tty', { width: 80, height: 24 })
    recorder.output(Buffer.from('x'))
    const summary = await recorder.close()
    if (summary === null) throw new Error('recorded')
    const file = join(dir, 'audit.jsonl')
    const of = (refs: FileSummary['recordings']): FileSummary => ({ file, lines: 3, records: 3, first: null, last: null, problems: [], notes: [], anchored: [], recordings: refs })
    expect(await recordingProblems(of([{ line: 2, auditID: 'r1', ...summary }]))).toEqual([])
    const problems = await recordingProblems(of([
      { line: 2, auditID: 'r1', ...summary, bytes: summary.bytes + 1 },
      { line: 3, auditID: 'r2', file: 'sessions/r2.cast', bytes: 1, sha256: '0'.repeat(64) }
    ]))
    expect(problems.map((p) => `${p.file}:${p.line} ${p.code}`)).toEqual([`${file}:2 DG_AUDIT_RECORDING_EDITED`, `${file}:3 DG_AUDIT_RECORDING_MISSING`])
    expect(problems[1]?.message).toBe(`the recording sessions/r2.cast of record r2 (line 3) cannot be read at ${join(dir, 'sessions/r2.cast')}: no such file; without it the session cannot be replayed or checked`)
  })
})
