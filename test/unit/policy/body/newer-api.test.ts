/**
 * Request fields of Docker Engine API 1.43 to 1.57 that reach host
 * resources, judged although the daemon the suite runs against (20.10, API
 * 1.41) ignores or refuses them: image mounts and their subpath, volume
 * subpaths, CDI devices in every spelling, sysctls (HostConfig and
 * per-endpoint), annotations and runtimes; and the fields that were
 * considered and left alone. docs/body-rules.md has the table.
 */
import { describe, expect, it } from 'vitest'
import { judgeAll, member, policyFrom, show } from '../../../support/judge.js'

const policy = policyFrom(`version: 1
identities:
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: img }
    teams: [img]
  - match: { ou: joiner }
    teams: [joiner]
teams:
  ci:
    allow: ["* /**"]
    containers:
      bindMounts: ["/srv/ci/**", "/srv/exact"]
  img:
    allow: ["* /**"]
    containers:
      images: ["docker.io/library/alpine:3.*", "docker.io/team/**"]
  joiner:
    allow: ["* /**"]
    containers:
      hostNamespaces: true
      devices: true
`)

const judge = (who: string, body: unknown, target = '/v1.47/containers/create'): string => show(judgeAll(policy, member(who), 'POST', target, body))
const denied = (message: string): string => `deny DG_BODY_DENIED dockgate: ${message}`
const opaque = (team: string, phrase: string): string => denied(`${team} may not ${phrase} (only containers: unrestricted allows it)`)
const mount = (m: Record<string, unknown>): Record<string, unknown> => ({ Image: 'alpine:3.19', HostConfig: { Mounts: [{ Target: '/m', ...m }] } })

describe('mounts of type image (API 1.48)', () => {
  it('passes for a team without image rules: an image mount reaches no host path', () => {
    expect(judge('ci', mount({ Type: 'image', Source: 'anything:1' }))).toBe('allow')
  })

  it("is judged by the team's images, in any case of the type", () => {
    expect(judge('img', mount({ Type: 'image', Source: 'team/tools:1' }))).toBe('allow')
    expect(judge('img', mount({ Type: 'IMAGE', Source: 'ubuntu:22.04' }))).toBe(
      'deny DG_IMAGE_DENIED dockgate: img may not use image docker.io/library/ubuntu:22.04 (allowed: docker.io/library/alpine:3.*, docker.io/team/**)')
  })

  it('asks the daemon what an id or id prefix names, as for Image', () => {
    const verdict = judgeAll(policy, member('img'), 'POST', '/v1.48/containers/create', mount({ Type: 'image', Source: 'cafe' }))
    expect(verdict.outcome).toBe('allow')
    expect(verdict.images?.refs).toEqual(['cafe'])
  })

  it("judges a service's image mount as the service's image (no short id prefixes)", () => {
    const spec = { TaskTemplate: { ContainerSpec: { Image: 'alpine:3.19', Mounts: [{ Type: 'image', Source: 'cafe', Target: '/m' }] } } }
    expect(judge('img', spec, '/v1.48/services/create')).toMatch(/^deny DG_IMAGE_DENIED dockgate: img may not use image cafe for a service: it may be a short image id/)
  })

  it('refuses an ImageOptions.Subpath that leaves the image', () => {
    for (const subpath of ['../etc', '/etc', 'a/../../b']) {
      expect(judge('ci', mount({ Type: 'image', Source: 'x:1', ImageOptions: { Subpath: subpath } }))).toBe(
        `deny DG_BODY_INVALID dockgate: POST /containers/create: request body field HostConfig.Mounts[0].ImageOptions.Subpath must be a relative path inside the mount, not ${JSON.stringify(subpath)}`)
    }
    expect(judge('ci', mount({ Type: 'image', Source: 'x:1', ImageOptions: { Subpath: 'usr/a/../bin' } }))).toBe('allow')
  })
})

