/**
 * Loading everything a gateway runs with, the same way at startup and on
 * every reload: the config (with its TLS material and CRLs checked), then
 * the policy it names. Either all of it loads or the caller gets every
 * problem as a diagnostic, the policy's included when the config names a
 * readable one.
 */
import { readFile } from 'node:fs/promises'
import { configFromObject, loadConfigFile, type ConfigOverrides, type LoadedConfig } from '../config/load.js'
import { loadPolicy, type Policy } from '../policy/index.js'
import type { Diagnostic, Loaded } from '../shared/diagnostics.js'
import type { Settings } from '../gateway/gateway.js'

export type { Settings } from '../gateway/gateway.js'

/** Where settings come from: a config file, or (dev setup) an object with a base folder. */
export type SettingsSource =
  | { readonly file: string; readonly overrides: ConfigOverrides }
  | { readonly object: unknown; readonly baseDir: string; readonly overrides: ConfigOverrides }

/** Loads the config from `source`, then its policy. Never throws. */
export async function loadSettings (source: SettingsSource): Promise<Loaded<Settings>> {
  const loaded = 'file' in source
    ? await loadConfigFile(source.file, source.overrides)
    : await configFromObject(source.object, source.baseDir, source.overrides)
  return await withPolicy(loaded)
}

async function withPolicy (loaded: LoadedConfig): Promise<Loaded<Settings>> {
  if (!loaded.ok) {
    // Report the policy's problems too, so one run shows everything to fix.
    const policy = loaded.policyFile === undefined ? null : await readPolicy(loaded.policyFile)
    return { ok: false, diagnostics: [...loaded.diagnostics, ...(policy === null || policy.ok ? [] : policy.diagnostics)] }
  }
  const config = loaded.value
  const policy = await readPolicy(config.policyFile)
  return policy.ok ? { ok: true, value: { config, policy: policy.value } } : policy
}

async function readPolicy (file: string): Promise<Loaded<Policy>> {
  const text = await readFile(file, 'utf8').catch((err: Error) => err)
  if (text instanceof Error) {
    const d: Diagnostic = { file, line: 0, col: 0, code: 'DG_FILE_UNREADABLE', message: `cannot read policy: ${text.message}` }
    return { ok: false, diagnostics: [d] }
  }
  return loadPolicy({ file, text })
}
