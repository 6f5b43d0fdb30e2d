/**
 * The pure parts of the audit trail: what a body looks like at level
 * request (secrets redacted), which object a path names, how TLS
 * rejections are rate limited, and that the published schema is the one
 * the code defines.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createsObject, objectRefOf, withCreatedId } from '../../../src/audit/object-ref.js'
import { CREATED_ID_TAP_BYTES, CreatedIdTap } from '../../../src/proxy/created-id.js'
import { RejectionLimiter } from '../../../src/audit/rate-limit.js'
import { redactBody, REDACTED } from '../../../src/audit/redact.js'
import { rotatedPath, workerFile } from '../../../src/audit/rotation.js'
import { auditRecordJsonSchema } from '../../../src/audit/schema.js'
import { readJsonBody } from '../../../src/policy/index.js'
import { schemaProblems } from '../../support/audit-check.js'

const redacted = (json: string): unknown => {
  const parsed = readJsonBody(Buffer.from(json))
  if (!parsed.ok) throw new Error(parsed.fault.message)
  return JSON.parse(JSON.stringify(redactBody(parsed.value)))
}

describe('request bodies at level request', () => {
  it('keeps the names of environment variables and removes their values, in any key case', () => {
    expect(redacted('{"Env":["DB_PASSWORD=hunter2","PATH=/bin","FLAG"],"Image":"busybox"}')).toEqual({ Env: [`DB_PASSWORD=${REDACTED}`, `PATH=${REDACTED}`, 'FLAG'], Image: 'busybox' })
    expect(redacted('{"env":["A=1"]}')).toEqual({ env: [`A=${REDACTED}`] })
    expect(redacted('{"TaskTemplate":{"ContainerSpec":{"Env":["TOKEN=abc"]}}}')).toEqual({ TaskTemplate: { ContainerSpec: { Env: [`TOKEN=${REDACTED}`] } } })
  })

  it('removes values of keys that name a secret: registry auth, tokens, passwords, keys', () => {
    expect(redacted('{"HostConfig":{"LogConfig":{"Type":"splunk","Config":{"splunk-token":"t0k","splunk-url":"https://s"}}}}'))
      .toEqual({ HostConfig: { LogConfig: { Type: 'splunk', Config: { 'splunk-token': REDACTED, 'splunk-url': 'https://s' } } } })
    expect(redacted('{"auth":"dXNlcjpwYXNz","Authorization":"Bearer x","IdentityToken":"y","api_key":"z","PrivateKey":"k"}'))
      .toEqual({ auth: REDACTED, Authorization: REDACTED, IdentityToken: REDACTED, api_key: REDACTED, PrivateKey: REDACTED })
  })

  it('keeps references that only name a secret', () => {
    expect(redacted('{"Secrets":[{"SecretName":"db","SecretID":"abc"}]}')).toEqual({ Secrets: [{ SecretName: 'db', SecretID: 'abc' }] })
  })

  it('removes password=VALUE inside option strings and arguments', () => {
    expect(redacted('{"DriverOpts":{"type":"cifs","o":"addr=10.0.0.1,username=u,password=p4ss,vers=3"}}'))
      .toEqual({ DriverOpts: { type: 'cifs', o: `addr=10.0.0.1,username=u,password=${REDACTED},vers=3` } })
    expect(redacted('{"Cmd":["app","--api-token=s3cret","--port=80"]}')).toEqual({ Cmd: ['app', `--api-token=${REDACTED}`, '--port=80'] })
  })

  it('removes values of the other common secret names, case-insensitive and with any separator', () => {
    expect(redacted('{"Passphrase":"a","credential":"b","Credentials":"c","secret":"d","secret_access_key":"e","AWS-Secret-Access-Key":"f",' +
      '"accessKey":"g","apikey":"h","API_KEY":"i","token":"j","com.example.api.token":"k","Name":"web"}'))
      .toEqual({ Passphrase: REDACTED, credential: REDACTED, Credentials: REDACTED, secret: REDACTED, secret_access_key: REDACTED, 'AWS-Secret-Access-Key': REDACTED,
        accessKey: REDACTED, apikey: REDACTED, API_KEY: REDACTED, token: REDACTED, 'com.example.api.token': REDACTED, Name: 'web' })
  })

  it('removes the whole value of a secret-named key that holds an object or a list', () => {
    expect(redacted('{"Credentials":{"user":"u","pass":"p"},"tokens":1,"secret":["a","b"],"Token":null}'))
      .toEqual({ Credentials: REDACTED, tokens: 1, secret: REDACTED, Token: null })
  })

  it('removes the password of a URL anywhere in a string, keeping the user', () => {
    expect(redacted('{"Cmd":["git","clone","https://bob:s3cr3t@git.example.com/repo.git"],"Labels":{"db":"see postgres://app:pw%40x@db:5432/app and http://host:8080/x"}}'))
      .toEqual({ Cmd: ['git', 'clone', `https://bob:${REDACTED}@git.example.com/repo.git`], Labels: { db: `see postgres://app:${REDACTED}@db:5432/app and http://host:8080/x` } })
    expect(redacted('{"x":"redis://:pw@cache:6379"}')).toEqual({ x: `redis://:${REDACTED}@cache:6379` })
  })

  it('removes Authorization, Bearer and Basic credentials inside strings', () => {
    expect(redacted('{"Cmd":["curl","-H","Authorization: Bearer eyJhbGci.x.y","https://api"]}'))
      .toEqual({ Cmd: ['curl', '-H', `Authorization: Bearer ${REDACTED}`, 'https://api'] })
    expect(redacted('{"Test":["CMD","sh","-c","wget --header=\'authorization: Basic dXNlcjpwYXNz\' http://x"]}'))
      .toEqual({ Test: ['CMD', 'sh', '-c', `wget --header='authorization: Basic ${REDACTED}' http://x`] })
    expect(redacted('{"a":"token is bearer abc.def","b":"Basic dXNlcjpwYXNz","c":"a basic configuration"}'))
      .toEqual({ a: `token is bearer ${REDACTED}`, b: `Basic ${REDACTED}`, c: 'a basic configuration' })
  })

  it('removes the argument after a secret-named flag in Cmd, Entrypoint and Healthcheck, as list elements and inside shell strings', () => {
    expect(redacted('{"Cmd":["mysqld","--password","hunter2","--port","3306"],"Entrypoint":["app","-token","t0k","--secret=s","--verbose"],' +
      '"Healthcheck":{"Test":["CMD-SHELL","mysqladmin ping --password hunter2 && check --api-key \'k y\' --user root"]}}'))
      .toEqual({
        Cmd: ['mysqld', '--password', REDACTED, '--port', '3306'],
        Entrypoint: ['app', '-token', REDACTED, `--secret=${REDACTED}`, '--verbose'],
        Healthcheck: { Test: ['CMD-SHELL', `mysqladmin ping --password ${REDACTED} && check --api-key ${REDACTED} --user root`] }
      })
  })

  it('removes "NAME":"VALUE" members of JSON kept in a string', () => {
    expect(redacted('{"Labels":{"cfg":"{\\"password\\":\\"p\\",\\"host\\":\\"h\\"}"}}'))
      .toEqual({ Labels: { cfg: `{"password":"${REDACTED}","host":"h"}` } })
  })

  it('records an empty body as null and a __proto__ key as a plain key', () => {
    expect(redactBody(undefined)).toBeNull()
    expect(redacted('{"__proto__":{"x":1}}')).toEqual(JSON.parse('{"__proto__":{"x":1}}'))
  })
})

describe('objectRef', () => {
  it.each([
    ['/containers/abc/start', '', { resource: 'containers', name: 'abc', subresource: 'start' }],
    ['/containers/abc', '', { resource: 'containers', name: 'abc' }],
    ['/containers/create', 'name=web', { resource: 'containers', name: 'web', subresource: 'create' }],
    ['/containers/create', '', null],
    ['/containers/json', 'all=1', null],
    ['/exec/e1/start', '', { resource: 'exec', name: 'e1', subresource: 'start' }],
    ['/images/registry:5000/team/app/json', '', { resource: 'images', name: 'registry:5000/team/app', subresource: 'json' }],
    ['/images/team/app', '', { resource: 'images', name: 'team/app' }],
    ['/images/create', 'fromImage=busybox&tag=1.36', { resource: 'images', name: 'busybox:1.36', subresource: 'create' }],
    ['/images/create', 'fromImage=busybox%3Alatest&tag=1.36', { resource: 'images', name: 'busybox:latest', subresource: 'create' }],
    ['/images/json', '', null],
    ['/volumes/data', '', { resource: 'volumes', name: 'data' }],
    ['/networks/n1/connect', '', { resource: 'networks', name: 'n1', subresource: 'connect' }],
    ['/plugins/vieux/sshfs:latest/enable', '', { resource: 'plugins', name: 'vieux/sshfs:latest', subresource: 'enable' }],
    ['/events', '', null],
    ['/_ping', '', null],
    ['/build', 't=app', null]
  ])('%s?%s', (path, query, expected) => {
    expect(objectRefOf(path, query)).toEqual(expected)
  })

  it('asks for the created Id of container, exec, network and volume creates only', () => {
    expect(createsObject('POST', '/containers/create')).toBe(true)
    expect(createsObject('POST', '/containers/web/exec')).toBe(true)
    expect(createsObject('POST', '/networks/create')).toBe(true)
    expect(createsObject('POST', '/volumes/create')).toBe(true)
    expect(createsObject('POST', '/images/create')).toBe(false)
    expect(createsObject('GET', '/containers/create')).toBe(false)
    expect(createsObject('POST', '/containers/web/start')).toBe(false)
    expect(createsObject('POST', null)).toBe(false)
  })

  it('records the created Id, and names a container created without a name by it', () => {
    const id = 'a'.repeat(64)
    expect(withCreatedId({ resource: 'containers', name: 'web', subresource: 'create' }, id)).toEqual({ resource: 'containers', name: 'web', subresource: 'create', createdId: id })
    expect(withCreatedId(null, id)).toEqual({ resource: 'containers', name: id, subresource: 'create', createdId: id })
    expect(withCreatedId(null, id, '/networks/create')).toEqual({ resource: 'networks', name: id, subresource: 'create', createdId: id })
    expect(withCreatedId(null, 'cache', '/volumes/create')).toEqual({ resource: 'volumes', name: 'cache', subresource: 'create', createdId: 'cache' })
  })
})

describe('the created-Id tap', () => {
  const id = 'f'.repeat(64)
  const tapped = (...chunks: string[]): string | null => {
    const tap = new CreatedIdTap()
    for (const chunk of chunks) tap.push(Buffer.from(chunk))
    return tap.id()
  }

  it('finds the Id of a create answer, also split across chunks', () => {
    expect(tapped(`{"Id":"${id}","Warnings":[]}\n`)).toBe(id)
    expect(tapped('{"Id":"', id.slice(0, 10), `${id.slice(10)}"}`)).toBe(id)
  })

  it("finds a volume create answer's name", () => {
    expect(tapped('{"CreatedAt":"2026-12-04T12:00:00Z","Driver":"local","Labels":{},"Mountpoint":"/var/lib/docker/volumes/cache/_data","Name":"cache","Options":{},"Scope":"local"}\n')).toBe('cache')
    expect(tapped('{"Name":"cache"}')).toBeNull()
  })

  it('keeps at most a few KiB and gives up on anything else', () => {
    expect(tapped(`{"Id":"${id}","Warnings":["${'x'.repeat(CREATED_ID_TAP_BYTES)}"]}`)).toBeNull()
    expect(tapped('not json')).toBeNull()
    expect(tapped('{"Id":"web"}')).toBeNull()
    expect(tapped('')).toBeNull()
  })
})

describe('TLS rejection rate limiting', () => {
  const limits = { burst: 3, refillMs: 1000, globalBurst: 100, globalRefillMs: 10, maxAddresses: 2 }

  it('writes a burst per address, counts the rest, and refills over time', () => {
    const limiter = new RejectionLimiter(limits, new Date(0))
    const at = (ms: number): Date => new Date(ms)
    const admitted = Array.from({ length: 10 }, (_, i) => limiter.admit('10.0.0.1', i % 2 === 0 ? 'unknown-ca' : 'no-certificate', at(i)))
    expect(admitted.filter(Boolean)).toHaveLength(3)
    expect(limiter.summaries()).toEqual([{ address: '10.0.0.1', count: 7, since: at(3), until: at(9), reasons: { 'no-certificate': 4, 'unknown-ca': 3 } }])
    expect(limiter.summaries()).toEqual([])
    expect(limiter.admit('10.0.0.1', 'expired', at(2500))).toBe(true)
    expect(limiter.admit('10.0.0.2', 'expired', at(2500))).toBe(true)
  })

  it('limits all addresses together, so a scan from many addresses is bounded too', () => {
    const limiter = new RejectionLimiter({ ...limits, globalBurst: 2, maxAddresses: 100 }, new Date(0))
    const admitted = ['a', 'b', 'c', 'd'].map((address) => limiter.admit(address, 'unknown-ca', new Date(0)))
    expect(admitted).toEqual([true, true, false, false])
    expect(limiter.summaries().map((s) => s.address)).toEqual(['c', 'd'])
  })

  it('keeps memory bounded: the least recently seen address is dropped, its counts handed out first', () => {
    const limiter = new RejectionLimiter(limits, new Date(0))
    for (let i = 0; i < 5; i++) limiter.admit('a', 'unknown-ca', new Date(0))
    limiter.admit('b', 'unknown-ca', new Date(0))
    limiter.admit('c', 'unknown-ca', new Date(0))
    expect(limiter.summaries()).toEqual([{ address: 'a', count: 2, since: new Date(0), until: new Date(0), reasons: { 'unknown-ca': 2 } }])
  })
})

describe('file names', () => {
  it('a worker writes its own file, and its rotated files keep the worker in their name', () => {
    expect(workerFile('/var/log/dockgate/audit.jsonl', 2)).toBe('/var/log/dockgate/audit-w2.jsonl')
    expect(rotatedPath('/var/log/dockgate/audit-w2.jsonl', new Date('2026-11-24T00:00:00.012Z'), () => false)).toBe('/var/log/dockgate/audit-w2.2026-11-24T00-00-00.012Z.jsonl')
  })

  it('a rotated name that is taken gets a counter', () => {
    const taken = new Set(['/a/audit.2026-11-24T00-00-00.012Z.jsonl', '/a/audit.2026-11-24T00-00-00.012Z-1.jsonl'])
    expect(rotatedPath('/a/audit.jsonl', new Date('2026-11-24T00:00:00.012Z'), (p) => taken.has(p))).toBe('/a/audit.2026-11-24T00-00-00.012Z-2.jsonl')
  })
})

describe('the published schema', () => {
  it('schema/audit-record.v1.json is exactly what the code defines (regenerate with dockgate audit schema)', () => {
    expect(readFileSync(join(import.meta.dirname, '..', '..', '..', 'schema', 'audit-record.v1.json'), 'utf8')).toBe(auditRecordJsonSchema())
  })

  it('rejects a record that misses what its stage requires, or has a field the schema does not define', () => {
    const base = { time: '2026-11-24T00:00:00.000Z', schema: 1, auditID: '0b3fcf12-8c1e-4d6f-9a2b-1c3d4e5f6a7b', seq: 1, prev: '0'.repeat(64), hash: 'a'.repeat(64) }
    expect(schemaProblems(JSON.stringify({ ...base, stage: 'ResponseComplete' })).join('\n')).toContain("must have required property 'status'")
    expect(schemaProblems(JSON.stringify({ ...base, stage: 'FileOpened', opened: { reason: 'start', file: 'a', host: 'h', pid: 1, version: '1', previous: null }, extra: 1 })).join('\n')).toContain('must NOT have additional properties')
    expect(schemaProblems(JSON.stringify({ ...base, stage: 'FileOpened', opened: { reason: 'start', file: 'a', host: 'h', pid: 1, version: '1', previous: null } }))).toEqual([])
  })
})
