/**
 * Security regressions for request fields of API versions newer than the
 * daemon's (20.10, API 1.41): image mounts, volume and image subpaths, CDI
 * devices, sysctls (HostConfig and per endpoint), annotations and runtimes.
 * The daemon ignores most of them, so without the judge it would create
 * the container; each case is refused, in every framing and in a plain and
 * a folded or escaped spelling, and the daemon made nothing. The harmless
 * uses next to them are accepted, so the refusals are not a blanket one.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IMAGE, startSecurityGateway, type SecurityGateway } from '../support/security.js'
import { daemonHas, FRAMINGS, frame, messageOf, onDaemon } from '../support/body-wire.js'

const socket = inject('dockerSocket')

/** A create body: `host` is the text of HostConfig's members besides NetworkMode; `extra` more top-level members. */
const create = (host: string, extra = '', network = '"none"'): string =>
  `{"Image":"${IMAGE}","Cmd":["true"],"HostConfig":{"NetworkMode":${network}${host === '' ? '' : `,${host}`}}${extra}}`

interface Attack {
  readonly name: string
  readonly team: string
  readonly body: (sec: SecurityGateway) => string
  readonly status: 400 | 403
  readonly message: (sec: SecurityGateway) => string | RegExp
}

const cdi = '{"Driver":"cdi","DeviceIDs":["vendor.com/gpu=0"]}'
const imageDenied = (sec: SecurityGateway): string => `dockgate: img may not use image docker.io/${sec.forbidden} (allowed: docker.io/dockgate-test/busybox)`
const unrestrictedOnly = (team: string, phrase: string): string => `dockgate: ${team} may not ${phrase} (only containers: unrestricted allows it)`
const badSubpath = (field: string, subpath: string): string =>
  `dockgate: POST /containers/create: request body field HostConfig.Mounts[0].${field} must be a relative path inside the mount, not ${JSON.stringify(subpath)}`

const ATTACKS: readonly Attack[] = [
  { name: 'an image mount of an image the team may not use', team: 'img', status: 403, message: imageDenied, body: (s) => create(`"Mounts":[{"Type":"image","Source":"${s.forbidden}","Target":"/m"}]`) },
  { name: 'the same, spelled "type":"IMAGE" and "ſource"', team: 'img', status: 403, message: imageDenied, body: (s) => create(`"mounts":[{"type":"IMAGE","ſource":"${s.forbidden}","target":"/m"}]`) },
  {
    name: 'an image mount whose ImageOptions.Subpath climbs out', team: 'ci', status: 400, message: () => badSubpath('ImageOptions.Subpath', '../../etc'),
    body: () => create(`"Mounts":[{"Type":"image","Source":"${IMAGE}","Target":"/m","ImageOptions":{"Subpath":"../../etc"}}]`)
  },
  {
    name: 'a volume mount whose VolumeOptions.Subpath climbs out', team: 'ci', status: 400, message: () => badSubpath('VolumeOptions.Subpath', '../../../../etc'),
    body: (s) => create(`"Mounts":[{"Type":"volume","Source":"${s.name('subvol')}","Target":"/m","VolumeOptions":{"Subpath":"../../../../etc"}}]`)
  },
  {
    name: 'an absolute VolumeOptions.Subpath, \\u-escaped', team: 'ci', status: 400, message: () => badSubpath('VolumeOptions.Subpath', '/etc'),
    body: (s) => create(`"Mounts":[{"Type":"volume","Source":"${s.name('subvol')}","Target":"/m","VolumeOptions":{"\\u0053ubpath":"\\/etc"}}]`)
  },
  {
    name: 'a bind volume of / whose subpath lands in the allowed folder', team: 'ci', status: 403,
    message: (s) => `dockgate: ci may not bind-mount / (HostConfig.Mounts[0].VolumeOptions.DriverConfig device) (allowed: ${s.allowed}/**)`,
    body: (s) => create(`"Mounts":[{"Type":"volume","Source":"${s.name('rootvol')}","Target":"/m","VolumeOptions":{"Subpath":"${s.allowed.slice(1)}",` +
      '"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]')
  },
  { name: 'a CDI device request', team: 'ci', status: 403, message: () => 'dockgate: ci may not give a container host devices (HostConfig.DeviceRequests)', body: () => create(`"DeviceRequests":[${cdi}]`) },
  { name: 'a CDI device request spelled "DEVICEREQUEſTſ"', team: 'ci', status: 403, message: () => 'dockgate: ci may not give a container host devices (HostConfig.DeviceRequests)', body: () => create(`"DEVICEREQUEſTſ":[${cdi}]`) },
  {
    name: 'a CDI name in Devices', team: 'ci', status: 403, message: () => 'dockgate: ci may not give a container host devices (HostConfig.Devices)',
    body: () => create('"Devices":[{"PathOnHost":"vendor.com/gpu=0","PathInContainer":"","CgroupPermissions":"rwm"}]')
  },
  {
    name: "a net.* sysctl in another container's network namespace", team: 'joiner', status: 403,
    message: (s) => unrestrictedOnly('joiner', `set sysctl net.ipv4.ip_unprivileged_port_start (HostConfig.Sysctls) in a network namespace the container shares (NetworkMode=container:${s.name('donor')}): it would change that namespace, not only the container's`),
    body: (s) => create('"Sysctls":{"net.ipv4.ip_unprivileged_port_start":"7"}', '', `"container:${s.name('donor')}"`)
  },
  {
    name: 'the same, spelled "ſysctls" and net/ipv4/...', team: 'joiner', status: 403,
    message: (s) => unrestrictedOnly('joiner', `set sysctl net.ipv4.ip_unprivileged_port_start (HostConfig.Sysctls) in a network namespace the container shares (NetworkMode=container:${s.name('donor')}): it would change that namespace, not only the container's`),
    body: (s) => create('"ſysctls":{"net/ipv4/ip_unprivileged_port_start":"7"}', '', `"container:${s.name('donor')}"`)
  },
  {
    name: 'a sysctl of the host kernel', team: 'ci', status: 403,
    message: () => unrestrictedOnly('ci', "set sysctl kernel.core_pattern (HostConfig.Sysctls), which is not in a namespace of the container's own: it would change the host's kernel"),
    body: () => create('"Sysctls":{"kernel.core_pattern":"|/tmp/x"}')
  },
  {
    name: 'an endpoint sysctl that is not net.X.Y.IFNAME.Z', team: 'ci', status: 403,
    message: () => unrestrictedOnly('ci', 'set interface sysctl "net.ipv4.conf.all.forwarding=1" (NetworkingConfig.EndpointsConfig.none.DriverOpts): only net.ipv4|ipv6|mpls.NAME.IFNAME.NAME=VALUE is judged'),
    body: () => create('', ',"NetworkingConfig":{"EndpointsConfig":{"none":{"DriverOpts":{"com.docker.network.endpoint.sysctls":"net.ipv4.conf.all.forwarding=1"}}}}')
  },
  {
    name: 'annotations', team: 'ci', status: 403, message: () => unrestrictedOnly('ci', 'set annotations (HostConfig.Annotations): the OCI runtime and its hooks act on them, which dockgate cannot judge'),
    body: () => create('"Annotations":{"run.oci.hooks.stderr":"/etc/cron.d/x"}')
  },
  {
    name: 'annotations, \\u-escaped key', team: 'ci', status: 403, message: () => unrestrictedOnly('ci', 'set annotations (HostConfig.Annotations): the OCI runtime and its hooks act on them, which dockgate cannot judge'),
    body: () => create('"\\u0041nnotations":{"cdi.k8s.io/gpu":"vendor.com/gpu=all"}')
  },
  {
    name: 'a runtime the daemon has besides runc', team: 'ci', status: 403,
    message: () => unrestrictedOnly('ci', 'use runtime "io.containerd.runtime.v1.linux" (HostConfig.Runtime): what another runtime gives a container cannot be judged'),
    body: () => create('"runtime":"io.containerd.runtime.v1.linux"')
  }
]

