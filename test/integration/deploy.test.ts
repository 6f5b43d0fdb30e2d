/**
 * The files in deploy/ cannot rot: each shipped config goes through
 * `dockgate serve --check` (the built CLI, with certificates from
 * `dockgate certs init` and the shipped policy, paths moved into a temp
 * folder), and the systemd units, the Dockerfile and the compose file are
 * checked against those configs and against each other: the paths, ports,
 * user and signals they share must agree. (The image itself cannot be
 * built here: no registry to pull the Node base image from.)
 */
import { execFile, spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, inject, it } from 'vitest'
import { parse } from 'yaml'
import { CLI } from '../support/live.js'

const run = promisify(execFile)
const socket = inject('dockerSocket')
const ROOT = resolve(import.meta.dirname, '..', '..')
const deploy = (path: string): string => readFileSync(join(ROOT, 'deploy', path), 'utf8')

/**
 * Runs `serve --check` on `configText` with /etc/dockgate, /var/log/dockgate
 * and /run/dockgate (created, as systemd's RuntimeDirectory would) moved
 * under a temp folder, and `policy` (a path under the checkout) as its policy.
 */
async function check (configText: string, configName: string, policy = 'policies/platform.yaml'): Promise<{ code: number; output: string; etc: string; run: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'dg-deploy-'))
  const etc = join(dir, 'etc')
  const runtime = join(dir, 'run')
  mkdirSync(etc)
  mkdirSync(runtime)
  await run(process.execPath, [CLI, 'certs', 'init', '--dir', join(etc, 'certs'), '--host', 'docker1.example.com'])
  copyFileSync(join(ROOT, policy), join(etc, 'policy.yaml'))
  const config = join(etc, configName)
  writeFileSync(config, configText.replaceAll('/etc/dockgate', etc).replaceAll('/var/log/dockgate', join(dir, 'log')).replaceAll('/run/dockgate', runtime))
  const args = [CLI, 'serve', '--config', config, '--check', ...(socket === '' ? [] : ['--upstream', `unix://${socket}`])]
  const result = spawnSync(process.execPath, args, { encoding: 'utf8' })
  return { code: result.status ?? -1, output: result.stdout + result.stderr, etc, run: runtime }
}

function unitKeys (text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
    if (match?.[1] !== undefined) keys.set(match[1], [...(keys.get(match[1]) ?? []), match[2] ?? ''])
  }
  return keys
}

describe('deploy/dockgate.yaml (the production config the systemd unit runs)', () => {
  const text = deploy('dockgate.yaml')
  const config = parse(text) as { listen: string; audit: { file: string }; admin: string; shutdown: { graceSeconds: number } }

  it('passes serve --check with the shipped policy', async () => {
    const result = await check(text, 'dockgate.yaml')
    expect(result.output).toContain('dockgate: config OK (0 warning(s))')
    expect(result.output).toContain('  admin     127.0.0.1:9376')
    expect(result.output).toContain('  limits    maxConnections 4096, connectionsPerIdentity 768, streamsPerIdentity 512, requestsPerSecond unlimited, headerBytes 32768, headersTimeoutSeconds 20, bodyBytes 1048576, unverifiedConnections 1024, unverifiedPerAddress 64')
    expect(result.code).toBe(0)
  })

  it('is what dockgate.service starts, with the audit folder writable and time to drain', () => {
    const unit = unitKeys(deploy('systemd/dockgate.service'))
    expect(unit.get('ExecStart')?.[0]).toMatch(/ serve --config \/etc\/dockgate\/dockgate\.yaml$/)
    expect(unit.get('ReadWritePaths')).toEqual([dirname(config.audit.file)])
    expect(unit.get('LogsDirectory')).toEqual([dirname(config.audit.file).replace('/var/log/', '')])
    expect(Number(unit.get('TimeoutStopSec')?.[0])).toBeGreaterThan(config.shutdown.graceSeconds + 5)
    expect(config.admin).toMatch(/^127\.0\.0\.1:/)
  })

  it('dockgate.socket listens on the port of listen:', () => {
    const socketUnit = unitKeys(deploy('systemd/dockgate.socket'))
    expect(socketUnit.get('ListenStream')).toEqual([config.listen.split(':').at(-1)])
    expect(socketUnit.get('Service')).toEqual(['dockgate.service'])
  })
})

