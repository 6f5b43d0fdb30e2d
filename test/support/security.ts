/**
 * The setting of the security regression tests (test/security/): a gateway
 * in front of the real daemon under a policy with one team per body rule
 * setting, an image on the daemon that the image team may not use, a host
 * folder the bind team may use, unique names for everything a test could
 * make, and a clean-up that removes whatever a failed protection let
 * through.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startGateway, type TestGateway } from './gateway.js'
import { onDaemon, sendOne, type WireAnswer } from './body-wire.js'

/** The image every test container runs (made by scripts/test-daemon.sh). */
export const IMAGE = 'dockgate-test/busybox:latest'

/** A running gateway for the security tests and what it was set up with. */
export interface SecurityGateway {
  readonly gw: TestGateway
  /** The daemon's socket, for asking it directly. */
  readonly socket: string
  /** A host folder the `ci` team may bind (`ALLOWED/**`). */
  readonly allowed: string
  /** An image on the daemon the `img` team may not use (a tag of IMAGE). */
  readonly forbidden: string
  /** A name unique to this run for case `n`: `dg-sec-TAG-n`. */
  readonly name: (n: string | number) => string
  /** Sends one request's bytes as client `who` (ci, img, lim, joiner, viewer, platform); its final answer. */
  readonly send: (who: string, bytes: string | Buffer) => Promise<WireAnswer>
  readonly close: () => Promise<void>
}

/** The teams: platform unrestricted; each other team lifts at most one setting (or sets images or a cap). */
function policy (allowed: string): string {
  return `version: 1
identities:
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: img }
    teams: [img]
  - match: { ou: lim }
    teams: [lim]
  - match: { ou: joiner }
    teams: [joiner]
  - match: { ou: viewer }
    teams: [viewer]
teams:
  platform:
    allow: ["* /**"]
    containers: unrestricted
  ci:
    allow: ["* /**"]
    containers:
      bindMounts: ["${allowed}/**"]
  img:
    allow: ["* /**"]
    containers:
      images: ["dockgate-test/busybox"]
  lim:
    allow: ["* /**"]
    containers:
      resources: { memory: 64m }
  joiner:
    allow: ["* /**"]
    containers:
      hostNamespaces: true
  viewer:
    allow: ["GET /**"]
`
}

const CLIENTS = ['platform', 'ci', 'img', 'lim', 'joiner', 'viewer'].map((team) => ({ name: team, ous: [team] }))

/** Starts the gateway and makes the forbidden image; `close` removes everything named `dg-sec-TAG*`. */
export async function startSecurityGateway (socket: string): Promise<SecurityGateway> {
  const tag = Math.random().toString(36).slice(2, 8)
  const dir = mkdtempSync(join(tmpdir(), 'dg-sec-'))
  const allowed = join(dir, 'allowed')
  mkdirSync(allowed)
  const forbidden = `dockgate-test/forbidden:sec-${tag}`
  const tagged = await onDaemon(socket, 'POST', `/v1.41/images/${IMAGE}/tag?repo=dockgate-test/forbidden&tag=sec-${tag}`)
  if (tagged.status !== 201) throw new Error(`could not tag ${forbidden}: ${tagged.status} ${tagged.body}`)
  const gw = await startGateway({ socket, policy: policy(allowed), clients: CLIENTS })
  const prefix = `dg-sec-${tag}`
  return {
    gw,
    socket,
    allowed,
    forbidden,
    name: (n) => `${prefix}-${n}`,
    send: async (who, bytes) => await sendOne(gw.port, gw.pki.bundle(who), bytes),
    close: async () => {
      await gw.close()
      await removeEverything(socket, prefix, forbidden)
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Removes the containers, volumes and images (and tags of the test image) whose names start with `prefix`, and the forbidden image. */
async function removeEverything (socket: string, prefix: string, forbidden: string): Promise<void> {
  const filters = encodeURIComponent(JSON.stringify({ name: [prefix] }))
  const containers = JSON.parse((await onDaemon(socket, 'GET', `/v1.41/containers/json?all=1&filters=${filters}`)).body) as Array<{ Id: string }>
  for (const { Id } of containers) await onDaemon(socket, 'DELETE', `/v1.41/containers/${Id}?force=1&v=1`)
  const volumes = (JSON.parse((await onDaemon(socket, 'GET', `/v1.41/volumes?filters=${filters}`)).body) as { Volumes: Array<{ Name: string }> | null }).Volumes ?? []
  for (const { Name } of volumes) await onDaemon(socket, 'DELETE', `/v1.41/volumes/${Name}?force=1`)
  const images = JSON.parse((await onDaemon(socket, 'GET', '/v1.41/images/json')).body) as Array<{ RepoTags: string[] | null }>
  // Names a test makes are dockgate-test/PREFIX-...:TAG, or dockgate-test/busybox:PREFIX-... (a tag of the test image).
  const ours = images.flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`dockgate-test/${prefix}`) || t.startsWith(`dockgate-test/busybox:${prefix}`))
  for (const name of [...ours, forbidden]) await onDaemon(socket, 'DELETE', `/v1.41/images/${name}`)
}
