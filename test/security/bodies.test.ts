/**
 * Security regressions: every body rule of a container create, in every
 * spelling Go's encoding/json reads the same way and in every framing, sent
 * as raw bytes over mTLS to a gateway in front of the real daemon. Each
 * case must be refused with dockgate's message, and the daemon must not have
 * made the container (asked directly on its socket). A last group sends the
 * same spellings to the daemon itself, to show each is a real attack: the
 * daemon reads them as the judge does (and keeps the last of two repeated
 * keys, or merges two HostConfig objects).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { IMAGE, startSecurityGateway, type SecurityGateway } from '../support/security.js'
import { daemonHas, FRAMINGS, frame, messageOf, onDaemon } from '../support/body-wire.js'

const socket = inject('dockerSocket')

/** One body rule: the team it binds, the field that breaks it, and how the refusal reads (`at` is `HostConfig.` or '' at the top level). */
interface Rule {
  readonly setting: string
  readonly team: string
  readonly key: string
  /** The field is Config's (`Image`), not HostConfig's. */
  readonly config?: true
  /** JSON text of the value that breaks the rule, of the same with a `\u` escape (null for a bool or number), and of a harmless value. */
  readonly value: (sec: SecurityGateway) => string
  readonly escaped: ((sec: SecurityGateway) => string) | null
  readonly safe: string
  readonly message: (sec: SecurityGateway, at: string) => string
}

const RULES: readonly Rule[] = [
  { setting: 'privileged', team: 'ci', key: 'Privileged', value: () => 'true', escaped: null, safe: 'false', message: () => 'ci may not create a privileged container' },
  { setting: 'hostNamespaces', team: 'ci', key: 'PidMode', value: () => '"host"', escaped: () => '"ho\\u0073t"', safe: '""', message: (_s, at) => `ci may not use a host namespace (${at}PidMode=host)` },
  {
    setting: 'capAdd', team: 'ci', key: 'CapAdd', value: () => '["SYS_ADMIN"]', escaped: () => '["SYS_\\u0041DMIN"]', safe: '[]',
    message: (_s, at) => `ci may not add capability SYS_ADMIN (${at}CapAdd) (containers.capAdd allows none)`
  },
  {
    setting: 'devices', team: 'ci', key: 'Devices', value: () => '[{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull","CgroupPermissions":"rwm"}]',
    escaped: () => '[{"PathOnHost":"/dev/nu\\u006cl","PathInContainer":"/dev/xnull","CgroupPermissions":"rwm"}]', safe: '[]',
    message: (_s, at) => `ci may not give a container host devices (${at}Devices)`
  },
  {
    setting: 'unconfined', team: 'ci', key: 'SecurityOpt', value: () => '["seccomp=unconfined"]', escaped: () => '["seccomp=unconfin\\u0065d"]', safe: '[]',
    message: (_s, at) => `ci may not run unconfined (${at}SecurityOpt seccomp=unconfined)`
  },
  {
    setting: 'bindMounts', team: 'ci', key: 'Binds', value: () => '["/etc:/x"]', escaped: () => '["/\\u0065tc:/x"]', safe: '[]',
    message: (sec, at) => `ci may not bind-mount /etc (${at}Binds[0]) (allowed: ${sec.allowed}/**)`
  },
  {
    setting: 'images', team: 'img', key: 'Image', config: true, value: (sec) => JSON.stringify(sec.forbidden), escaped: (sec) => JSON.stringify(sec.forbidden).replace('forbidden', 'forbi\\u0064den'),
    safe: JSON.stringify(IMAGE), message: (sec) => `img may not use image docker.io/${sec.forbidden} (allowed: docker.io/dockgate-test/busybox)`
  },
  {
    setting: 'resources.memory', team: 'lim', key: 'Memory', value: () => String(1024 ** 3), escaped: null, safe: String(32 * 1024 ** 2),
    message: () => 'lim may not set memory 1g (resources.memory: at most 64m)'
  }
]

const q = (key: string): string => JSON.stringify(key)
/** Go folds U+017F to S and U+212A to K: the key as an attacker spells it past an ASCII-only comparison. */
const fold = (key: string): string => key.replace(/[sS]/g, 'ſ').replace(/[kK]/g, 'K')
/** The key with its first letter written as a `\u` escape. */
const escape = (key: string): string => `"\\u${key.charCodeAt(0).toString(16).padStart(4, '0')}${key.slice(1)}"`

/** A create body: `host` is the HostConfig key's text, `member` the members beside NetworkMode in it (or at the top level). */
function createBody (rule: Rule, host: string, member: string, top = false): string {
  const image = rule.config === true ? '' : `"Image":${q(IMAGE)},`
  const extra = rule.team === 'lim' && rule.key !== 'Memory' ? `,"Memory":${32 * 1024 ** 2}` : ''
  if (top) return `{${image}"Cmd":["true"],"NetworkMode":"none",${member}${extra}}`
  if (rule.config === true) return `{${member},"Cmd":["true"],${host}:{"NetworkMode":"none"}}`
  return `{${image}"Cmd":["true"],${host}:{${member},"NetworkMode":"none"${extra}}}`
}

/** A spelling: the body it makes of a rule, the rules it applies to (all when absent), and whether the judge refuses it by the rule or as ambiguous. */
interface Spelling {
  readonly name: string
  readonly outcome: 'rule' | 'rule at the top level' | 'ambiguous'
  readonly applies?: (rule: Rule) => boolean
  readonly body: (rule: Rule, sec: SecurityGateway) => string
}

