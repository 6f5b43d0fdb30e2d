/**
 * Validated settings for tests, made the way dockgate makes them: a config
 * object with the TLS files and the policy on disk, through the same loader
 * and checks as `dockgate serve` (src/reload/settings.ts). Tests then build
 * the gateway or the runtime from these, through the one builder.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AuditLevel } from '../../src/policy/index.js'
import type { Limits } from '../../src/config/load.js'
import { loadSettings, type Settings } from '../../src/reload/settings.js'

/** What a test may set; everything else is the config's default. */
export interface TestSettingsOptions {
  /** The folder the files go in. */
  readonly dir: string
  readonly socket: string
  readonly policy: string
  /** PEM strings of the trusted CA and the server's certificate and key. */
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string }
  readonly auditLevel?: AuditLevel
  /** Other `audit:` keys as written in a config file (sessions, sessionInput, ...). */
  readonly auditConfig?: Readonly<Record<string, unknown>>
  /**
   * Limits to set. `headersTimeoutSeconds` may be a fraction here (the
   * config takes whole seconds), so a slow-header test need not wait long.
   */
  readonly limits?: Partial<Limits>
  /** `sockets:` entries, as written in a config file (paths absolute or relative to `dir`). */
  readonly sockets?: readonly Record<string, unknown>[]
  /** Leave out `tls:` and `listen:`: only the socket listeners serve. */
  readonly noTls?: boolean
}

/** Writes the files, loads and checks the settings; throws with every problem if they do not load. */
export async function testSettings (options: TestSettingsOptions): Promise<Settings> {
  const tlsDir = join(options.dir, 'tls')
  mkdirSync(tlsDir, { recursive: true })
  writeFileSync(join(tlsDir, 'ca.pem'), options.tls.ca)
  writeFileSync(join(tlsDir, 'cert.pem'), options.tls.cert)
  writeFileSync(join(tlsDir, 'key.pem'), options.tls.key, { mode: 0o600 })
  writeFileSync(join(options.dir, 'policy.yaml'), options.policy)
  const { headersTimeoutSeconds, ...wholeLimits } = options.limits ?? {}
  const object = {
    ...(options.noTls === true ? {} : { listen: '127.0.0.1:0', tls: { ca: 'tls/ca.pem', cert: 'tls/cert.pem', key: 'tls/key.pem' } }),
    upstream: `unix://${options.socket}`,
    ...(options.sockets === undefined ? {} : { sockets: options.sockets }),
    policy: 'policy.yaml',
    audit: { file: 'audit/audit.jsonl', ...(options.auditLevel === undefined ? {} : { level: options.auditLevel }), ...options.auditConfig },
    ...(Object.keys(wholeLimits).length === 0 ? {} : { limits: wholeLimits })
  }
  const loaded = await loadSettings({ object, baseDir: options.dir, overrides: {} })
  if (!loaded.ok) throw new Error(`test settings invalid: ${JSON.stringify(loaded.diagnostics)}`)
  if (headersTimeoutSeconds === undefined) return loaded.value
  const { config } = loaded.value
  return { ...loaded.value, config: { ...config, limits: { ...config.limits, headersTimeoutSeconds } } }
}
