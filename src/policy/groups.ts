/**
 * Built-in endpoint groups: `@name` in an allow or deny list stands for the
 * rules below, so nobody hand-writes twenty lines for a common role. A group
 * expands at load into ordinary rules that keep the position of the `@name`
 * entry and the group's name, so audit records and `policy explain` say both.
 *
 * Invariant (tested): every expansion is a valid rule, and `@read-only`
 * reads no file or stream contents: no archive, export, logs, attach, image
 * tarballs (`/images/get`, `/images/{name}/get`) or config payloads.
 */

/** A built-in group: what it is for, and the rules it stands for. */
export interface EndpointGroup {
  readonly summary: string
  readonly rules: readonly string[]
}

const PING = ['GET,HEAD /_ping']

const READ_ONLY = [
  ...PING,
  'GET /version',
  'GET /info',
  'GET /events',
  'GET /system/df',
  'GET /containers/json',
  'GET /containers/{id}/json',
  'GET /containers/{id}/top',
  'GET /containers/{id}/changes',
  'GET /containers/{id}/stats',
  'GET /exec/{id}/json',
  // Image names may contain slashes, hence ** (one or more segments).
  'GET /images/json',
  'GET /images/**/json',
  'GET /images/**/history',
  'GET /images/search',
  'GET /distribution/**/json',
  'GET /networks',
  'GET /networks/{id}',
  'GET /volumes',
  'GET /volumes/{name}',
  'GET /plugins',
  'GET /plugins/**/json',
  'GET /plugins/privileges',
  'GET /swarm',
  'GET /nodes',
  'GET /nodes/{id}',
  'GET /services',
  'GET /services/{id}',
  'GET /tasks',
  'GET /tasks/{id}',
  'GET /secrets',
  'GET /secrets/{id}'
]

const CONTAINERS_RUN = [
  ...PING,
  'POST /containers/create',
  // docker run pulls an image it does not have.
  'POST /images/create',
  'POST /containers/{id}/attach',
  'POST /containers/{id}/wait',
  'POST /containers/{id}/start',
  'POST /containers/{id}/resize',
  'POST /containers/{id}/kill',
  'GET /containers/{id}/json',
  'DELETE /containers/{id}'
]

const EXEC = [
  'POST /containers/{id}/exec',
  'POST /exec/{id}/start',
  'POST /exec/{id}/resize',
  'GET /exec/{id}/json'
]

/** Every built-in group by name (with its `@`). Frozen. */
export const GROUPS: Readonly<Record<string, EndpointGroup>> = Object.freeze({
  '@ping': group('the version handshake every docker command starts with', PING),
  '@read-only': group('every GET/HEAD that shows state without reading file or stream contents', READ_ONLY),
  '@containers-run': group('what `docker run --rm IMAGE CMD` needs, attached or detached, including pulling a missing image', CONTAINERS_RUN),
  '@exec': group('`docker exec` into a container: create, start, resize, inspect', EXEC)
})

/** True iff `text` names a group (starts with `@`), known or not. */
export function isGroupReference (text: string): boolean {
  return text.startsWith('@')
}

/** The group named `name`, or undefined. */
export function findGroup (name: string): EndpointGroup | undefined {
  return Object.hasOwn(GROUPS, name) ? GROUPS[name] : undefined
}

function group (summary: string, rules: readonly string[]): EndpointGroup {
  return Object.freeze({ summary, rules: Object.freeze([...rules]) })
}
