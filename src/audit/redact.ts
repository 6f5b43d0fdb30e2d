/**
 * What a request body looks like in an audit record at level `request`:
 * the parsed JSON with secrets replaced by `<redacted>`. Pure.
 *
 * Redacted, wherever they appear (dockerd matches keys case-insensitively,
 * so keys are compared folded the same way):
 * - environment values: every `K=V` in an `Env` list keeps `K` (what was
 *   set is audit-relevant, the value is not);
 * - values of keys that name a secret: ending in password, passwd, secret,
 *   token, credentials, auth, authorization, apikey or privatekey (ignoring
 *   `-` and `_`), e.g. a registry `auth`, a log driver's `splunk-token`;
 * - `NAME=VALUE` pairs inside any string whose NAME ends like that (mount
 *   options `o=addr=x,password=y`, `--api-token=...` arguments).
 * Over-redacting is the safe side: an auditor loses a value, never a secret
 * leaks into a file many people read. Header values (X-Registry-Auth,
 * Authorization) never reach the record at all.
 */

/** The placeholder for a removed value. */
export const REDACTED = '<redacted>'

/** A JSON value in dockgate's reader's form (objects keep member order). */
export type BodyValue = null | boolean | number | string | readonly BodyValue[] | { readonly kind: 'object'; readonly entries: readonly (readonly [string, BodyValue])[] }

const SECRET_KEY = /(password|passwd|secret|token|credentials|auth|authorization|apikey|privatekey)$/
const INLINE_SECRET = /((?:^|[\s,;&?])[\w.-]*?(?:password|passwd|secret|token|apikey|api-key|api_key)=)[^\s,;&]*/gi

/** The redacted copy of `value` as plain JSON data (null for an absent body). */
export function redactBody (value: BodyValue | undefined): unknown {
  return value === undefined ? null : redact(value, null)
}

function redact (value: BodyValue, key: string | null): unknown {
  if (key !== null && isSecretKey(key) && value !== null && typeof value !== 'object') return REDACTED
  if (typeof value === 'string') return redactInline(value)
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    const list = value as readonly BodyValue[]
    return key !== null && fold(key) === 'env' ? list.map(redactEnvEntry) : list.map((item) => redact(item, null))
  }
  const object = value as Extract<BodyValue, { kind: 'object' }>
  // A null prototype: a body key named __proto__ is recorded as a plain key.
  const out = Object.create(null) as Record<string, unknown>
  for (const [name, child] of object.entries) out[name] = redact(child, name)
  return out
}

function redactEnvEntry (entry: BodyValue): unknown {
  if (typeof entry !== 'string') return redact(entry, null)
  const equals = entry.indexOf('=')
  return equals < 0 ? entry : `${entry.slice(0, equals + 1)}${REDACTED}`
}

function redactInline (text: string): string {
  return text.replace(INLINE_SECRET, `$1${REDACTED}`)
}

function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(fold(key).replace(/[-_]/g, ''))
}

// Go's encoding/json folds case, and also ſ (U+017F) to s and K (U+212A) to k.
function fold (key: string): string {
  return key.replaceAll('\u017f', 's').replaceAll('\u212a', 'k').toLowerCase()
}
