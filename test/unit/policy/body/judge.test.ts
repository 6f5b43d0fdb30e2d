/**
 * How a body is judged end to end in the policy core: bodies that cannot be
 * judged are refused with 400 or 415 (never forwarded, in any mode), and
 * dry-run mode forwards what it would refuse, recording it as would-deny.
 */
import { describe, expect, it } from 'vitest'
import { judgeAll, member, policyFrom, show } from '../../../support/judge.js'
import { bodyTooLarge, canonicalize, judgeRequest } from '../../../../src/policy/index.js'

const policy = policyFrom(`version: 1
identities:
  - match: { ou: ci }
    teams: [ci]
  - match: { ou: platform }
    teams: [platform]
teams:
  ci:
    allow: ["POST /containers/create", "POST /containers/{id}/kill"]
  platform:
    allow: ["* /**"]
    containers: unrestricted
`)
const ci = member('ci')
const create = (body: unknown, contentTypes?: readonly string[]): string =>
  show(judgeAll(policy, ci, 'POST', '/v1.41/containers/create', body, contentTypes === undefined ? {} : { contentTypes }))

describe('bodies that cannot be judged are refused', () => {
  it('refuses a repeated key (400), so Go cannot pick the other one', () => {
    expect(create('{"HostConfig":{"Binds":[]},"HostConfig":{"Binds":["/:/h"]}}')).toMatch(/^deny DG_BODY_AMBIGUOUS dockgate: POST \/containers\/create: request body repeats the key "HostConfig"/)
  })

  it('refuses keys that fold to one field (case variants, ſ, K)', () => {
    expect(create('{"HostConfig":{"Binds":[],"binds":["/:/h"]}}')).toMatch(/^deny DG_BODY_AMBIGUOUS .*"Binds" and "binds" in HostConfig/)
    expect(create('{"HostConfig":{"NetworkMode":"none","NetworKMode":"host"}}')).toMatch(/^deny DG_BODY_AMBIGUOUS /)
    expect(create('{"HostConfig":{},"hoſtconfig":{"Privileged":true}}')).toMatch(/^deny DG_BODY_AMBIGUOUS /)
  })

  it('refuses a key hidden behind \\u escapes that repeats another', () => {
    expect(create('{"HostConfig":{"Privileged":false,"\\u0050rivileged":true}}')).toMatch(/^deny DG_BODY_AMBIGUOUS /)
  })

  it('refuses a body that is not JSON, truncated, too deep, or has a second document (400)', () => {
    expect(create('Image=x')).toMatch(/^deny DG_BODY_INVALID /)
    expect(create('{"Image":"x","HostConfig":{"Privileged":tru')).toMatch(/^deny DG_BODY_INVALID .*truncated/)
    expect(create(`{"Image":"x","Labels":${'['.repeat(70)}${']'.repeat(70)}}`)).toMatch(/^deny DG_BODY_INVALID .*nests deeper than 64/)
    expect(create('{"Image":"x"}{"HostConfig":{"Privileged":true}}')).toMatch(/^deny DG_BODY_INVALID .*after the JSON value/)
  })

  it('refuses a wrong type in a field the judge reads, and a body that is not an object', () => {
    expect(create({ HostConfig: { Privileged: 'yes' } })).toMatch(/^deny DG_BODY_INVALID .*HostConfig.Privileged must be true or false/)
    expect(create({ HostConfig: { Binds: '/:/h' } })).toMatch(/^deny DG_BODY_INVALID .*HostConfig.Binds must be a list of strings/)
    expect(create('[]')).toMatch(/^deny DG_BODY_INVALID .*the request body must be an object/)
  })

  it('refuses a content type that is present and not JSON (415), and reads a missing one as JSON', () => {
    expect(create({ Image: 'x' }, ['text/plain'])).toMatch(/^deny DG_BODY_MEDIA_TYPE dockgate: POST \/containers\/create: the request body must be application\/json, not "text\/plain"/)
    expect(create({ Image: 'x' }, ['application/x-www-form-urlencoded'])).toMatch(/^deny DG_BODY_MEDIA_TYPE /)
    expect(create({ Image: 'x' }, ['Application/JSON; charset=utf-8'])).toBe('allow')
    expect(create({ Image: 'x' }, [])).toBe('allow')
    expect(create({ HostConfig: { Privileged: true } }, [])).toMatch(/^deny DG_BODY_DENIED /)
  })

  it('refuses two Content-Type headers as ambiguous', () => {
    expect(create({ Image: 'x' }, ['application/json', 'text/plain'])).toMatch(/^deny DG_BODY_AMBIGUOUS .*more than one Content-Type/)
  })

  it('treats an empty body and null as no fields (the daemon sees exactly that)', () => {
    expect(create('')).toBe('allow')
    expect(create('null')).toBe('allow')
  })

  it('refuses an oversized body with 413 without reading it', () => {
    const target = canonicalize('/v1.41/containers/create')
    if (!target.ok) throw new Error(target.reason)
    const judgement = judgeRequest(policy, { principal: ci, method: 'POST', target: target.target, contentTypes: [] })
    if (judgement.kind !== 'body') throw new Error('expected a body phase')
    expect(show(bodyTooLarge(judgement.pending, 1024))).toMatch(/^deny DG_BODY_TOO_LARGE dockgate: POST \/containers\/create: the request body is larger than 1024 bytes \(limits.bodyBytes\)/)
  })

  it('does not read bodies of endpoints without body rules, nor of unrestricted teams', () => {
    const kill = canonicalize('/v1.41/containers/x/kill')
    const createTarget = canonicalize('/v1.41/containers/create')
    if (!kill.ok || !createTarget.ok) throw new Error('bad test target')
    expect(judgeRequest(policy, { principal: ci, method: 'POST', target: kill.target, contentTypes: ['text/plain'] }).kind).toBe('final')
    expect(judgeRequest(policy, { principal: member('platform'), method: 'POST', target: createTarget.target, contentTypes: [] }).kind).toBe('final')
  })
})

