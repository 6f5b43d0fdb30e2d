/**
 * What a request would do to the host, read out of its body or query once,
 * independently of any team: "privileged", "bind-mounts /etc", "adds
 * SYS_ADMIN". Each team's `containers` rules are then checked against the
 * same list (containers.ts), so parsing is done once and a body is refused as
 * ambiguous or invalid whichever team is asking.
 */
import { normalizeImageRef, type NormalizedRef } from '../../shared/image-ref.js'
import type { ResourceSetting } from '../images.js'
import { cleanPath } from './host-paths.js'

/**
 * The `containers:` setting that decides a fact; `unrestricted` facts only
 * `containers: unrestricted` allows. `images` facts are decided by
 * `images` and `requireDigest`, resource facts by `resources.*`.
 */
export type ContainerRuleKey = 'privileged' | 'hostNamespaces' | 'capAdd' | 'devices' | 'unconfined' | 'bindMounts' | 'unrestricted' |
'images' | 'requireDigest' | 'resources.memory' | 'resources.cpus' | 'resources.pids'

/**
 * How a request uses an image reference:
 * - `run`: a container runs it (the daemon resolves ids and id prefixes);
 * - `service`: a service's tasks run it, on any node: a full id names the
 *   same content everywhere, but a short id prefix may name another image
 *   on another node, so only full ids are resolved;
 * - `source`: the source of `docker tag` (resolved the same way);
 * - `pull`: pulled by name (`allTags` when neither tag nor digest is given);
 * - `name`: a name the request writes (a tag's new name, a commit), never a digest.
 */
export type ImageUse = 'run' | 'service' | 'source' | 'pull' | 'name'

/** An image a request names, or an image path that cannot be judged by name (`ref` null, `why` says why). */
export interface ImageFact {
  readonly text: string
  readonly use: ImageUse
  readonly ref: NormalizedRef | null
  readonly allTags: boolean
  readonly why: string
}

/**
 * A resource limit a request sets (or, on create, leaves unset). `value` is
 * in bytes (memory), nano-CPUs (cpus) or a count (pids); null is no limit.
 * `asked` is what the request wrote, for messages (`Memory=-1`); `unknown`
 * is set when the value cannot be known from the request (an update
 * changing CpuQuota without CpuPeriod).
 */
export interface ResourceFact {
  readonly setting: ResourceSetting
  readonly value: number | null
  readonly asked: string
  readonly unknown?: string
}

/**
 * One host-reaching thing a request asks for. `phrase` completes "TEAM may
 * not ...", e.g. `create a privileged container`; `field` says where in the
 * body (or query) it was found.
 */
export type HostFact =
  | { readonly rule: 'privileged' | 'hostNamespaces' | 'devices' | 'unconfined' | 'unrestricted'; readonly phrase: string; readonly field: string }
  | { readonly rule: 'capAdd'; readonly capability: string; readonly phrase: string; readonly field: string }
  | { readonly rule: 'bindMounts'; readonly path: string; readonly phrase: string; readonly field: string }
  | { readonly rule: 'images'; readonly image: ImageFact; readonly phrase: string; readonly field: string }
  | { readonly rule: 'resources'; readonly resource: ResourceFact; readonly phrase: string; readonly field: string }

/** How an endpoint names what it does, for phrases: `create a container`, `run an exec`. */
export interface Action {
  /** e.g. `create a privileged container`, `run a privileged exec`. */
  readonly privileged: string
}

/** Collects facts while a body is read. */
export class FactList {
  readonly facts: HostFact[] = []

  /** Asks for a privileged container or exec. */
  privileged (action: Action, field: string): void {
    this.facts.push({ rule: 'privileged', phrase: action.privileged, field })
  }

  /** Shares a host namespace (`host`) or joins another container's (`container:ID`). */
  namespace (field: string, value: string): void {
    const phrase = isJoin(value)
      ? `join another container's namespace (${field}=${value}): dockgate cannot see whether that container shares the host's`
      : `use a host namespace (${field}=${value})`
    this.facts.push({ rule: 'hostNamespaces', phrase, field })
  }

  /** Something else that reaches out of the container's namespaces, e.g. a chosen cgroup parent. */
  hostNamespace (field: string, phrase: string): void {
    this.facts.push({ rule: 'hostNamespaces', phrase, field })
  }

  /** Adds a (normalised) capability beyond the default set. */
  capability (capability: string, field: string): void {
    this.facts.push({ rule: 'capAdd', capability, phrase: `add capability ${capability} (${field})`, field })
  }

  /** Gives the container host devices. */
  device (field: string): void {
    this.facts.push({ rule: 'devices', phrase: `give a container host devices (${field})`, field })
  }

  /** Weakens seccomp, AppArmor, SELinux or the masked /proc and /sys paths. */
  unconfined (field: string, what: string): void {
    this.facts.push({ rule: 'unconfined', phrase: `run unconfined (${field} ${what})`, field })
  }

  /**
   * Binds host path `source` (as written) into a container or plugin. An
   * absolute source is judged cleaned, as dockerd cleans it; a relative one
   * would be resolved against the daemon's working directory, which
   * dockgate cannot see, so only `containers: unrestricted` may ask for it.
   */
  bind (source: string, field: string): void {
    if (!source.startsWith('/')) {
      this.opaque(field, `bind-mount the relative host path ${JSON.stringify(source)} (${field}), which the daemon would resolve against its own working directory`)
      return
    }
    const path = cleanPath(source)
    this.facts.push({ rule: 'bindMounts', path, phrase: `bind-mount ${path} (${field})`, field })
  }

  /** Names image `text` (as written) for `use`. */
  image (text: string, use: ImageUse, field: string, allTags = false): void {
    const image: ImageFact = { text, use, ref: normalizeImageRef(text), allTags, why: '' }
    this.facts.push({ rule: 'images', image, phrase: `use image ${text} (${field})`, field })
  }

  /** An image enters by a path that cannot be judged by name; refused to a team with `images`. */
  unjudgedImage (field: string, why: string): void {
    const image: ImageFact = { text: '', use: 'name', ref: null, allTags: false, why }
    this.facts.push({ rule: 'images', image, phrase: why, field })
  }

  /** A resource limit set (or, on create, not set: `value` null). */
  resource (resource: ResourceFact, field: string): void {
    this.facts.push({ rule: 'resources', resource, phrase: `set ${resource.setting} ${resource.asked} (${field})`, field })
  }

  /** Something dockgate cannot judge in detail; only `containers: unrestricted` allows it. */
  opaque (field: string, phrase: string): void {
    this.facts.push({ rule: 'unrestricted', phrase, field })
  }
}

/** True for namespace modes that join another container (`container:ID`). */
export function isJoin (mode: string): boolean {
  return mode.toLowerCase().startsWith('container:')
}

/** True for a namespace mode that shares the host's (`host`), or joins another container's. */
export function sharesNamespace (mode: string): boolean {
  return mode.toLowerCase() === 'host' || isJoin(mode)
}
