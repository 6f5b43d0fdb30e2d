/**
 * Image references the policy could not judge by name (an image id, a
 * short id prefix, a tag request's source): the daemon says which image
 * each one is, and the policy judges that image by its own tags and
 * digests (src/policy's resolveImages). Without an answer the request is
 * refused, never forwarded unjudged.
 */
import http from 'node:http'
import { resolveImages, type Verdict } from '../policy/index.js'

/** How long one image inspect may take. */
const INSPECT_TIMEOUT_MS = 10_000

/** `verdict` with its pending image references judged on the daemon at `socketPath`; unchanged when it has none. Rejects when the daemon cannot be asked. */
export async function withImagesResolved (verdict: Verdict, socketPath: string): Promise<Verdict> {
  const pending = verdict.images
  if (pending === undefined || verdict.outcome !== 'allow') return verdict
  const resolved = new Map<string, readonly string[] | null>()
  for (const ref of pending.refs) resolved.set(ref, await imageNames(socketPath, ref))
  return resolveImages(verdict, resolved)
}

/** The tags and digests of the image `ref` names on the daemon (as it resolves it), or null when it has no such image. */
async function imageNames (socketPath: string, ref: string): Promise<readonly string[] | null> {
  return await new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: `/images/${encodeURIComponent(ref)}/json`, agent: false, timeout: INSPECT_TIMEOUT_MS }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode === 404) return resolve(null)
        if (res.statusCode !== 200) return reject(new Error(`the daemon answered ${res.statusCode ?? 0} to an image inspect`))
        try {
          const image = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { RepoTags?: unknown; RepoDigests?: unknown }
          resolve([...strings(image.RepoTags), ...strings(image.RepoDigests)])
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)))
        }
      })
    })
    req.on('timeout', () => { req.destroy(new Error('the daemon did not answer an image inspect in time')) })
    req.on('error', reject)
  })
}

function strings (value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : []
}