describe.skipIf(socket === '')('fields of newer API versions, against the real daemon', () => {
  let sec: SecurityGateway
  beforeAll(async () => {
    sec = await startSecurityGateway(socket)
    const donor = sec.name('donor')
    expect((await onDaemon(socket, 'POST', `/v1.41/containers/create?name=${donor}`, { Image: IMAGE, Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none' } })).status).toBe(201)
    expect((await onDaemon(socket, 'POST', `/v1.41/containers/${donor}/start`)).status).toBe(204)
  })
  afterAll(async () => { await sec?.close() })

  ATTACKS.forEach((attack, i) => {
    for (const framing of FRAMINGS) {
      it(`${attack.name}, ${framing}: refused, nothing made`, async () => {
        const name = sec.name(`new-${i}-${framing.length}`)
        const answer = await sec.send(attack.team, frame('POST', `/v1.41/containers/create?name=${name}`, attack.body(sec), framing))
        expect(answer.status).toBe(attack.status)
        const message = attack.message(sec)
        if (typeof message === 'string') expect(messageOf(answer)).toBe(message)
        else expect(messageOf(answer)).toMatch(message)
        expect(await daemonHas(socket, 'containers', name)).toBe(false)
      })
    }
  })

  it.each([
    ['an image mount for a team without image rules (the daemon, 20.10, refuses the type itself)', 'ci', () => create(`"Mounts":[{"Type":"image","Source":"${IMAGE}","Target":"/m"}]`), 400],
    ['a subpath of a bind volume inside the allowed folder', 'ci', (s: SecurityGateway) => create(`"Mounts":[{"Type":"volume","Source":"${s.name('okvol')}","Target":"/m",` +
      `"VolumeOptions":{"Subpath":"sub","DriverConfig":{"Options":{"type":"none","o":"bind","device":"${s.allowed}"}}}}]`), 201],
    ['namespaced sysctls in namespaces of its own', 'ci', () => create('"Sysctls":{"net/ipv4/ping_group_range":"0 0","kernel.shmmni":"1000"}'), 201],
    ['endpoint sysctls of its own interface', 'ci', () => create('', ',"NetworkingConfig":{"EndpointsConfig":{"none":{"DriverOpts":{"com.docker.network.endpoint.sysctls":"net.ipv4.conf.IFNAME.log_martians=1"}}}}'), 201],
    ['Runtime runc', 'ci', () => create('"Runtime":"runc"'), 201]
  ])('passes %s to the daemon', async (_name, team, body, status) => {
    const name = sec.name(`ok-${_name.length}`)
    const answer = await sec.send(team, frame('POST', `/v1.41/containers/create?name=${name}`, body(sec)))
    expect(answer.status).toBe(status)
    expect(messageOf(answer)).not.toMatch(/^dockgate:/)
    expect(await daemonHas(socket, 'containers', name)).toBe(status === 201)
  })
})