describe('dry-run (mode: audit)', () => {
  const audited = policyFrom(`version: 1
mode: audit
identities:
  - match: { ou: trial }
    teams: [trial]
  - match: { ou: mixed }
    teams: [trial, strict]
  - match: { ou: nobody }
    teams: []
teams:
  trial:
    mode: audit
    allow: ["POST /containers/create"]
  strict:
    mode: enforce
    allow: ["GET /_ping"]
`)
  const as = (ou: string, method: string, target: string, body?: unknown): string => show(judgeAll(audited, member(ou), method, target, body))

  it('forwards a body-rule denial as would-deny, with the refusal enforce mode would send', () => {
    const verdict = judgeAll(audited, member('trial'), 'POST', '/containers/create', { HostConfig: { Privileged: true } })
    expect(verdict).toMatchObject({ outcome: 'would-deny', refusal: { code: 'DG_BODY_DENIED', message: 'dockgate: trial may not create a privileged container' } })
    expect(verdict.rule?.text).toBe('containers.privileged: false (default)')
  })

  it('forwards a path denial as would-deny when every team of the identity audits', () => {
    expect(as('trial', 'DELETE', '/images/x')).toBe('would-deny DG_DENIED dockgate: trial may not DELETE /images/x')
  })

  it('enforces when one team of the identity enforces (fail closed)', () => {
    expect(as('mixed', 'DELETE', '/images/x')).toBe('deny DG_DENIED dockgate: trial, strict may not DELETE /images/x')
    expect(as('mixed', 'POST', '/containers/create', { HostConfig: { Privileged: true } })).toMatch(/^deny DG_BODY_DENIED /)
  })

  it('uses the top-level mode for a certificate no identity matches, or an identity with no teams', () => {
    expect(as('stranger', 'GET', '/_ping')).toMatch(/^would-deny DG_NO_IDENTITY /)
    expect(as('nobody', 'GET', '/_ping')).toMatch(/^would-deny DG_DENIED /)
  })

  it('never forwards a body it cannot read, whatever the mode', () => {
    expect(as('trial', 'POST', '/containers/create', '{"Binds":[],"binds":[]}')).toMatch(/^deny DG_BODY_AMBIGUOUS /)
    expect(as('trial', 'POST', '/containers/create', '{"Image":')).toMatch(/^deny DG_BODY_INVALID /)
  })

  it('still reads the body of a path it would deny before forwarding it', () => {
    expect(as('trial', 'POST', '/containers/x/start', '{"Binds":[],"binds":[]}')).toMatch(/^deny DG_BODY_AMBIGUOUS /)
    expect(as('trial', 'POST', '/containers/x/start', '{}')).toMatch(/^would-deny DG_DENIED /)
  })
})
