/**
 * The owner label in create bodies (added, never forged) and the objects a
 * body names, read as dockerd reads bodies: case-folded field names, exact
 * map keys, ambiguous keys refused.
 */
import { describe, expect, it } from 'vitest'
import { checkOwnerLabel, checkOwnerLabelBytes, containerCreateReferences, labelCreateBody, networkConnectReferences, readJsonBody } from '../../../../src/policy/index.js'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const JSON_TYPE = ['application/json']

/** The labelled body as text, or `CODE message`. */
function label (kind: 'container' | 'volume' | 'network', body: string, contentTypes = JSON_TYPE): string {
  const result = labelCreateBody(kind, bytes(body), contentTypes, 'web')
  return result.ok ? new TextDecoder().decode(result.body) : `${result.refusal.code} ${result.refusal.message}`
}

describe('labelCreateBody', () => {
  const cases: Array<[string, 'container' | 'volume' | 'network', string, string]> = [
    ['adds Labels when there are none', 'container', '{"Image":"busybox"}', '{"Labels":{"dockgate.owner":"web"},"Image":"busybox"}'],
    ['adds to existing labels, keeping them', 'container', '{"Image":"x","Labels":{"a":"1"}}', '{"Image":"x","Labels":{"dockgate.owner":"web","a":"1"}}'],
    ['adds to an empty Labels', 'volume', '{"Name":"v","Labels":{}}', '{"Name":"v","Labels":{"dockgate.owner":"web"}}'],
    ['fills Labels: null', 'network', '{"Name":"n","Labels":null}', '{"Name":"n","Labels":{"dockgate.owner":"web"}}'],
    ['finds labels in any case Go folds', 'volume', '{"name":"v","labels":{"a":"1"}}', '{"name":"v","labels":{"dockgate.owner":"web","a":"1"}}'],
    ['finds LABELS', 'network', '{"LABELS":{}}', '{"LABELS":{"dockgate.owner":"web"}}'],
    ['finds Labelſ (long s folds to S)', 'volume', '{"Label\u017f":{"x":"y"}}', '{"Label\u017f":{"dockgate.owner":"web","x":"y"}}'],
    ['labels an empty object', 'volume', '{}', '{"Labels":{"dockgate.owner":"web"}}'],
    ['labels null (the daemon creates an anonymous volume for it)', 'volume', 'null', '{"Labels":{"dockgate.owner":"web"}}'],
    ['leaves an empty body (the daemon refuses it)', 'volume', '', ''],
    ['keeps numbers exactly as written (int64 beyond a double)', 'container', '{"HostConfig":{"Memory":9223372036854775807,"NanoCpus":1.50}}', '{"Labels":{"dockgate.owner":"web"},"HostConfig":{"Memory":9223372036854775807,"NanoCpus":1.50}}'],
    ['keeps whitespace and escapes', 'container', ' { "Image" : "a\\u0062" ,\n "Labels" : { } } ', ' { "Image" : "a\\u0062" ,\n "Labels" : {"dockgate.owner":"web" } } '],
    ['does not mistake a nested Labels (a map key) for the field', 'network', '{"Options":{"Labels":{}}}', '{"Labels":{"dockgate.owner":"web"},"Options":{"Labels":{}}}'],
    ['refuses a forged owner label', 'container', '{"Labels":{"dockgate.owner":"data"}}', 'DG_OWNER_LABEL dockgate: POST /containers/create: the dockgate.owner label is set by dockgate to the team that owns the object; remove it from Labels'],
    ['refuses a forged label in a folded field name', 'volume', '{"lAbElS":{"dockgate.owner":"web"}}', 'DG_OWNER_LABEL dockgate: POST /volumes/create: the dockgate.owner label is set by dockgate to the team that owns the object; remove it from Labels'],
    ['refuses a forged label spelt with escapes', 'network', '{"Labels":{"dockgate\\u002eowner":"x"}}', 'DG_OWNER_LABEL dockgate: POST /networks/create: the dockgate.owner label is set by dockgate to the team that owns the object; remove it from Labels'],
    ['refuses two Labels keys (Go would merge them)', 'volume', '{"labels":{"x":"1"},"Labels":{"dockgate.owner":"b"}}', 'DG_BODY_AMBIGUOUS dockgate: POST /volumes/create: request body has both "labels" and "Labels" in the top-level object; the daemon reads keys case-insensitively, so it is ambiguous'],
    ['refuses Labels of the wrong type', 'container', '{"Labels":["dockgate.owner=x"]}', 'DG_BODY_INVALID dockgate: POST /containers/create: request body field Labels must be a mapping of strings'],
    ['refuses a label value of the wrong type', 'container', '{"Labels":{"a":1}}', 'DG_BODY_INVALID dockgate: POST /containers/create: request body field Labels.a must be a string'],
    ['refuses a body that is not an object', 'volume', '[]', 'DG_BODY_INVALID dockgate: POST /volumes/create: request body field the request body must be an object'],
    ['refuses a repeated key', 'container', '{"Image":"a","Image":"b"}', 'DG_BODY_AMBIGUOUS dockgate: POST /containers/create: request body repeats the key "Image" in one object']
  ]
  for (const [name, kind, body, expected] of cases) {
    it(name, () => {
      const out = label(kind, body)
      expect(out).toBe(expected)
      if (!out.startsWith('DG_') && out !== '') expect(readJsonBody(bytes(out)).ok).toBe(true)
    })
  }

  it('keeps multi-byte text intact around the insertion', () => {
    expect(label('container', '{"Env":["A=ü€😀"],"Labels":{"k":"ä"}}')).toBe('{"Env":["A=ü€😀"],"Labels":{"dockgate.owner":"web","k":"ä"}}')
  })

  it('refuses a content type other than JSON, and several', () => {
    expect(label('volume', '{}', ['text/plain'])).toBe('DG_BODY_MEDIA_TYPE dockgate: POST /volumes/create: the request body must be application/json, not "text/plain"')
    expect(label('volume', '{}', ['application/json', 'application/json'])).toMatch(/^DG_BODY_AMBIGUOUS /)
    expect(label('volume', '{}', [])).toBe('{"Labels":{"dockgate.owner":"web"}}')
  })
})