describe('deploy/systemd/dockgate.service', () => {
  const unit = unitKeys(deploy('systemd/dockgate.service'))

  it('runs as a dedicated user in the docker group, hardened, restarted on failure, reloaded with SIGHUP', () => {
    expect(unit.get('User')).toEqual(['dockgate'])
    expect(unit.get('SupplementaryGroups')).toEqual(['docker'])
    for (const [key, value] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''], ['Restart', 'on-failure'], ['KillMode', 'mixed'], ['ExecReload', '/bin/kill -HUP $MAINPID']]) {
      expect(unit.get(key ?? ''), key).toEqual([value])
    }
    // V8 compiles code at run time; this would kill node at startup.
    expect(unit.has('MemoryDenyWriteExecute')).toBe(false)
    expect(unit.get('ExecStart')?.[0]?.split(' ')[0]).toBe('/usr/bin/node')
  })

  it('gives the service /run/dockgate, so the admin: unix:///run/dockgate/admin.sock of docs/operations.md works under ProtectSystem=strict', () => {
    expect(unit.get('RuntimeDirectory')).toEqual(['dockgate'])
    expect(unit.get('RuntimeDirectoryMode')).toEqual(['0750'])
    expect(readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8')).toContain('unix:///run/dockgate/admin.sock')
  })

  it('docs/operations.md enables socket activation only after stopping the service, which would hold the port', () => {
    const operations = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8')
    const stop = operations.indexOf('sudo systemctl disable --now dockgate.service\n')
    const enable = operations.indexOf('sudo systemctl daemon-reload && sudo systemctl enable --now dockgate.socket')
    expect(stop).toBeGreaterThan(0)
    expect(enable).toBeGreaterThan(stop)
  })

  it('passes systemd-analyze verify, where systemd is installed', () => {
    const analyze = spawnSync('systemd-analyze', ['verify', join(ROOT, 'deploy/systemd/dockgate.service'), join(ROOT, 'deploy/systemd/dockgate.socket')], { encoding: 'utf8' })
    if (analyze.error !== undefined) {
      expect((analyze.error as NodeJS.ErrnoException).code).toBe('ENOENT')
      return
    }
    expect(analyze.stderr).toBe('')
    expect(analyze.status).toBe(0)
  })
})

describe('deploy/docker (Dockerfile, compose.yaml, dockgate.yaml)', () => {
  const dockerfile = deploy('docker/Dockerfile')
  const compose = parse(deploy('docker/compose.yaml')) as {
    services: Record<string, { build?: { context: string; dockerfile: string }; read_only?: boolean; cap_drop?: string[]; security_opt?: string[]; group_add?: string[]; ports?: string[]; volumes?: string[]; stop_grace_period?: string; user?: string }>
    volumes: Record<string, unknown>
  }
  const service = compose.services.dockgate ?? {}
  const text = deploy('docker/dockgate.yaml')
  const config = parse(text) as { listen: string; audit: { file: string }; admin: { listen: string }; shutdown: { graceSeconds: number } }

  it('the container config passes serve --check', async () => {
    const result = await check(text, 'dockgate.yaml')
    expect(result.output).toContain('dockgate: config OK (0 warning(s))')
    expect(result.output).toContain('  admin     0.0.0.0:9376')
    expect(result.code).toBe(0)
  })

  it('Dockerfile: multi-stage, non-root, health checked through the admin port, started with the container config', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2)
    expect(dockerfile).toMatch(/^COPY --from=build /m)
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile)
    expect(Number(user?.[1])).toBeGreaterThan(0)
    expect(dockerfile).toMatch(new RegExp(`HEALTHCHECK [^]*http://127\\.0\\.0\\.1:${config.admin.listen.split(':')[1] ?? ''}/readyz`))
    expect(dockerfile).toContain('CMD ["serve", "--config", "/etc/dockgate/dockgate.yaml"]')
    expect(dockerfile).toContain('COPY deploy/docker/dockgate.yaml /etc/dockgate/dockgate.yaml')
    expect(dockerfile).toContain(`install -d -o dockgate -g dockgate -m 0750 ${dirname(config.audit.file)}`)
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) {
      expect(existsSync(join(ROOT, source ?? '')), `COPY ${source ?? ''}`).toBe(true)
    }
  })

  it('compose: read-only, no capabilities, the daemon socket mounted, 2376 published, audit on a volume, time to drain', () => {
    expect(service.build).toEqual({ context: '../..', dockerfile: 'deploy/docker/Dockerfile' })
    expect(existsSync(join(ROOT, 'deploy', 'docker', service.build?.context ?? '', service.build?.dockerfile ?? ''))).toBe(true)
    expect(service.read_only).toBe(true)
    expect(service.cap_drop).toEqual(['ALL'])
    expect(service.security_opt).toContain('no-new-privileges:true')
    expect(service.group_add?.[0]).toMatch(/^\$\{DOCKER_GID:\?/)
    expect(service.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock:ro')
    expect(service.volumes).toContain('./etc:/etc/dockgate:ro')
    expect(service.volumes).toContain(`audit:${dirname(config.audit.file)}`)
    expect(Object.keys(compose.volumes)).toContain('audit')
    expect(service.ports).toContain(`${config.listen.split(':')[1] ?? ''}:${config.listen.split(':')[1] ?? ''}`)
    expect(service.ports).toContain(`127.0.0.1:${config.admin.listen.split(':')[1] ?? ''}:${config.admin.listen.split(':')[1] ?? ''}`)
    expect(Number.parseInt(service.stop_grace_period ?? '0', 10)).toBeGreaterThan(config.shutdown.graceSeconds + 5)
    expect(compose.services.certs?.user).toBe(/^USER (\S+)$/m.exec(dockerfile)?.[1])
  })
})

