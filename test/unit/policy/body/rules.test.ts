/**
 * Every body rule, on every endpoint that can reach the host, for a team
 * with the safe defaults (ci), a team with some settings lifted (tuned), and
 * an unrestricted team (platform). One named test per way into the host.
 */
import { describe, expect, it } from 'vitest'
import { judgeAll, member, policyFrom, show } from '../../../support/judge.js'

const policy = policyFrom(`version: 1
identities:
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: tuned }
    teams: [tuned]
  - match: { ou: platform }
    teams: [platform]
  - match: { ou: both }
    teams: [ci, tuned]
teams:
  ci:
    allow: ["* /**"]
  tuned:
    allow: ["* /**"]
    containers:
      capAdd: [net_admin, CAP_SYS_PTRACE]
      bindMounts: ["/srv/ci/**", "/home/*/cache"]
  platform:
    allow: ["* /**"]
    containers: unrestricted
`)
const ci = member('ci')
const tuned = member('tuned')
const platform = member('platform')

const create = (who: typeof ci, body: unknown): string => show(judgeAll(policy, who, 'POST', '/v1.41/containers/create', body))
const denied = (message: string): string => `deny DG_BODY_DENIED dockgate: ${message}`
const NO_BINDS = '(containers.bindMounts allows no host path)'

describe('privileged', () => {
  it('refuses HostConfig.Privileged, with the reason the CLI prints', () => {
    expect(create(ci, { Image: 'x', HostConfig: { Privileged: true } })).toBe(denied('ci may not create a privileged container'))
  })

  it('refuses Privileged at the top level of a create body (dockerd reads HostConfig fields there too)', () => {
    expect(create(ci, { Image: 'x', Privileged: true })).toBe(denied('ci may not create a privileged container'))
    expect(create(ci, { Image: 'x', HostConfig: { Privileged: false }, Privileged: true })).toBe(denied('ci may not create a privileged container'))
  })

  it('refuses case and fold variants of the key and of HostConfig', () => {
    expect(create(ci, { Image: 'x', hostconfig: { privileged: true } })).toBe(denied('ci may not create a privileged container'))
    expect(create(ci, '{"Image":"x","HOSTCONFIG":{"PRIVILEGED":true}}')).toBe(denied('ci may not create a privileged container'))
    expect(create(ci, '{"Image":"x","HoſtConfig":{"\\u0050rivileged":true}}')).toBe(denied('ci may not create a privileged container'))
  })

  it('refuses a privileged exec', () => {
    expect(show(judgeAll(policy, ci, 'POST', '/v1.41/containers/abc/exec', { Cmd: ['sh'], privileged: true }))).toBe(denied('ci may not run a privileged exec'))
    expect(show(judgeAll(policy, ci, 'POST', '/v1.41/containers/abc/exec', { Cmd: ['sh'] }))).toBe('allow')
  })

  it('refuses the old-API start-body escalation (dockerd 20.10 stores a HostConfig sent to /v1.23/containers/ID/start)', () => {
    const start = (body: unknown): string => show(judgeAll(policy, ci, 'POST', '/v1.23/containers/abc/start', body))
    expect(start({ Privileged: true, Binds: ['/:/host'] })).toBe(denied('ci may not start a container as privileged (a HostConfig in the start body)'))
    expect(start({ Binds: ['/:/host'] })).toBe(denied(`ci may not bind-mount / (Binds[0]) ${NO_BINDS}`))
    // dockerd decodes the start body like a create body, so a nested HostConfig counts too.
    expect(start({ HostConfig: { Privileged: true } })).toBe(denied('ci may not start a container as privileged (a HostConfig in the start body)'))
    expect(start({ hostconfig: { Binds: ['/:/host'] } })).toBe(denied(`ci may not bind-mount / (HostConfig.Binds[0]) ${NO_BINDS}`))
    expect(show(judgeAll(policy, ci, 'POST', '/v1.41/containers/abc/start'))).toBe('allow')
    expect(start({})).toBe('allow')
  })

  it('allows an ordinary create, and anything for an unrestricted team', () => {
    expect(create(ci, { Image: 'x', Cmd: ['true'], HostConfig: { NetworkMode: 'none', Binds: ['data:/data', '/anon'] } })).toBe('allow')
    expect(create(platform, { Image: 'x', HostConfig: { Privileged: true, Binds: ['/:/host'], NetworkMode: 'host', CapAdd: ['ALL'] } })).toBe('allow')
  })
})