describe('VolumeOptions.Subpath (API 1.45)', () => {
  const bindVolume = (device: string, subpath: string): Record<string, unknown> =>
    mount({ Type: 'volume', Source: 'v', VolumeOptions: { Subpath: subpath, DriverConfig: { Options: { type: 'none', o: 'bind', device } } } })

  it('refuses a subpath that is absolute or climbs out of the volume', () => {
    for (const subpath of ['..', '/etc', '../../etc', 'x/../../y']) {
      expect(judge('ci', mount({ Type: 'volume', Source: 'v', VolumeOptions: { Subpath: subpath } }))).toMatch(/^deny DG_BODY_INVALID .*VolumeOptions\.Subpath must be a relative path inside the mount/)
    }
  })

  it('passes a subpath of an ordinary named volume (the daemon keeps it inside the volume)', () => {
    expect(judge('ci', mount({ Type: 'volume', Source: 'v', VolumeOptions: { subpath: 'a/b' } }))).toBe('allow')
  })

  it('judges the volume a bind volume binds, and the host path the subpath makes of it', () => {
    expect(judge('ci', bindVolume('/srv/ci', 'cache'))).toBe('allow')
    // The volume created binds /srv, reusable by name later: refused although the subpath lands in /srv/ci.
    expect(judge('ci', bindVolume('/srv', 'ci/cache'))).toBe(denied('ci may not bind-mount /srv (HostConfig.Mounts[0].VolumeOptions.DriverConfig device) (allowed: /srv/ci/**, /srv/exact)'))
    expect(judge('ci', bindVolume('/srv/exact', 'sub'))).toBe(denied('ci may not bind-mount /srv/exact/sub (HostConfig.Mounts[0].VolumeOptions.DriverConfig device and VolumeOptions.Subpath) (allowed: /srv/ci/**, /srv/exact)'))
  })
})

