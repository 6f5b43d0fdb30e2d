/**
 * Quotes `text` for a POSIX shell so printed hints (`--dir ...`,
 * `export DOCKER_CERT_PATH=...`) can be pasted as is, also for paths with
 * spaces or quotes. Invariant: plain paths are returned unchanged, so the
 * common case reads naturally.
 */
export function shellQuote (text: string): string {
  return /^[A-Za-z0-9_./@:+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}