describe('hostNamespaces', () => {
  it.each(['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode'])('refuses %s=host, in HostConfig and at the top level', (field) => {
    expect(create(ci, { Image: 'x', HostConfig: { [field]: 'host' } })).toBe(denied(`ci may not use a host namespace (HostConfig.${field}=host)`))
    expect(create(ci, { Image: 'x', [field]: 'HOST' })).toBe(denied(`ci may not use a host namespace (${field}=HOST)`))
  })

  it('refuses joining another container\'s namespaces (it may share the host\'s)', () => {
    expect(create(ci, { Image: 'x', HostConfig: { PidMode: 'container:abc' } })).toMatch(/ci may not join another container's namespace \(HostConfig.PidMode=container:abc\)/)
  })

  it('refuses a network endpoint named host, and a chosen cgroup parent', () => {
    expect(create(ci, { Image: 'x', NetworkingConfig: { EndpointsConfig: { host: {} } } })).toBe(denied('ci may not use a host namespace (NetworkingConfig.EndpointsConfig=host)'))
    expect(create(ci, { Image: 'x', HostConfig: { CgroupParent: '/' } })).toMatch(/ci may not place a container in a host cgroup/)
  })

  it('allows private networks', () => {
    for (const mode of ['none', 'bridge', 'default', 'my-net']) expect(create(ci, { Image: 'x', HostConfig: { NetworkMode: mode } })).toBe('allow')
  })

  it('judges /build on its query, however it is encoded, and refuses a form-encoded context', () => {
    const build = (query: string, contentTypes = ['application/x-tar']): string => show(judgeAll(policy, ci, 'POST', `/v1.41/build?${query}`, undefined, { contentTypes }))
    expect(build('t=x&networkmode=host')).toBe(denied('ci may not use a host namespace (networkmode=host)'))
    expect(build('networkmode=ho%73t')).toBe(denied('ci may not use a host namespace (networkmode=host)'))
    expect(build('NetworkMode=host')).toBe(denied('ci may not use a host namespace (networkmode=host)'))
    expect(build('networkmode=default&networkmode=host')).toBe(denied('ci may not use a host namespace (networkmode=host)'))
    expect(build('cgroupparent=%2F')).toMatch(/ci may not place build steps in a host cgroup/)
    expect(build('t=x&networkmode=default')).toBe('allow')
    expect(build('networkmode=host;x=1')).toMatch(/^deny DG_BODY_INVALID .*semicolon/)
    expect(build('networkmode=%zz')).toMatch(/^deny DG_BODY_INVALID .*%-escape/)
    expect(build('t=x', ['application/x-www-form-urlencoded'])).toMatch(/^deny DG_BODY_MEDIA_TYPE /)
    expect(show(judgeAll(policy, platform, 'POST', '/v1.41/build?networkmode=host', undefined, { contentTypes: [] }))).toBe('allow')
  })
})

describe('capAdd', () => {
  it('refuses an added capability, naming it and what is allowed', () => {
    expect(create(ci, { Image: 'x', HostConfig: { CapAdd: ['SYS_ADMIN'] } })).toBe(denied('ci may not add capability SYS_ADMIN (HostConfig.CapAdd) (containers.capAdd allows none)'))
    expect(create(tuned, { Image: 'x', HostConfig: { CapAdd: ['SYS_ADMIN'] } })).toBe(denied('tuned may not add capability SYS_ADMIN (HostConfig.CapAdd) (allowed: NET_ADMIN, SYS_PTRACE)'))
  })

  it('normalises case, the CAP_ prefix and Go\'s upper-casing of ſ, and reads CapAdd given as one string', () => {
    for (const cap of ['cap_sys_admin', 'Sys_Admin', 'ſyſ_admin']) {
      expect(create(ci, { Image: 'x', HostConfig: { CapAdd: [cap] } }), cap).toMatch(/add capability SYS_ADMIN/)
    }
    expect(create(ci, { Image: 'x', HostConfig: { CapAdd: 'SYS_ADMIN' } })).toMatch(/add capability SYS_ADMIN/)
    for (const cap of ['NET_ADMIN', 'cap_net_admin', 'sys_ptrace']) expect(create(tuned, { Image: 'x', HostConfig: { CapAdd: [cap] } }), cap).toBe('allow')
  })

  it('allows ALL only where listed', () => {
    expect(create(tuned, { Image: 'x', HostConfig: { CapAdd: ['all'] } })).toMatch(/tuned may not add capability ALL/)
  })

  it('lets default capabilities through, and judges the legacy Capabilities list (which replaces the defaults)', () => {
    expect(create(ci, { Image: 'x', HostConfig: { CapAdd: ['CHOWN', 'NET_RAW'] } })).toBe('allow')
    expect(create(ci, { Image: 'x', HostConfig: { Capabilities: ['CAP_CHOWN', 'CAP_SYS_ADMIN'] } })).toBe(denied('ci may not add capability SYS_ADMIN (HostConfig.Capabilities) (containers.capAdd allows none)'))
  })
})

describe('devices', () => {
  it.each([
    ['Devices', [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }]],
    ['DeviceCgroupRules', ['a *:* rwm']],
    ['DeviceRequests', [{ Driver: 'nvidia', Count: -1 }]]
  ])('refuses %s on create and update', (field, value) => {
    expect(create(ci, { Image: 'x', HostConfig: { [field]: value } })).toBe(denied(`ci may not give a container host devices (HostConfig.${field})`))
    expect(show(judgeAll(policy, ci, 'POST', '/v1.41/containers/abc/update', { [field]: value }))).toBe(denied(`ci may not give a container host devices (${field})`))
  })

  it('allows an update of ordinary resources', () => {
    expect(show(judgeAll(policy, ci, 'POST', '/v1.41/containers/abc/update', { Memory: 1 << 20, RestartPolicy: { Name: 'always' } }))).toBe('allow')
  })
})

