/**
 * What the auditor's report says about a trail, gathered record by record
 * ({@link TrailSummary.add}) as the files stream past. Pure: the caller
 * reads the files (and verifies them) and feeds each intact record.
 *
 * Invariants: memory is bounded whatever the trail's length (counters in
 * report-counters.ts; certificates, sessions and changes capped, with the
 * number left out kept); only records whose `time` falls in the window
 * are counted; certificate facts from TLSRejected records (marked
 * `verified: false`) are never taken as certificates seen, only as the
 * evidence of a revocation of a certificate that was.
 */
import { Timeline, TopCounter } from './report-counters.js'

/** The report's time window, ms since the epoch; null is open. */
export interface Window { readonly since: number | null; readonly until: number | null }

/** A certificate seen on requests. */
export interface CertificateSeen {
  readonly subject: string
  readonly serial: string
  readonly issuer: string
  readonly fingerprint256: string
  teams: string[]
  first: string
  last: string
  requests: number
  refusals: number
  /** How the trail shows it revoked, e.g. `connection closed (revoked) 2026-...`; null when it does not. */
  revoked: string | null
}

/** A recording as the session's closing record names it (written by the session recorder). */
export interface RecordingRef {
  readonly file: string
  readonly bytes: number
  readonly sha256: string
  readonly truncated: string | null
  readonly input: boolean
}

/** A hijacked session (exec, attach, run -i). */
export interface Session {
  readonly auditID: string
  readonly time: string
  readonly who: string
  readonly team: string
  readonly target: string
  readonly sessionMs: number | null
  readonly bytesIn: number
  readonly bytesOut: number
  readonly recording: RecordingRef | null
  /** The audit file the record was read from: a recording's relative path is relative to its folder. */
  readonly auditFile: string
}

/** A change of the gateway or its policy seen in the trail. */
export interface Change { readonly time: string; readonly what: string; readonly detail: string }

/** Everything the report shows except the verification verdict. */
export interface ReportData {
  readonly window: Window
  readonly first: string | null
  readonly last: string | null
  readonly records: number
  readonly requests: number
  readonly refusals: number
  readonly wouldRefuse: number
  readonly tlsRejections: number
  readonly suppressedRefusals: number
  readonly timeline: Timeline
  readonly refusedRules: TopCounter<{ ref: string; text: string; code: string }>
  readonly refusedIdentities: TopCounter<{ teams: string }>
  readonly refusalCodes: TopCounter<null>
  readonly certificates: readonly CertificateSeen[]
  readonly certificatesLeftOut: number
  readonly sessions: readonly Session[]
  readonly sessionsLeftOut: number
  readonly changes: readonly Change[]
  readonly changesLeftOut: number
}

const MAX_CERTIFICATES = 5000
const MAX_SESSIONS = 500
const MAX_CHANGES = 500
const MAX_RULE_REFS = 20_000

type Rec = Record<string, unknown>
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const obj = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Rec : {})
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/** Serials compare without leading zeros, upper case (as the CRL reader normalises them). */
export function normalizeSerial (serial: string): string {
  return serial.toUpperCase().replace(/^0+(?=.)/, '')
}

/** Feeds records in; {@link TrailSummary.result} gives the {@link ReportData}. */
export class TrailSummary {
  private first: string | null = null
  private last: string | null = null
  private records = 0
  private requests = 0
  private refusals = 0
  private wouldRefuse = 0
  private tlsRejections = 0
  private suppressedRefusals = 0
  private readonly timeline = new Timeline()
  private readonly refusedRules = new TopCounter<{ ref: string; text: string; code: string }>(500)
  private readonly refusedIdentities = new TopCounter<{ teams: string }>(500)
  private readonly refusalCodes = new TopCounter<null>(100)
  private readonly certificates = new Map<string, CertificateSeen>()
  private certificatesLeftOut = 0
  private readonly revokedSeen = new Map<string, string>()
  private sessions: Session[] = []
  private sessionsLeftOut = 0
  private readonly changes: Change[] = []
  private changesLeftOut = 0
  private readonly ruleTexts = new Map<string, string>()

  constructor (private readonly window: Window) {}

