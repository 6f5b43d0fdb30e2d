/**
 * Swarm service specs and plugin privileges: the two other ways a request
 * body can hand host resources to a process.
 *
 * Services (POST /services/create, /services/{id}/update): the task's
 * container mounts (image mounts judged as the service's image), added
 * capabilities, security privileges (SELinux, seccomp, AppArmor), sysctls,
 * attachment to the `host` network, and plugin tasks
 * (which install a plugin with its own privileges: never judged in detail),
 * and a log driver that sends from the host.
 *
 * Plugins (POST /plugins/pull, /plugins/{name}/upgrade): the body is the
 * list of privileges the client accepts, and dockerd refuses the pull unless
 * it equals what the plugin asks for, so judging the list judges the plugin:
 * network (anything but none/bridge), host PID/IPC namespaces, mounts,
 * devices, allow-all-devices and capabilities.
 */
import { DEFAULT_CAPABILITIES, normalizeCapability } from './capabilities.js'
import type { FactList } from './facts.js'
import { readLogDriver } from './host-config.js'
import { asStruct, structItems, type StructView } from './fields.js'
import type { JsonValue } from './json.js'
import { readMounts } from './mounts.js'
import { readSysctls } from './sysctls.js'

/** Reads a ServiceSpec body. */
export function readServiceSpec (value: JsonValue | undefined, facts: FactList): void {
  if (value === undefined || value === null) return
  const spec = asStruct(value, '')
  readNetworks(spec.structs('Networks'), 'Networks', facts)
  const task = spec.struct('TaskTemplate')
  if (task === null) return
  readNetworks(task.structs('Networks'), 'TaskTemplate.Networks', facts)
  if (task.has('PluginSpec')) {
    facts.opaque('TaskTemplate.PluginSpec', 'run a plugin as a service (TaskTemplate.PluginSpec): its privileges are not judged')
  }
  readLogDriver(task.struct('LogDriver')?.string('Name') ?? '', 'TaskTemplate.LogDriver.Name', facts)
  const container = task.struct('ContainerSpec')
  if (container === null) return
  readMounts(container.structs('Mounts'), 'TaskTemplate.ContainerSpec.Mounts', '', facts, 'service')
  // A task's IPC and UTS namespaces are its own; attaching to the host network is judged above.
  readSysctls(container, 'TaskTemplate.ContainerSpec.Sysctls', () => '', facts)
  for (const field of ['CapabilityAdd', 'Capabilities']) {
    for (const raw of container.strings(field)) {
      const capability = normalizeCapability(raw)
      if (!DEFAULT_CAPABILITIES.has(capability)) facts.capability(capability, `TaskTemplate.ContainerSpec.${field}`)
    }
  }
  readServicePrivileges(container.struct('Privileges'), facts)
}

function readNetworks (networks: readonly StructView[], field: string, facts: FactList): void {
  networks.forEach((network, i) => {
    const target = network.string('Target')
    if (target.toLowerCase() === 'host') facts.namespace(`${field}[${i}].Target`, target)
  })
}

function readServicePrivileges (privileges: StructView | null, facts: FactList): void {
  if (privileges === null) return
  const where = 'TaskTemplate.ContainerSpec.Privileges'
  const selinux = privileges.struct('SELinuxContext')
  if (selinux?.bool('Disable') === true) facts.unconfined(`${where}.SELinuxContext.Disable`, 'true')
  if ((selinux?.string('Type') ?? '') !== '') facts.unconfined(`${where}.SELinuxContext.Type`, selinux?.string('Type') ?? '')
  const seccomp = privileges.struct('Seccomp')?.string('Mode') ?? ''
  if (seccomp !== '' && seccomp !== 'default') facts.unconfined(`${where}.Seccomp.Mode`, seccomp)
  const apparmor = privileges.struct('AppArmor')?.string('Mode') ?? ''
  if (apparmor !== '' && apparmor !== 'default') facts.unconfined(`${where}.AppArmor.Mode`, apparmor)
}

/** Network types a plugin may have without reaching past its own namespace. */
const ISOLATED_NETWORKS = new Set(['', 'null', 'none', 'bridge'])

/** Reads a plugin privileges list (the body of /plugins/pull and /plugins/{name}/upgrade). */
export function readPluginPrivileges (value: JsonValue | undefined, facts: FactList): void {
  if (value === undefined || value === null) return
  structItems(value, 'privileges').forEach((privilege, i) => {
    const where = `privileges[${i}]`
    const name = privilege.string('Name')
    const values = privilege.strings('Value')
    readPrivilege(name.toLowerCase(), values, where, facts)
  })
}

function readPrivilege (name: string, values: readonly string[], where: string, facts: FactList): void {
  switch (name) {
    case 'network':
      for (const type of values) if (!ISOLATED_NETWORKS.has(type.toLowerCase())) facts.namespace(`${where} network`, type)
      return
    case 'host pid namespace':
    case 'host ipc namespace':
      facts.hostNamespace(where, `install a plugin that uses the ${name} (${where})`)
      return
    case 'mount':
      for (const path of values) facts.bind(path, `${where} mount`)
      return
    case 'device':
    case 'allow-all-devices':
      facts.device(`${where} ${name}`)
      return
    case 'capabilities':
      for (const raw of values) {
        const capability = normalizeCapability(raw)
        if (!DEFAULT_CAPABILITIES.has(capability)) facts.capability(capability, `${where} capabilities`)
      }
      return
    default:
      facts.opaque(where, `accept plugin privilege ${JSON.stringify(name)} (${where}), which dockgate does not know`)
  }
}