describe('unconfined', () => {
  it.each(['seccomp=unconfined', 'seccomp:unconfined', 'apparmor=unconfined', 'label=disable', 'label:disable', 'disable',
    'label=type:spc_t', 'systempaths=unconfined', 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}', 'bogus'])('refuses SecurityOpt %s', (option) => {
    expect(create(ci, { Image: 'x', HostConfig: { SecurityOpt: [option] } })).toMatch(/^deny DG_BODY_DENIED dockgate: ci may not run unconfined \(HostConfig.SecurityOpt /)
  })

  it.each(['no-new-privileges', 'no-new-privileges:true', 'label=level:s0:c100', 'label=user:u', 'apparmor=docker-default', 'seccomp=builtin'])('allows SecurityOpt %s', (option) => {
    expect(create(ci, { Image: 'x', HostConfig: { SecurityOpt: [option] } })).toBe('allow')
  })

  it('refuses MaskedPaths or ReadonlyPaths that leave out a default path (how systempaths=unconfined reaches the daemon)', () => {
    expect(create(ci, { Image: 'x', HostConfig: { MaskedPaths: [], ReadonlyPaths: [] } })).toMatch(/ci may not run unconfined \(HostConfig.MaskedPaths leaves out the default masked path \/proc\/asound/)
    expect(create(ci, { Image: 'x', HostConfig: { ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sysrq-trigger'] } }))
      .toMatch(/\(HostConfig.ReadonlyPaths leaves out the default read-only path \/proc\/sys\)/)
    expect(create(ci, { Image: 'x', HostConfig: { MaskedPaths: null, ReadonlyPaths: null } })).toBe('allow')
  })

  it('allows the lists an inspect shows, replayed as updaters send them: every default kept, more added or not', () => {
    const masked = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware']
    const readonly = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']
    expect(create(ci, { Image: 'x', HostConfig: { MaskedPaths: masked, ReadonlyPaths: readonly } })).toBe('allow')
    expect(create(ci, { Image: 'x', HostConfig: { MaskedPaths: [...masked, '/sys/devices/virtual/powercap', '/proc/interrupts'].reverse(), ReadonlyPaths: readonly } })).toBe('allow')
  })
})

describe('bindMounts', () => {
  it('refuses host paths in Binds, naming the path and what is allowed', () => {
    expect(create(ci, { Image: 'x', HostConfig: { Binds: ['/:/host'] } })).toBe(denied(`ci may not bind-mount / (HostConfig.Binds[0]) ${NO_BINDS}`))
    expect(create(tuned, { Image: 'x', HostConfig: { Binds: ['/etc:/x:ro'] } })).toBe(denied('tuned may not bind-mount /etc (HostConfig.Binds[0]) (allowed: /srv/ci/**, /home/*/cache)'))
  })

  it('matches globs against the cleaned path (no escape with ..)', () => {
    const binds = (source: string): string => create(tuned, { Image: 'x', HostConfig: { Binds: [`${source}:/c`] } })
    expect(binds('/srv/ci/cache')).toBe('allow')
    expect(binds('/srv/ci')).toBe('allow')
    expect(binds('//srv//ci/./a/')).toBe('allow')
    expect(binds('/home/bob/cache')).toBe('allow')
    expect(binds('/srv/ci/../../etc')).toMatch(/tuned may not bind-mount \/etc /)
    expect(binds('/srv/cix')).toMatch(/may not bind-mount \/srv\/cix /)
    expect(binds('/home/bob/cache/x')).toMatch(/may not bind-mount \/home\/bob\/cache\/x /)
  })

  it('refuses bind mounts in Mounts, and Binds spelled Bindſ', () => {
    expect(create(ci, { Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Source: '/var/run/docker.sock', Target: '/s' }] } }))
      .toBe(denied(`ci may not bind-mount /var/run/docker.sock (HostConfig.Mounts[0].Source) ${NO_BINDS}`))
    expect(create(ci, '{"Image":"x","HostConfig":{"Bindſ":["/:/host"]}}')).toMatch(/ci may not bind-mount \/ /)
  })

  it('refuses a volume mount whose local driver options bind a host path, or mount anything but tmpfs', () => {
    const volume = (options: Record<string, string>, name = ''): string => create(ci, {
      Image: 'x', HostConfig: { Mounts: [{ Type: 'volume', Target: '/v', VolumeOptions: { DriverConfig: { Name: name, Options: options } } }] }
    })
    expect(volume({ type: 'none', o: 'bind', device: '/etc' })).toBe(denied(`ci may not bind-mount /etc (HostConfig.Mounts[0].VolumeOptions.DriverConfig device) ${NO_BINDS}`))
    expect(volume({ type: 'tmpfs', o: 'rbind,ro', device: '/' })).toMatch(/may not bind-mount \/ /)
    expect(volume({ type: 'overlay', device: 'overlay', o: 'lowerdir=/etc' })).toMatch(/ci may not create a local volume that mounts "overlay" .*only containers: unrestricted/)
    expect(volume({ mountpoint: '/' }, 'local-persist')).toMatch(/ci may not use volume driver "local-persist"/)
    expect(volume({}, 'local-persist')).toMatch(/ci may not use volume driver "local-persist"/)
    expect(create(ci, { Image: 'x', HostConfig: { VolumeDriver: 'local-persist', Binds: ['data:/d'] } })).toMatch(/ci may not use volume driver "local-persist" \(HostConfig.VolumeDriver\)/)
    expect(create(ci, { Image: 'x', HostConfig: { VolumeDriver: 'local', Binds: ['data:/d'] } })).toBe('allow')
    expect(volume({ type: 'tmpfs', device: 'tmpfs', o: 'size=10m' })).toBe('allow')
    expect(create(ci, { Image: 'x', HostConfig: { Mounts: [{ Type: 'tmpfs', Target: '/t' }, { Type: 'volume', Source: 'data', Target: '/d' }] } })).toBe('allow')
    expect(create(ci, { Image: 'x', HostConfig: { Mounts: [{ Type: 'cluster', Source: 'x', Target: '/d' }] } })).toMatch(/ci may not use a mount of type "cluster"/)
  })

  it('refuses VolumesFrom (it borrows another container\'s mounts)', () => {
    expect(create(tuned, { Image: 'x', HostConfig: { VolumesFrom: ['admin-box'] } })).toMatch(/tuned may not use VolumesFrom \(HostConfig.VolumesFrom\)/)
  })

  it('judges POST /volumes/create driver options the same way', () => {
    const volume = (who: typeof ci, body: unknown): string => show(judgeAll(policy, who, 'POST', '/v1.41/volumes/create', body))
    expect(volume(ci, { Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: '/' } })).toBe(denied(`ci may not bind-mount / (DriverOpts device) ${NO_BINDS}`))
    expect(volume(tuned, { Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: '/srv/ci/v' } })).toBe('allow')
    expect(volume(ci, { Name: 'v', DriverOpts: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/export' } })).toMatch(/only tmpfs and bind volumes can be judged/)
    expect(volume(ci, { Name: 'v' })).toBe('allow')
    expect(volume(ci, { Name: 'v', Driver: 'local' })).toBe('allow')
    expect(volume(ci, { Name: 'v', Driver: 'rexray/ebs' })).toMatch(/ci may not use volume driver "rexray\/ebs"/)
  })

  // A relative source is resolved against dockerd's working directory, so
  // "xsrv/ci/../../../etc" is no path under /srv/ci, whatever a glob says.
  it('refuses relative bind sources in volume options, mounts and plugin privileges to a restricted team', () => {
    const volume = (body: unknown): string => show(judgeAll(policy, tuned, 'POST', '/v1.41/volumes/create', body))
    expect(volume({ Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: 'xsrv/ci/../../../etc' } }))
      .toBe('deny DG_BODY_DENIED dockgate: tuned may not bind-mount the relative host path "xsrv/ci/../../../etc" (DriverOpts device), which the daemon would resolve against its own working directory (only containers: unrestricted allows it)')
    expect(create(tuned, { Image: 'x', HostConfig: { Mounts: [{ Type: 'bind', Source: 'srv/ci/x', Target: '/x' }] } })).toMatch(/tuned may not bind-mount the relative host path "srv\/ci\/x"/)
    expect(show(judgeAll(policy, tuned, 'POST', '/v1.41/plugins/pull?remote=p', [{ Name: 'mount', Value: ['srv/ci'] }]))).toMatch(/relative host path/)
    expect(show(judgeAll(policy, platform, 'POST', '/v1.41/volumes/create', { Name: 'v', DriverOpts: { type: 'none', o: 'bind', device: 'rel' } }))).toBe('allow')
  })
})

// The daemon runs log drivers in the host's network namespace: a
// `--network none` container logging to syslog-address=tcp://127.0.0.1:PORT
// reaches the host's loopback services.
describe('log drivers', () => {
  it('refuses log drivers that send from the host, for containers and services, and lets local ones through', () => {
    const logTo = (LogConfig: unknown): string => create(tuned, { Image: 'x', HostConfig: { LogConfig } })
    expect(logTo({ Type: 'syslog', Config: { 'syslog-address': 'tcp://127.0.0.1:514' } }))
      .toBe(denied('tuned may not use log driver "syslog" (HostConfig.LogConfig.Type), which the daemon runs with the host\'s network and sockets (only containers: unrestricted allows it)'))
    expect(logTo({ Type: 'gelf' })).toMatch(/may not use log driver "gelf"/)
    expect(create(tuned, { Image: 'x', logconfig: { type: 'fluentd' } })).toMatch(/may not use log driver "fluentd" \(LogConfig.Type\)/)
    for (const Type of ['', 'json-file', 'local', 'journald', 'none']) expect(logTo({ Type, Config: { 'max-size': '1m' } })).toBe('allow')
    expect(show(judgeAll(policy, tuned, 'POST', '/v1.41/services/create', { TaskTemplate: { ContainerSpec: { Image: 'x' }, LogDriver: { Name: 'splunk' } } })))
      .toMatch(/may not use log driver "splunk" \(TaskTemplate.LogDriver.Name\)/)
    expect(create(platform, { Image: 'x', HostConfig: { LogConfig: { Type: 'syslog' } } })).toBe('allow')
  })
})

describe('services and plugins', () => {
  const service = (spec: unknown, path = '/v1.41/services/create'): string => show(judgeAll(policy, ci, 'POST', path, spec))
  it('judges a service task\'s mounts, capabilities, privileges, host network and plugin tasks', () => {
    expect(service({ TaskTemplate: { ContainerSpec: { Image: 'x', Mounts: [{ Type: 'bind', Source: '/', Target: '/h' }] } } })).toMatch(/ci may not bind-mount \/ \(TaskTemplate.ContainerSpec.Mounts\[0\].Source\)/)
    expect(service({ TaskTemplate: { ContainerSpec: { Image: 'x', CapabilityAdd: ['SYS_ADMIN'] } } }, '/v1.41/services/abc/update')).toMatch(/ci may not add capability SYS_ADMIN/)
    expect(service({ TaskTemplate: { ContainerSpec: { Image: 'x', Privileges: { Seccomp: { Mode: 'unconfined' } } } } })).toMatch(/ci may not run unconfined/)
    expect(service({ TaskTemplate: { ContainerSpec: { Image: 'x', Privileges: { SELinuxContext: { Disable: true } } } } })).toMatch(/ci may not run unconfined/)
    expect(service({ TaskTemplate: { ContainerSpec: { Image: 'x' }, Networks: [{ Target: 'host' }] } })).toMatch(/ci may not use a host namespace \(TaskTemplate.Networks\[0\].Target=host\)/)
    expect(service({ TaskTemplate: { PluginSpec: { Name: 'p', Remote: 'evil/p' } } })).toMatch(/ci may not run a plugin as a service/)
    expect(service({ Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'nginx', Mounts: [{ Type: 'volume', Source: 'd', Target: '/d' }] } } })).toBe('allow')
  })

  it('judges the privileges a plugin pull or upgrade accepts', () => {
    const pull = (privileges: unknown, path = '/v1.41/plugins/pull?remote=evil/p'): string => show(judgeAll(policy, ci, 'POST', path, privileges))
    expect(pull([{ Name: 'mount', Value: ['/'] }])).toMatch(/ci may not bind-mount \/ \(privileges\[0\] mount\)/)
    expect(pull([{ Name: 'network', Value: ['host'] }], '/v1.41/plugins/vieux/sshfs:latest/upgrade')).toMatch(/ci may not use a host namespace/)
    expect(pull([{ Name: 'allow-all-devices', Value: ['true'] }])).toMatch(/ci may not give a container host devices/)
    expect(pull([{ Name: 'device', Value: ['/dev/fuse'] }])).toMatch(/host devices/)
    expect(pull([{ Name: 'capabilities', Value: ['CAP_SYS_ADMIN'] }])).toMatch(/ci may not add capability SYS_ADMIN/)
    expect(pull([{ Name: 'host pid namespace', Value: ['true'] }])).toMatch(/host pid namespace/)
    expect(pull([{ Name: 'something new', Value: ['x'] }])).toMatch(/which dockgate does not know/)
    expect(pull([])).toBe('allow')
    expect(pull([{ Name: 'network', Value: ['bridge'] }])).toBe('allow')
  })

  it('refuses what cannot be judged at all to every team but an unrestricted one', () => {
    const cases: Array<[string, string]> = [
      ['/v1.41/grpc', "ci may not use BuildKit's /grpc endpoint"],
      ['/v1.41/plugins/create?name=p', 'ci may not create a plugin from a local archive'],
      ['/v1.41/plugins/vieux/sshfs/set', "ci may not change a plugin's settings"]
    ]
    for (const [path, message] of cases) {
      expect(show(judgeAll(policy, ci, 'POST', path)), path).toMatch(new RegExp(`^deny DG_BODY_DENIED dockgate: ${message}.*\\(only containers: unrestricted allows it\\)$`))
      expect(show(judgeAll(policy, platform, 'POST', path)), path).toBe('allow')
    }
  })
})

describe('several teams', () => {
  it('allows when any team that allows the path also allows the body, and names the first team when none does', () => {
    const both = member('both')
    expect(create(both, { Image: 'x', HostConfig: { Binds: ['/srv/ci/x:/x'] } })).toBe('allow')
    expect(create(both, { Image: 'x', HostConfig: { Binds: ['/etc:/x'] } })).toBe(denied(`ci may not bind-mount /etc (HostConfig.Binds[0]) ${NO_BINDS}`))
  })

  it('records the containers setting that refused, with where it is written', () => {
    const verdict = judgeAll(policy, tuned, 'POST', '/containers/create', { HostConfig: { Binds: ['/etc:/x'] } })
    expect(verdict.rule).toMatchObject({ file: 'p.yaml', line: 18, text: 'containers.bindMounts: [/srv/ci/**, /home/*/cache]', team: 'tuned' })
    expect(judgeAll(policy, ci, 'POST', '/containers/create', { HostConfig: { Privileged: true } }).rule)
      .toMatchObject({ line: 12, text: 'containers.privileged: false (default)', team: 'ci' })
  })
})
