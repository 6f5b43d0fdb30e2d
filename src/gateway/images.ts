/**
 * Image references the policy could not judge by name (an image id, a
 * short id prefix, a tag request's source): the daemon says which image
 * each one is, and the policy judges that image by its own tags and
 * digests (src/policy's resolveImages). Without an answer the request is
 * refused, never forwarded unjudged.
 */
import { resolveImages, type Verdict } from '../policy/index.js'
import type { DaemonClient } from '../ownership/index.js'

/** `verdict` with its pending image references judged on the daemon; unchanged when it has none. Rejects when the daemon cannot be asked. */
export async function withImagesResolved (verdict: Verdict, daemon: DaemonClient): Promise<Verdict> {
  const pending = verdict.images
  if (pending === undefined || verdict.outcome !== 'allow') return verdict
  const resolved = new Map<string, readonly string[] | null>()
  for (const ref of pending.refs) resolved.set(ref, await imageNames(daemon, ref))
  return resolveImages(verdict, resolved)
}

/** The tags and digests of the image `ref` names on the daemon (as it resolves it), or null when it has no such image. */
async function imageNames (daemon: DaemonClient, ref: string): Promise<readonly string[] | null> {
  const answer = await daemon.get(`/images/${encodeURIComponent(ref)}/json`)
  if (answer.status === 404) return null
  if (answer.status !== 200 || answer.body === null || typeof answer.body !== 'object') throw new Error(`the daemon answered ${answer.status} to an image inspect`)
  const image = answer.body as { RepoTags?: unknown; RepoDigests?: unknown }
  return [...strings(image.RepoTags), ...strings(image.RepoDigests)]
}

function strings (value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}