describe('checkOwnerLabel', () => {
  it('refuses commit and update bodies that set the owner label, in any case of Labels', () => {
    expect(checkOwnerLabelBytes('commit', bytes('{"Labels":{"dockgate.owner":"x","k":"v"}}'))?.code).toBe('DG_OWNER_LABEL')
    expect(checkOwnerLabelBytes('update', bytes('{"labels":{"dockgate.owner":"x"}}'))?.message).toBe('dockgate: POST /containers/{id}/update: the dockgate.owner label is set by dockgate to the team that owns the object; remove it from Labels')
    expect(checkOwnerLabelBytes('commit', bytes('{"Labels":{"k":"v"},"Cmd":["sh"]}'))).toBeNull()
    expect(checkOwnerLabelBytes('commit', bytes(''))).toBeNull()
    expect(checkOwnerLabel('update', null)).toBeNull()
    expect(checkOwnerLabelBytes('commit', bytes('{'))?.code).toBe('DG_BODY_INVALID')
  })
})

const refs = (body: unknown): string[] => {
  const parsed = readJsonBody(bytes(JSON.stringify(body)))
  if (!parsed.ok) throw new Error(parsed.fault.message)
  return containerCreateReferences(parsed.value).map((r) => `${r.kind} ${r.ref} ${r.field} ${typeof r.missing === 'string' ? r.missing : `${r.missing.status} ${r.missing.says}`}`)
}