describe('CDI and other devices count as devices in every spelling', () => {
  const cdi = { Driver: 'cdi', DeviceIDs: ['vendor.com/gpu=0'] }
  it.each([
    ['DeviceRequests', { DeviceRequests: [cdi] }],
    ['deviceRequests', { deviceRequests: [cdi] }],
    ['DEVICEREQUESTS', { DEVICEREQUESTS: [{ Driver: 'CDI', DeviceIDs: ['vendor.com/gpu=all'] }] }],
    ['DeviceRequeſtſ (U+017F)', '{"DeviceRequeſtſ":[{"Driver":"cdi","DeviceIDs":["vendor.com/gpu=0"]}]}'],
    ['\\u-escaped key', '{"Device\\u0052equests":[{"Driver":"cdi","DeviceIDs":["vendor.com/gpu=0"]}]}'],
    ['a CDI name in Devices', { Devices: [{ PathOnHost: 'vendor.com/class=name', PathInContainer: '', CgroupPermissions: 'rwm' }] }]
  ])('%s, on create and on update', (_name, host) => {
    const body = typeof host === 'string' ? `{"Image":"x","HostConfig":${host}}` : { Image: 'x', HostConfig: host }
    expect(judge('ci', body)).toMatch(/^deny DG_BODY_DENIED dockgate: ci may not give a container host devices \(HostConfig\.Dev/i)
    expect(judge('ci', typeof host === 'string' ? host : host, '/v1.47/containers/abc/update')).toMatch(/^deny DG_BODY_DENIED dockgate: ci may not give a container host devices/)
    expect(judge('joiner', body)).toBe('allow')
  })
})

describe('HostConfig.Sysctls', () => {
  const sysctls = (values: Record<string, string>, host: Record<string, unknown> = {}): Record<string, unknown> =>
    ({ Image: 'x', HostConfig: { NetworkMode: 'none', ...host, Sysctls: values } })

  it('passes namespaced sysctls in namespaces the container has of its own', () => {
    expect(judge('ci', sysctls({ 'net.ipv4.ip_unprivileged_port_start': '0', 'kernel.shmmax': '1', 'fs.mqueue.msg_max': '9', 'kernel.domainname': 'x' }))).toBe('allow')
    expect(judge('ci', sysctls({ 'net/ipv4/ping_group_range': '0 1' }, { IpcMode: 'shareable' }))).toBe('allow')
  })

  it('refuses a sysctl in a namespace the container joins: it changes that container', () => {
    expect(judge('joiner', sysctls({ 'net.ipv4.ip_unprivileged_port_start': '7' }, { NetworkMode: 'container:other' }))).toBe(
      opaque('joiner', 'set sysctl net.ipv4.ip_unprivileged_port_start (HostConfig.Sysctls) in a network namespace the container shares (NetworkMode=container:other): it would change that namespace, not only the container\'s'))
    expect(judge('joiner', sysctls({ 'kernel.shmmni': '1' }, { IpcMode: 'container:other' }))).toMatch(/in an IPC namespace the container shares \(IpcMode=container:other\)/)
    expect(judge('joiner', sysctls({ 'kernel.domainname': 'x' }, { UTSMode: 'host' }))).toMatch(/in a UTS namespace the container shares \(UTSMode=host\)/)
    expect(judge('joiner', { Image: 'x', NetworkMode: 'host', Sysctls: { 'net.core.somaxconn': '1' } })).toMatch(/\(NetworkMode=host\)/)
  })

  it('refuses sysctls outside the namespaces, as runc names them', () => {
    expect(judge('ci', sysctls({ 'kernel/panic': '1' }))).toBe(
      opaque('ci', "set sysctl kernel.panic (HostConfig.Sysctls), which is not in a namespace of the container's own: it would change the host's kernel"))
    for (const name of ['vm.overcommit_memory', 'user.max_user_namespaces', 'kernel.hostname', 'NET.ipv4.ip_forward', 'fs.file-max']) {
      expect(judge('ci', { Image: 'x', sysctls: { [name]: '1' } })).toMatch(/^deny DG_BODY_DENIED dockgate: ci may not set sysctl .* \(Sysctls\), which is not in a namespace/)
    }
  })
})

describe("a service's ContainerSpec.Sysctls (API 1.40)", () => {
  const service = (sysctls: Record<string, string>): Record<string, unknown> => ({ TaskTemplate: { ContainerSpec: { Image: 'x', Sysctls: sysctls } } })
  it("passes the task's own namespaces and refuses the host kernel's", () => {
    expect(judge('ci', service({ 'net.ipv4.tcp_syncookies': '1', 'kernel.shm_rmid_forced': '1' }), '/v1.41/services/create')).toBe('allow')
    expect(judge('ci', service({ 'vm.max_map_count': '1' }), '/v1.41/services/abc/update')).toBe(
      opaque('ci', "set sysctl vm.max_map_count (TaskTemplate.ContainerSpec.Sysctls), which is not in a namespace of the container's own: it would change the host's kernel"))
  })
})

describe('per-endpoint sysctls (API 1.46)', () => {
  const endpoint = (option: string, host: Record<string, unknown> = {}): Record<string, unknown> => ({
    Image: 'x', HostConfig: host, NetworkingConfig: { EndpointsConfig: { appnet: { DriverOpts: { 'com.docker.network.endpoint.sysctls': option } } } }
  })

  it('passes net.X.Y.IFNAME.Z sysctls of the container\'s own interface', () => {
    expect(judge('ci', endpoint('net.ipv4.conf.IFNAME.log_martians=1,net.ipv6.conf.ifname.disable_ipv6=0'))).toBe('allow')
  })

  it('refuses any other name, and any when the network namespace is shared', () => {
    for (const option of ['net.ipv4.conf.eth0.forwarding=1', 'kernel.core_pattern=|/x', 'net.ipv4.conf/all.IFNAME.forwarding=1', 'net.ipv4.conf.IFNAME.x=1,']) {
      expect(judge('ci', endpoint(option))).toMatch(/^deny DG_BODY_DENIED dockgate: ci may not set interface sysctl .* \(NetworkingConfig\.EndpointsConfig\.appnet\.DriverOpts\): only /)
    }
    expect(judge('joiner', endpoint('net.ipv4.conf.IFNAME.log_martians=1', { NetworkMode: 'container:other' }))).toMatch(/^deny DG_BODY_DENIED dockgate: joiner may not set interface sysctls .* with NetworkMode=container:other/)
  })

  it('leaves the other endpoint settings of newer APIs alone (GwPriority, MacAddress, other DriverOpts)', () => {
    const body = { Image: 'x', NetworkingConfig: { EndpointsConfig: { a: { GwPriority: 10, MacAddress: '02:42:ac:11:00:02', DriverOpts: { 'com.docker.network.endpoint.ifname': 'eth7' } } } } }
    expect(judge('ci', body)).toBe('allow')
  })
})

describe('Annotations (API 1.43) and Runtime', () => {
  it('refuses annotations, which the runtime and its hooks act on', () => {
    expect(judge('ci', { Image: 'x', HostConfig: { Annotations: { 'run.oci.hooks.stdout': '/etc/x' } } })).toBe(
      opaque('ci', 'set annotations (HostConfig.Annotations): the OCI runtime and its hooks act on them, which dockgate cannot judge'))
    expect(judge('ci', { Image: 'x', annotations: { 'cdi.k8s.io/gpu': 'nvidia.com/gpu=all' } })).toMatch(/may not set annotations \(Annotations\)/)
    expect(judge('ci', { Image: 'x', HostConfig: { Annotations: {} } })).toBe('allow')
  })

  it('passes the default runtimes and refuses any other', () => {
    for (const runtime of ['', 'runc', 'io.containerd.runc.v2']) expect(judge('ci', { Image: 'x', HostConfig: { Runtime: runtime } })).toBe('allow')
    expect(judge('ci', { Image: 'x', HostConfig: { Runtime: 'nvidia' } })).toBe(
      opaque('ci', 'use runtime "nvidia" (HostConfig.Runtime): what another runtime gives a container cannot be judged'))
  })
})

describe('bind options of newer APIs change nothing about which host path is bound', () => {
  const bind = (source: string): Record<string, unknown> =>
    mount({ Type: 'bind', Source: source, BindOptions: { CreateMountpoint: true, ReadOnlyNonRecursive: true, ReadOnlyForceRecursive: false, NonRecursive: true, Propagation: 'rslave' } })
  it('judges the source as for any bind', () => {
    expect(judge('ci', bind('/srv/ci/new/dir'))).toBe('allow')
    expect(judge('ci', bind('/etc/cron.d'))).toMatch(/^deny DG_BODY_DENIED dockgate: ci may not bind-mount \/etc\/cron\.d /)
  })
})

describe('a Content-Type Go may read as a form is refused where the query is judged', () => {
  const formLike = ['\u00c2\u0085application/x-www-form-urlencoded', 'appl\u00c4\u00b0cation/x-www-form-urlencoded', '\u00c2\u00a0multipart/form-data; boundary=x']
  it.each([
    ['POST /images/create', '/images/create?fromImage=alpine&tag=3.19'],
    ['POST /images/{name}/tag', '/images/alpine:3.19/tag?repo=team/x&tag=1'],
    ['POST /commit', '/commit?container=abc&repo=team/x'],
    ['POST /build', '/build?t=team/x:1']
  ])('%s', (_name, target) => {
    for (const type of formLike) {
      expect(show(judgeAll(policy, member('img'), 'POST', target, 'x=y', { contentTypes: [type] }))).toMatch(/^deny DG_BODY_MEDIA_TYPE dockgate: .*not printable ASCII: Go may read it as a form/)
    }
  })
})
