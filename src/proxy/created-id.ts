/**
 * A tap on a create answer (`{"Id":"...","Warnings":[]}`; a volume's answer
 * is the volume, named by `Name`) that finds the new object's Id (or volume
 * name) for the audit record. It copies at most
 * {@link CREATED_ID_TAP_BYTES} as the body streams past and never delays
 * or holds back a byte for the client.
 */

/** dockerd's create answers are well under 1 KiB; anything longer is not one and is not read further. */
export const CREATED_ID_TAP_BYTES = 4096

const DOCKER_ID = /^[0-9a-f]{64}$/
/** Volume names as dockerd accepts them (volume/local: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`). */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/

/** Collects the first bytes of a body; {@link CreatedIdTap.id} reads the Id from them. */
export class CreatedIdTap {
  private readonly chunks: Buffer[] = []
  private size = 0

  /** Offers a chunk as it passes; only what fits in the tap is kept (a copy). */
  push (chunk: Buffer): void {
    if (this.size >= CREATED_ID_TAP_BYTES) return
    const part = Buffer.from(chunk.subarray(0, CREATED_ID_TAP_BYTES - this.size))
    this.chunks.push(part)
    this.size += part.length
  }

  /** The body's `Id` (else a volume's `Name`) when the whole body fit and is JSON with one, else null. */
  id (): string | null {
    if (this.size >= CREATED_ID_TAP_BYTES) return null
    try {
      const value = JSON.parse(Buffer.concat(this.chunks).toString('utf8')) as { Id?: unknown; Name?: unknown; Mountpoint?: unknown } | null
      if (typeof value?.Id === 'string') return DOCKER_ID.test(value.Id) ? value.Id : null
      return typeof value?.Name === 'string' && typeof value.Mountpoint === 'string' && VOLUME_NAME.test(value.Name) ? value.Name : null
    } catch {
      return null
    }
  }
}
