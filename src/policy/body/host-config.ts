/**
 * The host-reaching fields of a container's HostConfig, read into facts.
 * Used for `HostConfig` in a create body, for the same fields at the top
 * level of a create body (dockerd embeds HostConfig there too), for an
 * old-API start body, and (the Resources part) for an update body.
 *
 * Every field here and the decision for it is listed in docs/body-rules.md,
 * "Body rules" and "Fields of newer API versions"; fields not listed there
 * (PortBindings, Tmpfs, ShmSize, ...) do not give a container more of the
 * host than its namespaces, capabilities and mounts already do.
 */
import { DEFAULT_CAPABILITIES, normalizeCapability } from './capabilities.js'
import { sharesNamespace, type Action, type FactList } from './facts.js'
import type { StructView } from './fields.js'
import { isLocalDriver, readBinds, readMounts } from './mounts.js'
import { readSysctls } from './sysctls.js'

/** Namespace modes whose value `host` (or `container:ID`) shares a namespace. */
const NAMESPACE_FIELDS = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode', 'Cgroup']

/** Reads every host-reaching field of a HostConfig-shaped struct into `facts`. */
export function readHostConfig (host: StructView, action: Action, facts: FactList): void {
  if (host.bool('Privileged')) facts.privileged(action, at(host, 'Privileged'))
  readNamespaces(host, facts)
  readResources(host, facts)
  readCapabilities(host, facts)
  readSecurityOptions(host, facts)
  readSystemPaths(host, facts)
  const volumeDriver = host.string('VolumeDriver')
  if (!isLocalDriver(volumeDriver)) {
    facts.opaque(at(host, 'VolumeDriver'), `use volume driver ${JSON.stringify(volumeDriver)} (${at(host, 'VolumeDriver')}), which dockgate cannot judge`)
  }
  readBinds(host.strings('Binds'), at(host, 'Binds'), facts)
  readMounts(host.structs('Mounts'), at(host, 'Mounts'), volumeDriver, facts)
  if (host.strings('VolumesFrom').length > 0) {
    facts.opaque(at(host, 'VolumesFrom'), `use VolumesFrom (${at(host, 'VolumesFrom')}): it inherits another container's mounts, which dockgate cannot see`)
  }
  readLogDriver(host.struct('LogConfig')?.string('Type') ?? '', at(host, 'LogConfig.Type'), facts)
  readSysctls(host, at(host, 'Sysctls'), (field) => host.string(field), facts)
  readRuntime(host, facts)
}

/** The runtimes every daemon has, which give a container nothing its HostConfig does not say. */
const DEFAULT_RUNTIMES = new Set(['', 'runc', 'io.containerd.runc.v2'])

/**
 * `Runtime` and `Annotations` (API 1.43): both are read by the OCI runtime
 * rather than dockerd. Another runtime may give a container what its
 * HostConfig does not say (NVIDIA's hands out GPUs from an environment
 * variable; Kata and gVisor run it elsewhere), and annotations steer
 * runtimes and their hooks (crun's `run.oci.*`, CDI devices requested by
 * `cdi.k8s.io/*` for runtimes that honour them, Kata's hypervisor settings),
 * so only `containers: unrestricted` may set either.
 */
function readRuntime (host: StructView, facts: FactList): void {
  const runtime = host.string('Runtime')
  if (!DEFAULT_RUNTIMES.has(runtime)) {
    facts.opaque(at(host, 'Runtime'), `use runtime ${JSON.stringify(runtime)} (${at(host, 'Runtime')}): what another runtime gives a container cannot be judged`)
  }
  if (host.stringMap('Annotations').size > 0) {
    facts.opaque(at(host, 'Annotations'), `set annotations (${at(host, 'Annotations')}): the OCI runtime and its hooks act on them, which dockgate cannot judge`)
  }
}

/**
 * The masked and read-only /proc and /sys paths every dockerd since 19.03
 * applies by default. Newer daemons add to them (`/sys/devices/virtual/powercap`,
 * `/proc/interrupts`): a list replayed from an older daemon's inspect (as
 * updaters like Watchtower send) omits those, which is accepted and
 * documented in docs/body-rules.md.
 */
const DEFAULT_SYSTEM_PATHS: Readonly<Record<'MaskedPaths' | 'ReadonlyPaths', readonly string[]>> = Object.freeze({
  MaskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware'],
  ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']
})

