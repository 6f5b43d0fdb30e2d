/**
 * Starts a real dockgate (the same buildGateway the CLI uses, from
 * settings loaded and checked like the CLI's: settings.ts) on a random
 * loopback port in front of a real or fake daemon socket, with a generated
 * PKI, a policy and an audit file in a temp folder. Closing it checks the
 * audit trail it wrote (schema and chain, audit-check.ts), so every test
 * that uses it also tests its records.
 */
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import pino from 'pino'
import type { AuditLevel } from '../../src/policy/index.js'
import type { Limits } from '../../src/config/load.js'
import { openAuditLog, type AuditLog, type AuditLogOptions } from '../../src/audit/log.js'
import { buildGateway, type GatewayStats } from '../../src/gateway/gateway.js'
import type { RejectionLimits } from '../../src/audit/rate-limit.js'
import type { SealedAuditRecord } from '../../src/audit/schema.js'
import { checkAuditDir } from './audit-check.js'
import { makePki, STANDARD_CLIENTS, type ClientSpec, type TestPki } from './pki.js'
import { testSettings } from './settings.js'

/** The policy most integration tests run under; mirrors the example. */
export const TEST_POLICY = `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { cn: "ci-runner-*" }
    teams: [ci]
  - match: { ou: readonly }
    teams: [readonly]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /containers/json"
      - "POST /containers/{id}/start"
    deny:
      - "POST /containers/{id}/exec"
  readonly:
    allow:
      - "GET,HEAD /_ping"
      - "GET /version"
      - "GET /info"
      - "GET /containers/json"
      - "GET /containers/{id}/json"
      - "GET /images/json"
`

/** A running test gateway. */
export interface TestGateway {
  /** The TLS port; 0 when started with `noTls`. */
  readonly port: number
  /** The socket listeners' paths, in config order. */
  readonly sockets: readonly string[]
  readonly dir: string
  readonly pki: TestPki
  readonly auditFile: string
  readonly audit: AuditLog
  /** Every audit record in the active audit file so far, parsed (throws if a line is not JSON). */
  readonly records: () => SealedAuditRecord[]
  /** What is open now (connections, streams, sessions). */
  readonly stats: () => GatewayStats
  /** Stops the gateway, closes the trail, then checks it (throws on any schema or chain problem). */
  readonly close: () => Promise<void>
}

/** Options for {@link startGateway}. */
export interface StartOptions {
  readonly socket: string
  readonly policy?: string
  readonly clients?: readonly ClientSpec[]
  readonly headersTimeoutMs?: number
  /** `limits.bodyBytes` for this gateway; the 1 MiB default unless set. */
  readonly bodyBytes?: number
  /** `audit.level`. */
  readonly auditLevel?: AuditLevel
  /** `audit:` keys of the config file besides file and level (sessions, sessionInput, sessionMaxBytes, ...). */
  readonly auditConfig?: Readonly<Record<string, unknown>>
  /** Other `audit:` settings (fsync, onFailure, rotate, sinks, clock). */
  readonly audit?: Omit<AuditLogOptions, 'file'>
  readonly rejectionLimits?: RejectionLimits
  /** `sockets:` entries (see testSettings); their paths are in `TestGateway.sockets`. */
  readonly sockets?: readonly Record<string, unknown>[]
  /** Only socket listeners: no `tls:` (then `port` is 0). */
  readonly noTls?: boolean
  /** Other `limits:` (streamsPerIdentity, headerBytes, ...). */
  readonly limits?: Partial<Limits>
  /** The PEM `tls.ca` holds instead of the test CA (the client certificates are still issued by the test CA). */
  readonly trustedCa?: string
  /** Receives each line of the operational log, at level trace; silent unless set. */
  readonly log?: (line: string) => void
}

/** Starts a gateway; call `close` in afterAll. */
export async function startGateway (options: StartOptions): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'dockgate-it-'))
  const pki = makePki(dir, options.clients ?? STANDARD_CLIENTS)
  const settings = await testSettings({
    dir,
    socket: options.socket,
    policy: options.policy ?? TEST_POLICY,
    tls: { ca: options.trustedCa ?? pki.ca.certPem, cert: pki.server.cert, key: pki.server.key },
    ...(options.auditLevel === undefined ? {} : { auditLevel: options.auditLevel }),
    ...(options.auditConfig === undefined ? {} : { auditConfig: options.auditConfig }),
    limits: {
      ...options.limits,
      ...(options.headersTimeoutMs === undefined ? {} : { headersTimeoutSeconds: options.headersTimeoutMs / 1000 }),
      ...(options.bodyBytes === undefined ? {} : { bodyBytes: options.bodyBytes })
    },
    ...(options.sockets === undefined ? {} : { sockets: options.sockets }),
    ...(options.noTls === true ? { noTls: true } : {})
  })
  const auditFile = settings.config.audit.file
  const audit = openAuditLog({ ...options.audit, file: auditFile })
  const gateway = await buildGateway({
    settings,
    audit,
    logger: options.log === undefined
      ? pino({ level: process.env.DOCKGATE_TEST_LOG ?? 'silent' })
      : pino({ level: 'trace' }, { write: options.log }),
    ...(options.rejectionLimits === undefined ? {} : { rejectionLimits: options.rejectionLimits })
  })
  const listening = await gateway.listen()
  return {
    port: listening.tls?.port ?? 0,
    sockets: listening.sockets,
    dir,
    pki,
    auditFile,
    audit,
    records: () => readRecords(auditFile),
    stats: () => gateway.stats(),
    close: async () => {
      await gateway.close()
      await audit.close()
      checkAuditDir(dirname(auditFile))
    }
  }
}

/** The certificate facts of a record's identity block; undefined for none or a socket identity. */
export function certificateOf (record: { readonly identity?: SealedAuditRecord['identity'] } | undefined): Extract<NonNullable<SealedAuditRecord['identity']>, { subject: string }> | undefined {
  const identity = record?.identity
  return identity !== null && identity !== undefined && 'subject' in identity ? identity : undefined
}

/** The records of one audit file, parsed. */
export function readRecords (file: string): SealedAuditRecord[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as SealedAuditRecord)
    : []
}
