/**
 * What a request body looks like in an audit record at level `request`:
 * the parsed JSON with secrets replaced by `<redacted>`. Pure.
 *
 * Redacted, wherever they appear (dockerd matches keys case-insensitively,
 * so keys are compared folded the same way, ignoring `-`, `_`, `.` and
 * spaces):
 * - environment values: every `K=V` in an `Env` list keeps `K` (what was
 *   set is audit-relevant, the value is not);
 * - the whole value (scalar, object or array) of a key that names a secret:
 *   ending in password, passwd, passphrase, secret, token, credential(s),
 *   auth, authorization, apikey, accesskey or privatekey, e.g. a registry
 *   `auth`, a log driver's `splunk-token`, `secret_access_key`;
 * - inside any string: `NAME=VALUE` pairs and `"NAME":"VALUE"` members with
 *   such names (mount options `o=addr=x,password=y`, `--api-token=...`),
 *   the value after a flag with such a name (`--password x`), the password
 *   of a URL (`https://user:<redacted>@host`), and the credentials after
 *   `Authorization:`, `Bearer` and `Basic` (a Basic value only when it
 *   decodes to `user:password`, so ordinary words after "basic" stay);
 * - in any list of strings (Cmd, Entrypoint, Healthcheck Test, ...): the
 *   element after a flag element with such a name (`["--token", "x"]`).
 * Over-redacting is the safe side: an auditor loses a value, never a secret
 * leaks into a file many people read. Header values (X-Registry-Auth,
 * Authorization) never reach the record at all.
 */

/** The placeholder for a removed value. */
export const REDACTED = '<redacted>'

/** A JSON value in dockgate's reader's form (objects keep member order). */
export type BodyValue = null | boolean | number | string | readonly BodyValue[] | { readonly kind: 'object'; readonly entries: readonly (readonly [string, BodyValue])[] }

const SECRET_KEY = /(password|passwd|passphrase|secret|token|credentials?|auth|authorization|apikey|accesskey|privatekey)$/
const SEPARATORS = /[-_.\s]/g
// Every pattern is linear in the string (bodies reach limits.bodyBytes):
// the scheme is bounded, and no repeated part can start inside another.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]{0,31}:\/\/[^\s/?#@:]*:)[^\s/?#@]*@/gi
const AUTHORIZATION = /(\bauthorization\s*[:=]\s*(?:(?:bearer|basic|token|digest|negotiate)\s+)?)[^\s"',;]+/gi
const BEARER = /(\bbearer\s+)(?!<redacted>)[^\s"',;]+/gi
const BASIC = /(\bbasic\s+)([A-Za-z0-9+/]{4,}={0,2})(?![\w+/=])/gi
const NAME_VALUE = /((?:^|[\s,;&?"'])(-{0,2}[\w.-]+)=)("[^"]*"|'[^']*'|[^\s,;&"']*)/g
const JSON_MEMBER = /("([\w.-]+)"\s*:\s*)"(?:[^"\\]|\\.)*"/g
const FLAG_VALUE = /((?:^|\s)(-{1,2}[\w.-]+)\s+)("[^"]*"|'[^']*'|[^\s"']+)/g
const FLAG = /^-{1,2}[\w.-]+$/

/** The redacted copy of `value` as plain JSON data (null for an absent body). */
export function redactBody (value: BodyValue | undefined): unknown {
  return value === undefined ? null : redact(value, null)
}

function redact (value: BodyValue, key: string | null): unknown {
  if (key !== null && value !== null && isSecretKey(key)) return REDACTED
  if (typeof value === 'string') return redactInline(value)
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) {
    const list = value as readonly BodyValue[]
    return key !== null && fold(key) === 'env' ? list.map(redactEnvEntry) : redactList(list)
  }
  const object = value as Extract<BodyValue, { kind: 'object' }>
  // A null prototype: a body key named __proto__ is recorded as a plain key.
  const out = Object.create(null) as Record<string, unknown>
  for (const [name, child] of object.entries) out[name] = redact(child, name)
  return out
}