/**
 * MaskedPaths and ReadonlyPaths replace the defaults when given (null or
 * absent keeps them): a list that drops a default path unconfines it (an
 * empty list is how `--security-opt systempaths=unconfined` reaches the
 * daemon); one that keeps them all, adding more or not, confines as much.
 */
function readSystemPaths (host: StructView, facts: FactList): void {
  for (const field of ['MaskedPaths', 'ReadonlyPaths'] as const) {
    if (!host.has(field)) continue
    const given = new Set(host.strings(field))
    const dropped = DEFAULT_SYSTEM_PATHS[field].find((path) => !given.has(path))
    if (dropped !== undefined) facts.unconfined(at(host, field), `leaves out the default ${field === 'MaskedPaths' ? 'masked' : 'read-only'} path ${dropped}`)
  }
}

/**
 * Log drivers that only write files or the local journal. The others
 * (syslog, gelf, fluentd, splunk, ..., and log plugins) are run by the
 * daemon in the host's network namespace and can reach the host's sockets
 * and loopback services: a `--network none` container would talk to them.
 */
const LOCAL_LOG_DRIVERS = new Set(['', 'json-file', 'local', 'journald', 'none'])

/** Judges a log driver name (a container's LogConfig.Type or a service's LogDriver.Name). */
export function readLogDriver (driver: string, field: string, facts: FactList): void {
  if (LOCAL_LOG_DRIVERS.has(driver)) return
  facts.opaque(field, `use log driver ${JSON.stringify(driver)} (${field}), which the daemon runs with the host's network and sockets`)
}

/**
 * The Resources fields that reach the host: devices of every kind and the
 * cgroup parent. Update bodies carry only these (and a restart policy).
 */
export function readResources (host: StructView, facts: FactList): void {
  for (const field of ['Devices', 'DeviceCgroupRules', 'DeviceRequests']) {
    if (host.list(field).length > 0) facts.device(at(host, field))
  }
  const parent = host.string('CgroupParent')
  if (parent !== '') {
    facts.hostNamespace(at(host, 'CgroupParent'), `place a container in a host cgroup of its choosing (${at(host, 'CgroupParent')}=${parent})`)
  }
}

function readNamespaces (host: StructView, facts: FactList): void {
  for (const field of NAMESPACE_FIELDS) {
    const mode = host.string(field)
    if (sharesNamespace(mode)) facts.namespace(at(host, field), mode)
  }
}

/** CapAdd (a string or a list) and the legacy Capabilities list (which replaces the default set). */
function readCapabilities (host: StructView, facts: FactList): void {
  for (const raw of host.stringOrStrings('CapAdd')) {
    const capability = normalizeCapability(raw)
    if (!DEFAULT_CAPABILITIES.has(capability)) facts.capability(capability, at(host, 'CapAdd'))
  }
  for (const raw of host.strings('Capabilities')) {
    const capability = normalizeCapability(raw)
    if (!DEFAULT_CAPABILITIES.has(capability)) facts.capability(capability, at(host, 'Capabilities'))
  }
}

/**
 * SecurityOpt, as dockerd parses it: `no-new-privileges`, `disable`, or
 * `KEY=VALUE` (`KEY:VALUE`, deprecated). Only options known to keep the
 * default confinement pass: label user/role/level, named AppArmor profiles
 * (loaded by an administrator), `seccomp=builtin`, no-new-privileges.
 * Unconfined profiles, `label=disable`, `label=type:...` (which can pick an
 * unconfined SELinux type), custom seccomp profiles (which can allow as much
 * as unconfined) and anything unrecognised count as unconfined.
 */
function readSecurityOptions (host: StructView, facts: FactList): void {
  const field = at(host, 'SecurityOpt')
  for (const option of host.strings('SecurityOpt')) {
    if (!securityOptionKeepsConfinement(option)) facts.unconfined(field, shorten(option))
  }
}

function securityOptionKeepsConfinement (option: string): boolean {
  if (option === 'no-new-privileges') return true
  const separator = option.includes('=') ? '=' : option.includes(':') ? ':' : null
  if (separator === null) return false
  const cut = option.indexOf(separator)
  const key = option.slice(0, cut).toLowerCase()
  const value = option.slice(cut + 1)
  switch (key) {
    case 'label': return /^(user|role|level):/.test(value)
    case 'apparmor': return value !== '' && value.toLowerCase() !== 'unconfined'
    case 'seccomp': return value === 'builtin'
    case 'no-new-privileges': return true
    default: return false
  }
}

function shorten (text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function at (host: StructView, field: string): string {
  return host.where === '' ? field : `${host.where}.${field}`
}
