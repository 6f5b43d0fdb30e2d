/**
 * Kernel parameters a container sets: `HostConfig.Sysctls` (and a service's
 * `ContainerSpec.Sysctls`), and the per-interface sysctls of a network
 * endpoint (`DriverOpts["com.docker.network.endpoint.sysctls"]`, API 1.46).
 *
 * dockerd hands `Sysctls` to runc, which writes them as root when the
 * container starts. runc (1.1 to today) accepts a name only when it is in a
 * namespace the container has: the IPC ones (kernel.msgmax, msgmnb, msgmni,
 * sem, shmall, shmmax, shmmni, shm_rmid_forced, fs.mqueue.*) with an IPC
 * namespace, `net.*` unless the network namespace is the host's,
 * `kernel.domainname` with a UTS namespace (and newer runc `user.*` with a
 * user namespace). But "has a namespace" includes one it joins: with
 * `NetworkMode: container:X` a `net.*` sysctl is written into X's network
 * namespace (checked against dockerd 20.10 and runc 1.1.5), and with
 * `IpcMode: container:X` an IPC sysctl into X's IPC namespace. So:
 *
 * - a namespaced sysctl whose namespace the container has of its own passes;
 * - one whose namespace it shares (`host`, `container:ID`) is refused unless
 *   `containers: unrestricted`: it would change another container's (or
 *   the host's) kernel settings;
 * - any other name (kernel.*, vm.*, fs.*, user.*, unknown spellings) is
 *   refused unless `containers: unrestricted`: runc refuses it today, but
 *   another runtime need not, and it would reach the host's kernel.
 *
 * Names are read as runc reads them: a name whose first separator is `/`
 * has `/` and `.` swapped (`net/ipv4/ip_forward` is `net.ipv4.ip_forward`);
 * runc compares the result exactly, and so does dockgate.
 *
 * Endpoint sysctls are applied by the daemon to the container's own
 * interface in its own network namespace; newer daemons accept only
 * `net.X.Y.IFNAME.Z=V` with X one of ipv4, ipv6, mpls. dockgate passes
 * exactly those (without `/` in any part of the name) when the container's
 * network namespace is its own, and refuses anything else unless
 * `containers: unrestricted`.
 */
import { sharesNamespace, type FactList } from './facts.js'
import { asStruct, type StructView } from './fields.js'
import type { JsonObject } from './json.js'

/** The endpoint driver option that carries per-interface sysctls. */
export const ENDPOINT_SYSCTLS_OPTION = 'com.docker.network.endpoint.sysctls'

const IPC_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced'])

/** The namespaces a sysctl can belong to, and the HostConfig field that says whether the container has its own. */
const NAMESPACES = {
  ipc: { field: 'IpcMode', label: 'an IPC' },
  net: { field: 'NetworkMode', label: 'a network' },
  uts: { field: 'UTSMode', label: 'a UTS' }
} as const

type Namespace = keyof typeof NAMESPACES

/** A sysctl name as runc reads it (convertSysctlVariableToDotsSeparator). */
export function sysctlName (raw: string): string {
  const first = raw.search(/[./]/)
  if (first === -1 || raw[first] === '.') return raw
  return raw.replace(/[./]/g, (ch) => ch === '.' ? '/' : '.')
}

/** The namespace runc places `name` in, or null when it would reach the host's kernel. */
function namespaceOf (name: string): Namespace | null {
  if (IPC_SYSCTLS.has(name) || name.startsWith('fs.mqueue.')) return 'ipc'
  if (name.startsWith('net.')) return 'net'
  if (name === 'kernel.domainname') return 'uts'
  return null
}

/**
 * Judges the `Sysctls` map of `spec` (a HostConfig, or a service's
 * ContainerSpec) at `field`. `modeOf` gives the namespace mode the
 * container has for a HostConfig field (`IpcMode`, ...); '' is its own.
 */
export function readSysctls (spec: StructView, field: string, modeOf: (modeField: string) => string, facts: FactList): void {
  for (const raw of spec.stringMap('Sysctls').keys()) {
    const name = sysctlName(raw)
    const namespace = namespaceOf(name)
    if (namespace === null) {
      facts.opaque(field, `set sysctl ${name} (${field}), which is not in a namespace of the container's own: it would change the host's kernel`)
      continue
    }
    const { field: modeField, label } = NAMESPACES[namespace]
    const mode = modeOf(modeField)
    if (sharesNamespace(mode)) {
      facts.opaque(field, `set sysctl ${name} (${field}) in ${label} namespace the container shares (${modeField}=${mode}): it would change that namespace, not only the container's`)
    }
  }
}

const ENDPOINT_SYSCTL = /^net\.(?:ipv4|ipv6|mpls)\.[^./=]+\.(?:IFNAME|ifname)\.[^./=]+=/

/**
 * Judges the per-interface sysctls of every endpoint in a create body's
 * `NetworkingConfig.EndpointsConfig`. `sharedMode` is a NetworkMode of the
 * body that shares a network namespace, or '' when none does.
 */
export function readEndpointSysctls (networking: StructView | null, sharedMode: string, facts: FactList): void {
  if (networking === null || networking.mapKeys('EndpointsConfig').length === 0) return
  for (const [name, value] of (networking.get('EndpointsConfig') as JsonObject).entries) {
    if (value === null) continue
    const where = `NetworkingConfig.EndpointsConfig.${name}.DriverOpts`
    const option = asStruct(value, `NetworkingConfig.EndpointsConfig.${name}`).stringMap('DriverOpts').get(ENDPOINT_SYSCTLS_OPTION)
    if (option === undefined) continue
    if (sharedMode !== '') {
      facts.opaque(where, `set interface sysctls (${where}) with NetworkMode=${sharedMode}: they would change a network namespace the container shares`)
      continue
    }
    for (const item of option.split(',')) {
      if (!ENDPOINT_SYSCTL.test(item)) {
        facts.opaque(where, `set interface sysctl ${JSON.stringify(item)} (${where}): only net.ipv4|ipv6|mpls.NAME.IFNAME.NAME=VALUE is judged`)
      }
    }
  }
}