// An argument list: the element after a secret-named flag is its value.
function redactList (list: readonly BodyValue[]): unknown[] {
  let hideNext = false
  return list.map((item) => {
    const hide = hideNext && typeof item === 'string'
    hideNext = typeof item === 'string' && isSecretFlag(item)
    return hide ? REDACTED : redact(item, null)
  })
}

function redactEnvEntry (entry: BodyValue): unknown {
  if (typeof entry !== 'string') return redact(entry, null)
  const equals = entry.indexOf('=')
  return equals < 0 ? entry : `${entry.slice(0, equals + 1)}${REDACTED}`
}

function redactInline (text: string): string {
  return text
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(AUTHORIZATION, `$1${REDACTED}`)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(BASIC, (all, prefix: string, credentials: string) => (isBasicCredentials(credentials) ? `${prefix}${REDACTED}` : all))
    .replace(NAME_VALUE, (all, head: string, name: string) => (isSecretKey(name) ? `${head}${REDACTED}` : all))
    .replace(JSON_MEMBER, (all, head: string, name: string) => (isSecretKey(name) ? `${head}"${REDACTED}"` : all))
    .replace(FLAG_VALUE, (all, head: string, flag: string) => (isSecretKey(flag) ? `${head}${REDACTED}` : all))
}

/**
 * A request target as recorded: exactly as received, except for secrets in
 * its query, whose values become `<redacted>`: a parameter named like a
 * secret, every value of `buildargs` (a build's environment, like Env), and
 * inside any other value what {@link redactBody} removes from strings (a
 * URL's password, as in a build's `remote` or an import's `fromSrc`,
 * `NAME=VALUE` with a secret name, as in a commit's `changes`). The path and
 * every pair without a secret keep their bytes; a pair that cannot be
 * decoded loses its value.
 */
export function redactTarget (target: string): string {
  const question = target.indexOf('?')
  if (question < 0) return target
  return target.slice(0, question + 1) + target.slice(question + 1).split('&').map(redactQueryPair).join('&')
}

function redactQueryPair (pair: string): string {
  const equals = pair.indexOf('=')
  if (equals < 0) return pair
  const rawName = pair.slice(0, equals)
  const name = decodeQueryPart(rawName)
  const value = decodeQueryPart(pair.slice(equals + 1))
  if (name === null || value === null) return `${rawName}=${REDACTED}`
  const redacted = isSecretKey(name) ? REDACTED : fold(name) === 'buildargs' ? redactBuildArgs(value) : redactInline(value)
  return redacted === value ? pair : `${rawName}=${encodeURIComponent(redacted).replaceAll(encodeURIComponent(REDACTED), REDACTED)}`
}

// As Go's url.ParseQuery reads a part: `+` is a space; a bad escape is an error.
function decodeQueryPart (part: string): string | null {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '))
  } catch {
    return null
  }
}

// buildargs is a JSON object of build-time variables: the names stay, every value goes.
function redactBuildArgs (value: string): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(value)
  } catch {
    return REDACTED
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return REDACTED
  return JSON.stringify(Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null ? null : REDACTED])))
}

// Basic credentials are base64 of `user:password`; a word that happens to
// follow "basic" rarely decodes to printable text with a colon.
function isBasicCredentials (text: string): boolean {
  const decoded = Buffer.from(text, 'base64').toString('latin1')
  return decoded.includes(':') && /^[\x20-\x7e]+$/.test(decoded)
}

function isSecretFlag (item: string): boolean {
  return FLAG.test(item) && isSecretKey(item)
}

function isSecretKey (key: string): boolean {
  return SECRET_KEY.test(fold(key).replace(SEPARATORS, ''))
}

// Go's encoding/json folds case, and also ſ (U+017F) to s and K (U+212A) to k.
function fold (key: string): string {
  return key.replaceAll('\u017f', 's').replaceAll('\u212a', 'k').toLowerCase()
}