  /** Counts one intact record read from `file`, if its time is in the window. */
  add (record: Rec, file: string): void {
    const time = str(record.time)
    const at = Date.parse(time)
    if (Number.isNaN(at) || (this.window.since !== null && at < this.window.since) || (this.window.until !== null && at >= this.window.until)) return
    this.records += 1
    if (this.first === null || time < this.first) this.first = time
    if (this.last === null || time > this.last) this.last = time
    switch (record.stage) {
      case 'ResponseComplete':
      case 'Refused': return this.request(record, time, at, file)
      case 'TLSRejected': return this.tlsRejected(record, time)
      case 'ConnectionClosed': return this.connectionClosed(record, time)
      case 'Suppressed': return this.suppressed(record)
      case 'FileOpened': return this.fileOpened(record, time)
      default:
    }
  }

  /** The summary; the counters are shared, not copied. */
  result (): ReportData {
    for (const [fingerprint, evidence] of this.revokedSeen) {
      const cert = this.certificates.get(fingerprint)
      if (cert !== undefined) cert.revoked ??= evidence
    }
    const sessions = [...this.sessions].sort((a, b) => (a.time < b.time ? -1 : 1)).slice(-MAX_SESSIONS)
    return {
      window: this.window, first: this.first, last: this.last, records: this.records, requests: this.requests, refusals: this.refusals,
      wouldRefuse: this.wouldRefuse, tlsRejections: this.tlsRejections, suppressedRefusals: this.suppressedRefusals, timeline: this.timeline,
      refusedRules: this.refusedRules, refusedIdentities: this.refusedIdentities, refusalCodes: this.refusalCodes,
      certificates: [...this.certificates.values()].sort((a, b) => (a.subject < b.subject ? -1 : 1)), certificatesLeftOut: this.certificatesLeftOut,
      sessions, sessionsLeftOut: this.sessionsLeftOut + this.sessions.length - sessions.length,
      changes: [...this.changes].sort((a, b) => (a.time < b.time ? -1 : 1)), changesLeftOut: this.changesLeftOut
    }
  }

  private request (record: Rec, time: string, at: number, file: string): void {
    const identity = obj(record.identity)
    const rule = record.rule === null ? null : obj(record.rule)
    const team = str(rule?.team) || (strings(identity.teams)[0] ?? '') || '(no team)'
    const decision = str(record.decision)
    const refused = record.stage === 'Refused' || decision === 'deny'
    this.requests += 1
    if (refused) this.refusals += 1
    if (decision === 'would-deny') this.wouldRefuse += 1
    this.timeline.add(at, team, refused)
    const who = whoOf(identity)
    if (refused) {
      const code = str(record.code) || 'DG_DENIED'
      const ref = str(rule?.ref)
      this.refusedRules.add(ref === '' ? `default deny ${code}` : `${ref} ${str(rule?.text)}`, { ref: ref === '' ? '(no rule: default deny or input)' : ref, text: str(rule?.text), code })
      this.refusedIdentities.add(who, { teams: strings(identity.teams).join(', ') })
      this.refusalCodes.add(code, null)
    }
    this.certificate(identity, time, refused)
    if (rule !== null && decision === 'allow') this.ruleSeen(rule, time)
    const request = obj(record.request)
    if (record.stage === 'ResponseComplete' && str(request.upgrade) !== '') this.session(record, { time, who, team, target: str(request.target), file })
  }

  private certificate (identity: Rec, time: string, refused: boolean): void {
    const fingerprint = str(identity.fingerprint256)
    if (fingerprint === '' || identity.verified === false) return
    let cert = this.certificates.get(fingerprint)
    if (cert === undefined) {
      if (this.certificates.size >= MAX_CERTIFICATES) {
        this.certificatesLeftOut += 1
        return
      }
      cert = { subject: str(identity.subject), serial: str(identity.serial), issuer: str(identity.issuer), fingerprint256: fingerprint, teams: strings(identity.teams), first: time, last: time, requests: 0, refusals: 0, revoked: null }
      this.certificates.set(fingerprint, cert)
    }
    cert.requests += 1
    if (refused) cert.refusals += 1
    if (time < cert.first) cert.first = time
    if (time > cert.last) cert.last = time
  }