describe('deploy/local-sockets (dockgate.yaml, policy.yaml, compose.yaml, dockgate-local.service)', () => {
  interface Socket { path: string; identity: string; mode: string; group: string }
  const text = deploy('local-sockets/dockgate.yaml')
  const config = parse(text) as { sockets: Socket[]; audit: { file: string }; shutdown: { graceSeconds: number } }
  const socketOf = (identity: string): Socket | undefined => config.sockets.find((s) => s.identity === identity)
  // The socket groups do not exist here; --check resolves a group number as it is.
  const gid = process.getgid?.() ?? 0
  const withGids = text.replace(/group: dockgate-[a-z]+/g, `group: ${gid}`)

  it('passes serve --check with its policy: three group-owned sockets under /run/dockgate, each identity known to the policy, no TLS', async () => {
    expect(config.sockets.map((s) => [s.identity, s.mode, s.path])).toEqual([
      ['traefik', '0660', '/run/dockgate/traefik.sock'], ['watchtower', '0660', '/run/dockgate/watchtower.sock'], ['ci', '0660', '/run/dockgate/ci.sock']])
    const result = await check(withGids, 'dockgate.yaml', 'deploy/local-sockets/policy.yaml')
    expect(result.output).toContain('dockgate: config OK (0 warning(s))')
    expect(result.output).toContain('  listen    none (no tls: section; only the socket listeners serve)')
    for (const s of config.sockets) expect(result.output).toContain(`  socket    ${result.run}/${s.identity}.sock as ${s.identity}, mode 0660, group ${gid}\n`)
    expect(result.code).toBe(0)
  })

  it('passes serve --check with the optional TLS listener uncommented, next to the sockets', async () => {
    const tls = withGids.replace(/^# (listen|tls):/gm, '$1:').replace(/^# {3}(ca|cert|key|crl):/gm, '  $1:')
    expect(tls).toMatch(/^tls:$/m)
    const result = await check(tls, 'dockgate.yaml', 'deploy/local-sockets/policy.yaml')
    expect(result.output).toContain('  listen    0.0.0.0:2376')
    expect(result.output).toContain('dockgate: config OK (0 warning(s))')
    expect(result.code).toBe(0)
  })

  it('policy.yaml is the three ready-made policies combined: the same identities and the same teams, nothing else', () => {
    type Policy = { identities: { match: Record<string, string>; teams: string[] }[]; teams: Record<string, unknown> }
    const combined = parse(deploy('local-sockets/policy.yaml')) as Policy
    const parts = ['local-discovery.yaml', 'local-updater.yaml', 'local-ci-runner.yaml'].map((f) => parse(readFileSync(join(ROOT, 'policies', f), 'utf8')) as Policy)
    expect(combined.identities).toEqual(parts.flatMap((p) => p.identities))
    expect(combined.teams).toEqual(Object.assign({}, ...parts.map((p) => p.teams)))
    expect(combined.identities.map((i) => i.match.socket)).toEqual(config.sockets.map((s) => s.identity))
  })

  it("compose.yaml gives Traefik and Watchtower only their own socket, as /var/run/docker.sock, never the daemon's", () => {
    type Mount = string | { type: string; source: string; target: string; bind?: { create_host_path?: boolean } }
    type Service = { image: string; volumes?: Mount[]; group_add?: string[]; cap_drop?: string[]; environment?: Record<string, string>; labels?: Record<string, string> }
    const compose = parse(deploy('local-sockets/compose.yaml')) as { services: Record<string, Service> }
    const mounts = (service: Service | undefined): { source: string; target: string; create?: boolean | undefined }[] => (service?.volumes ?? []).map((v) =>
      typeof v === 'string' ? { source: v.split(':')[0] ?? '', target: v.split(':')[1] ?? '', create: true } : { source: v.source, target: v.target, create: v.bind?.create_host_path })
    for (const [name, identity, image, env] of [['traefik', 'traefik', 'traefik:v3', 'TRAEFIK_SOCKET_GID'], ['watchtower', 'watchtower', 'containrrr/watchtower', 'WATCHTOWER_SOCKET_GID']] as const) {
      const service = compose.services[name]
      const own = socketOf(identity)
      expect(service?.image).toBe(image)
      // Its own socket and nothing else; no empty folder created where the socket belongs when dockgate is down.
      expect(mounts(service)).toEqual([{ source: own?.path, target: '/var/run/docker.sock', create: false }])
      expect(service?.cap_drop).toEqual(['ALL'])
      expect(service?.group_add?.[0]).toMatch(new RegExp(`^\\$\\{${env}:\\?.*group ${own?.group ?? '?'}\\b`))
    }
    for (const service of Object.values(compose.services)) {
      expect(mounts(service).map((m) => m.source)).not.toContain('/var/run/docker.sock')
    }
    // Watchtower updates only what is labelled for it, and neither tool is (both bind a socket: a recreate would be refused after the removal).
    expect(compose.services.watchtower?.environment?.WATCHTOWER_LABEL_ENABLE).toBe('true')
    const labelled = Object.entries(compose.services).filter(([, s]) => s.labels?.['com.centurylinklabs.watchtower.enable'] === 'true').map(([n]) => n)
    expect(labelled).toEqual(['whoami'])
    expect(mounts(compose.services.whoami)).toEqual([])
  })

  it('dockgate-local.service: /run/dockgate for the sockets, in each socket group, before docker.service, hardened like dockgate.service', () => {
    const unit = unitKeys(deploy('local-sockets/dockgate-local.service'))
    const base = unitKeys(deploy('systemd/dockgate.service'))
    expect(unit.get('ExecStart')?.[0]).toMatch(/ serve --config \/etc\/dockgate\/dockgate\.yaml$/)
    expect(unit.get('RuntimeDirectory')).toEqual(['dockgate'])
    for (const s of config.sockets) expect(s.path.startsWith('/run/dockgate/')).toBe(true)
    // Others may pass through /run/dockgate to a socket (a runner's user), not list it; the socket's mode decides.
    expect(unit.get('RuntimeDirectoryMode')).toEqual(['0751'])
    const groups = [...new Set(config.sockets.map((s) => s.group))]
    expect(unit.get('SupplementaryGroups')?.[0]?.split(' ')).toEqual(['docker', ...groups])
    expect(readFileSync(join(ROOT, 'deploy', 'local-sockets', 'README.md'), 'utf8')).toContain(`for g in ${groups.join(' ')}; do sudo groupadd`)
    expect(unit.get('Before')).toEqual(['docker.service'])
    expect(unit.get('Conflicts')).toEqual(['dockgate.service'])
    expect(unit.get('ReadWritePaths')).toEqual([dirname(config.audit.file)])
    expect(Number(unit.get('TimeoutStopSec')?.[0])).toBeGreaterThan(config.shutdown.graceSeconds + 5)
    for (const key of ['User', 'NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'CapabilityBoundingSet', 'SystemCallFilter', 'RestrictAddressFamilies', 'UMask', 'KillMode', 'ExecReload', 'Restart']) {
      expect(unit.get(key), key).toEqual(base.get(key))
    }
    const analyze = spawnSync('systemd-analyze', ['verify', join(ROOT, 'deploy/local-sockets/dockgate-local.service')], { encoding: 'utf8' })
    if (analyze.error === undefined) expect(analyze.stderr + String(analyze.status)).toBe('0')
  })
})
