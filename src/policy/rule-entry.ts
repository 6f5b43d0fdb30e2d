/**
 * Reading one `allow:` or `deny:` entry: a rule text (`"GET /containers/json"`,
 * `"@read-only"`), or a mapping that adds an audit level to it
 * (`{ rule: "POST /containers/create", audit: request }`). Pure; problems are
 * reported through the callback at the offending key or value.
 */
import type { ErrorCode } from '../shared/errors.js'
import { closeMatch, describeValue, displayPath } from '../shared/schema-check.js'
import type { ValuePath } from '../shared/yaml-source.js'
import { AUDIT_LEVEL_NAMES, isAuditLevel, type AuditLevel } from './audit-level.js'

/** An entry's rule text, where that text is written, and the audit level it sets. */
export interface RuleEntry {
  readonly text: string
  readonly textPath: ValuePath
  readonly audit?: AuditLevel
}

/** Reports a problem at `path` (its key, or its value). */
export type Report = (code: ErrorCode, path: ValuePath, message: string, at?: 'key' | 'value') => void

const ENTRY_KEYS = ['rule', 'audit']

/** The entry at `path`, or null when it is unusable (already reported). */
export function readRuleEntry (value: unknown, path: ValuePath, report: Report): RuleEntry | null {
  if (typeof value === 'string') return { text: value, textPath: path }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    report('DG_WRONG_TYPE', path, `'${displayPath(path)}' must be a string like "GET /containers/json" or a mapping like { rule: "POST /containers/create", audit: request }, got ${describeValue(value)}`)
    return null
  }
  const entry = value as Record<string, unknown>
  let ok = true
  for (const key of Object.keys(entry)) {
    if (ENTRY_KEYS.includes(key)) continue
    const hint = closeMatch(key, ENTRY_KEYS)
    report('DG_UNKNOWN_KEY', [...path, key], `unknown key '${key}' in ${displayPath(path)}; valid keys: ${ENTRY_KEYS.join(', ')}${hint === null ? '' : ` (did you mean '${hint}'?)`}`, 'key')
    ok = false
  }
  if (entry.audit !== undefined && !isAuditLevel(entry.audit)) {
    report('DG_BAD_VALUE', [...path, 'audit'], `'${displayPath([...path, 'audit'])}' must be ${AUDIT_LEVEL_NAMES}, got ${JSON.stringify(entry.audit) ?? describeValue(entry.audit)}`)
    ok = false
  }
  if (entry.rule === undefined) {
    report('DG_MISSING_KEY', path, `missing required key 'rule' in ${displayPath(path)}`)
    return null
  }
  if (typeof entry.rule !== 'string') {
    report('DG_WRONG_TYPE', [...path, 'rule'], `'${displayPath([...path, 'rule'])}' must be a string like "GET /containers/json", got ${describeValue(entry.rule)}`)
    return null
  }
  if (!ok) return null
  return { text: entry.rule, textPath: [...path, 'rule'], ...(isAuditLevel(entry.audit) ? { audit: entry.audit } : {}) }
}