const hostField = (r: Rule): boolean => r.config !== true

const SPELLINGS: readonly Spelling[] = [
  { name: 'as the docker CLI writes it', outcome: 'rule', body: (r, s) => createBody(r, q('HostConfig'), `${q(r.key)}:${r.value(s)}`) },
  { name: 'lower-case keys', outcome: 'rule', body: (r, s) => createBody(r, q('hostconfig'), `${q(r.key.toLowerCase())}:${r.value(s)}`) },
  { name: 'upper-case keys', outcome: 'rule', body: (r, s) => createBody(r, q('HOSTCONFIG'), `${q(r.key.toUpperCase())}:${r.value(s)}`) },
  {
    name: 'keys with the letters Go folds to ASCII (ſ U+017F, K U+212A)',
    outcome: 'rule',
    // Image has no s or k: its key cannot be spelled this way.
    applies: hostField,
    body: (r, s) => createBody(r, q(fold('HostConfig')), `${q(fold(r.key))}:${r.value(s)}`)
  },
  { name: '\\u escapes in keys', outcome: 'rule', body: (r, s) => createBody(r, escape('HostConfig'), `${escape(r.key)}:${r.value(s)}`) },
  { name: '\\u escapes in values', outcome: 'rule', applies: (r) => r.escaped !== null, body: (r, s) => createBody(r, q('HostConfig'), `${q(r.key)}:${r.escaped?.(s) ?? ''}`) },
  { name: 'HostConfig fields at the top level of the body', outcome: 'rule at the top level', applies: hostField, body: (r, s) => createBody(r, '', `${q(r.key)}:${r.value(s)}`, true) },
  { name: 'the key twice, the harmless value first (Go keeps the last)', outcome: 'ambiguous', body: (r, s) => createBody(r, q('HostConfig'), `${q(r.key)}:${r.safe},${q(r.key)}:${r.value(s)}`) },
  { name: 'two keys Go folds to one field', outcome: 'ambiguous', body: (r, s) => createBody(r, q('HostConfig'), `${q(r.key)}:${r.safe},${q(r.key.toLowerCase())}:${r.value(s)}`) },
  {
    name: 'two HostConfig objects (Go merges them)',
    outcome: 'ambiguous',
    applies: hostField,
    body: (r, s) => `{"Image":${q(IMAGE)},"Cmd":["true"],"HostConfig":{"NetworkMode":"none"},"HostConfig":{${q(r.key)}:${r.value(s)}}}`
  }
]

describe.skipIf(socket === '')('body rules of a container create, in every spelling and framing, against the real daemon', () => {
  let sec: SecurityGateway
  beforeAll(async () => { sec = await startSecurityGateway(socket) })
  afterAll(async () => { await sec?.close() })

  let n = 0
  for (const rule of RULES) {
    for (const spelling of SPELLINGS.filter((s) => s.applies?.(rule) ?? true)) {
      for (const framing of FRAMINGS) {
        const id = n++
        it(`${rule.setting}: ${spelling.name}, ${framing}`, async () => {
          const name = sec.name(id)
          const answer = await sec.send(rule.team, frame('POST', `/v1.41/containers/create?name=${name}`, spelling.body(rule, sec), framing))
          if (spelling.outcome === 'ambiguous') {
            expect(answer.status).toBe(400)
            expect(messageOf(answer)).toMatch(/^dockgate: POST \/containers\/create: request body (repeats the key|has both) /)
          } else {
            expect([answer.status, messageOf(answer)]).toEqual([403, `dockgate: ${rule.message(sec, spelling.outcome === 'rule' ? (rule.config === true ? '' : 'HostConfig.') : '')}`])
          }
          expect(await daemonHas(socket, 'containers', name)).toBe(false)
        })
      }
    }
  }
})

describe.skipIf(socket === '')('the daemon reads each of these spellings as the judge does (sent to it directly)', () => {
  let sec: SecurityGateway
  beforeAll(async () => { sec = await startSecurityGateway(socket) })
  afterAll(async () => { await sec?.close() })

  const privileged = RULES[0] as Rule
  SPELLINGS.filter((s) => s.applies?.(privileged) ?? true).forEach((spelling, i) => {
    it(`dockerd creates a privileged container from: ${spelling.name}`, async () => {
      const name = sec.name(`direct-${i}`)
      const created = await onDaemon(socket, 'POST', `/v1.41/containers/create?name=${name}`, undefined, spelling.body(privileged, sec))
      expect(created.status).toBe(201)
      const inspected = JSON.parse((await onDaemon(socket, 'GET', `/v1.41/containers/${name}/json`)).body) as { HostConfig: { Privileged: boolean } }
      expect(inspected.HostConfig.Privileged).toBe(true)
    })
  })

  it('dockerd decodes \\u escapes in values: "/\\u0065tc:/x" binds /etc', async () => {
    const binds = RULES.find((r) => r.setting === 'bindMounts') as Rule
    const name = sec.name('direct-escaped-value')
    const body = SPELLINGS.find((s) => s.name === '\\u escapes in values')?.body(binds, sec) ?? ''
    expect((await onDaemon(socket, 'POST', `/v1.41/containers/create?name=${name}`, undefined, body)).status).toBe(201)
    const inspected = JSON.parse((await onDaemon(socket, 'GET', `/v1.41/containers/${name}/json`)).body) as { HostConfig: { Binds: string[] } }
    expect(inspected.HostConfig.Binds).toEqual(['/etc:/x'])
  })
})