describe('containerCreateReferences', () => {
  it('lists every object a create body names', () => {
    expect(refs({
      Image: 'busybox',
      HostConfig: {
        VolumesFrom: ['data:ro', 'plain'],
        NetworkMode: 'container:web',
        PidMode: 'container:pid-donor',
        IpcMode: 'container:ipc:with:colons',
        Links: ['db:database', '/cache:/web/cache', 'solo'],
        Binds: ['named:/data', 'named2:/d:ro', '/host:/h', 'anon-dest-only', 'relative/path:/x'],
        Mounts: [{ Type: 'volume', Source: 'mvol', Target: '/m' }, { Type: 'bind', Source: '/h', Target: '/b' }, { Type: 'VOLUME', Source: 'upper', Target: '/u' }, { Type: 'volume', Target: '/anon' }]
      },
      NetworkingConfig: { EndpointsConfig: { backend: { Links: ['peer:p'] }, bridge: {}, Backend: null } }
    })).toEqual([
      'image busybox Image 404 no-such-image',
      'container data HostConfig.VolumesFrom[0] 400 no-such-container',
      'container plain HostConfig.VolumesFrom[1] 400 no-such-container',
      'container web HostConfig.NetworkMode 400 no-such-container',
      'container pid-donor HostConfig.PidMode 400 no-such-container',
      'container ipc:with:colons HostConfig.IpcMode 400 no-such-container',
      'container db HostConfig.Links[0] 400 link',
      'container cache HostConfig.Links[1] 400 link',
      'container solo HostConfig.Links[2] 400 link',
      'volume named HostConfig.Binds[0] creates',
      'volume named2 HostConfig.Binds[1] creates',
      'volume relative/path HostConfig.Binds[4] creates',
      'volume mvol HostConfig.Mounts[0].Source creates',
      'volume upper HostConfig.Mounts[2].Source creates',
      'network backend NetworkingConfig.EndpointsConfig.backend 404 network-not-found',
      'container peer NetworkingConfig.EndpointsConfig.backend.Links[0] 400 link',
      'network Backend NetworkingConfig.EndpointsConfig.Backend 404 network-not-found'
    ])
  })

  it('reads folded field names, and the HostConfig fields dockerd also takes at the top level', () => {
    expect(refs({ hostconfig: { volumesfrom: ['a'], NETWORKMODE: 'mynet' }, VolumesFrom: ['top'], image: 'x' })).toEqual([
      'image x Image 404 no-such-image',
      'container top VolumesFrom[0] 400 no-such-container',
      'container a HostConfig.VolumesFrom[0] 400 no-such-container',
      'network mynet HostConfig.NetworkMode 404 network-not-found'
    ])
  })

  it('names the image of an image mount (API 1.48), which must be the team\'s like Image', () => {
    expect(refs({ Image: 'x', HostConfig: { Mounts: [{ Type: 'image', Source: 'other-team/app:1', Target: '/m' }, { Type: 'image', Target: '/none' }] } })).toEqual([
      'image x Image 404 no-such-image',
      'image other-team/app:1 HostConfig.Mounts[0].Source 404 no-such-image'
    ])
  })

  it('leaves out predefined networks and modes that name nothing', () => {
    for (const mode of ['', 'default', 'bridge', 'host', 'none']) expect(refs({ HostConfig: { NetworkMode: mode } })).toEqual([])
    expect(refs({ HostConfig: { PidMode: 'host', IpcMode: 'shareable', NetworkMode: 'Container:x' } })).toEqual(['network Container:x HostConfig.NetworkMode 404 network-not-found'])
    expect(refs({ HostConfig: { IpcMode: 'container:' } })).toEqual([])
  })

  it('refuses what the body judge refuses', () => {
    expect(() => refs({ HostConfig: { VolumesFrom: 'a' } })).toThrow('request body field HostConfig.VolumesFrom must be a list of strings')
    expect(() => refs({ HostConfig: { Binds: [] }, hostConfig: {} })).toThrow(/ambiguous/)
    expect(containerCreateReferences(undefined)).toEqual([])
    expect(containerCreateReferences(null)).toEqual([])
  })

  it('reads a network connect body', () => {
    const parsed = readJsonBody(bytes('{"container":"web","EndpointConfig":{"Links":["db"]}}'))
    if (!parsed.ok) throw new Error('parse')
    expect(networkConnectReferences(parsed.value).map((r) => `${r.kind} ${r.ref} ${r.field}`)).toEqual(['container web Container', 'container db EndpointConfig.Links[0]'])
  })
})