  private session (record: Rec, facts: { time: string; who: string; team: string; target: string; file: string }): void {
    const recording = recordingOf(record.recording)
    // Unrecorded sessions are kept only while there is room; recorded ones always are, the oldest dropped past the cap.
    if (recording === null && this.sessions.length >= MAX_SESSIONS) {
      this.sessionsLeftOut += 1
      return
    }
    this.sessions.push({
      auditID: str(record.auditID), time: facts.time, who: facts.who, team: facts.team, target: facts.target,
      sessionMs: typeof record.sessionMs === 'number' ? record.sessionMs : null,
      bytesIn: typeof record.bytesIn === 'number' ? record.bytesIn : 0, bytesOut: typeof record.bytesOut === 'number' ? record.bytesOut : 0,
      recording, auditFile: facts.file
    })
    if (this.sessions.length > 2 * MAX_SESSIONS) {
      const kept = this.sessions.sort((a, b) => (a.time < b.time ? -1 : 1)).slice(-MAX_SESSIONS)
      this.sessionsLeftOut += this.sessions.length - kept.length
      this.sessions = kept
    }
  }

  private tlsRejected (record: Rec, time: string): void {
    this.tlsRejections += 1
    const tls = obj(record.tls)
    if (str(tls.reason) === 'revoked') this.revoked(obj(record.identity), `TLS handshake refused as revoked ${time}`)
  }

  private connectionClosed (record: Rec, time: string): void {
    if (str(record.code) === 'DG_CONNECTION_REVOKED') this.revoked(obj(record.identity), `open connection closed as revoked ${time}`)
  }

  private revoked (identity: Rec, evidence: string): void {
    const fingerprint = str(identity.fingerprint256)
    if (fingerprint !== '' && !this.revokedSeen.has(fingerprint) && this.revokedSeen.size < MAX_CERTIFICATES) this.revokedSeen.set(fingerprint, evidence)
  }

  private suppressed (record: Rec): void {
    const suppressed = obj(record.suppressed)
    const count = typeof suppressed.count === 'number' ? suppressed.count : 0
    if (suppressed.kind === 'TLSRejected') this.tlsRejections += count
    else this.suppressedRefusals += count
  }

  private fileOpened (record: Rec, time: string): void {
    const opened = obj(record.opened)
    const reason = str(opened.reason)
    if (reason !== 'start' && reason !== 'recreate' && reason !== 'recover') return
    const what = reason === 'start' ? 'gateway started' : reason === 'recreate' ? 'audit file created again' : 'audit trail recovered'
    const outage = obj(opened.outage)
    const detail = `host ${str(opened.host)}, pid ${typeof opened.pid === 'number' ? opened.pid : '?'}, dockgate ${str(opened.version)}, file ${str(opened.file)}` +
      (str(outage.since) === '' ? '' : `; ${typeof outage.failedWrites === 'number' ? outage.failedWrites : '?'} record(s) could not be written since ${str(outage.since)}: ${str(outage.error)}`)
    this.change({ time, what, detail })
  }

  // A rule ref (FILE:LINE) that starts deciding with another text means the policy was edited and reloaded (or restarted).
  private ruleSeen (rule: Rec, time: string): void {
    const ref = str(rule.ref)
    const text = `${str(rule.team)}: ${str(rule.text)}`
    const before = this.ruleTexts.get(ref)
    if (before === text) return
    if (before === undefined) {
      if (this.ruleTexts.size < MAX_RULE_REFS) this.ruleTexts.set(ref, text)
      return
    }
    this.ruleTexts.set(ref, text)
    this.change({ time, what: 'policy changed', detail: `${ref} now decides as "${text}" (was "${before}")` })
  }

  private change (change: Change): void {
    if (this.changes.length >= MAX_CHANGES) this.changesLeftOut += 1
    else this.changes.push(change)
  }
}

/** Who made a request, as one line: a certificate subject, or a socket listener's identity. */
export function whoOf (identity: Rec): string {
  if (str(identity.subject) !== '') return str(identity.subject)
  if (str(identity.socket) !== '') return `socket ${str(identity.socket)}`
  return '(no certificate)'
}

function recordingOf (value: unknown): RecordingRef | null {
  const r = obj(value)
  if (typeof r.file !== 'string' || typeof r.sha256 !== 'string' || typeof r.bytes !== 'number') return null
  return { file: r.file, bytes: r.bytes, sha256: r.sha256, truncated: typeof r.truncated === 'string' ? r.truncated : null, input: r.input === true }
}
