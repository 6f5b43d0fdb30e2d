/**
 * The daemon's own answers for an object that does not exist, byte for
 * byte, so that another team's object and no object at all cannot be told
 * apart. Each was taken from dockerd 20.10.24 (API 1.41) with curl on its
 * socket; the unit tests pin them. Pure.
 *
 * Most answers are `{"message":"..."}` with Content-Type application/json
 * (a trailing newline, as Go's json.Encoder writes it). Exceptions:
 * attach over POST answers text in the raw-stream content type; kill
 * prefixes its message; image inspect wraps its message; image save by
 * path or `names=` shows the reference as given, the other image
 * endpoints show it familiar with its tag; push answers 200 with a JSON
 * progress stream that ends in the error.
 */
import { familiarName, parseImageRef } from '../shared/image-ref.js'
import type { ObjectKind } from './scope.js'

/** A complete answer: status, Content-Type and body (send no body to a HEAD request). */
export interface MissingAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/** How an endpoint words a missing object (see the module comment). */
export type MissingStyle = 'plain' | 'kill' | 'attach' | 'image-inspect' | 'image-raw' | 'image-push' | 'link'

const JSON_TYPE = 'application/json'

/** The daemon's usual 404 message for a missing `kind` named `ref`. */
export function notFoundMessage (kind: ObjectKind, ref: string): string {
  switch (kind) {
    case 'container': return `No such container: ${ref}`
    case 'exec': return `No such exec instance: ${ref}`
    case 'volume': return `get ${ref}: no such volume`
    case 'network': return `network ${ref} not found`
    case 'image': return `No such image: ${imageShown(ref)}`
  }
}

/** The daemon's whole answer for a missing `kind` named `ref` at an endpoint of `style`, with `status` (404 unless the endpoint says otherwise). */
export function missingAnswer (kind: ObjectKind, ref: string, style: MissingStyle = 'plain', status = 404): MissingAnswer {
  switch (style) {
    case 'kill': return json(status, `Cannot kill container: ${ref}: ${notFoundMessage(kind, ref)}`)
    case 'attach': return { status, contentType: 'application/vnd.docker.raw-stream', body: `${notFoundMessage(kind, ref)}\r\n` }
    case 'image-inspect': return json(status, `no such image: ${ref}: ${notFoundMessage('image', ref)}`)
    case 'image-raw': return json(status, `No such image: ${ref}`)
    case 'link': return json(status, `could not get container for ${ref}: ${notFoundMessage(kind, ref)}`)
    case 'image-push': return pushAnswer(ref)
    case 'plain': return json(status, notFoundMessage(kind, ref))
  }
}

/** How the daemon shows an image reference in "No such image": an id as `sha256:HEX`, a name familiar with its tag. */
function imageShown (ref: string): string {
  const parsed = parseImageRef(ref)
  if (parsed.kind === 'id') return parsed.id
  if (parsed.kind === 'named') return parsed.familiar
  return ref
}

/** Push of a missing image: 200, the repository line, then the error, as a JSON stream. */
function pushAnswer (ref: string): MissingAnswer {
  const parsed = parseImageRef(ref)
  const repository = parsed.kind === 'named' ? parsed.repository : ref
  const message = `An image does not exist locally with the tag: ${familiarName(repository)}`
  const lines = [
    { status: `The push refers to repository [${repository}]` },
    { errorDetail: { message }, error: message }
  ]
  // The progress stream ends its lines with CRLF (jsonmessage), unlike error answers.
  return { status: 200, contentType: JSON_TYPE, body: lines.map((line) => `${JSON.stringify(line)}\r\n`).join('') }
}

function json (status: number, message: string): MissingAnswer {
  return { status, contentType: JSON_TYPE, body: `${JSON.stringify({ message })}\n` }
}

/**
 * The answer for a reference inside a body (src/policy's BodyReference:
 * its kind, reference, and `missing` unless the daemon creates the object)
 * that is missing for the caller.
 */
export function bodyMissingAnswer (kind: ObjectKind, ref: string, missing: { readonly status: number; readonly says: 'no-such-container' | 'link' | 'network-not-found' | 'no-such-image' }): MissingAnswer {
  return missingAnswer(kind, ref, missing.says === 'link' ? 'link' : 'plain', missing.status)
}
