/**
 * Quotas (issue 10): the memory a judged request sets is on its verdict,
 * an unrestricted team with a memory quota still has its create body read,
 * and quotaRefusal's decisions and messages.
 */
import { describe, expect, it } from 'vitest'
import { quotaRefusal, type Verdict } from '../../../src/policy/index.js'
import { IMAGES_POLICY } from '../../support/images-policy.js'
import { judgeAll, member, policyFrom } from '../../support/judge.js'

const G = 1024 ** 3
const policy = policyFrom(IMAGES_POLICY)
const ADMIN = policyFrom(`version: 1
identities:
  - match: { ou: admin }
    teams: [admin]
teams:
  admin:
    ownership: true
    allow: ["* /**"]
    containers: unrestricted
    quota: { memory: 4g }
`)
const memoryOf = (verdict: Verdict): number | null | undefined => verdict.memory

describe('the memory a request sets, for the gateway', () => {
  it.each([
    ['POST', '/containers/create', { Image: 'alpine:3.1', HostConfig: { Memory: G, NanoCpus: 1, PidsLimit: 1 } }, G],
    ['POST', '/containers/create', { Image: 'alpine:3.1', Memory: G, NanoCpus: 1, PidsLimit: 1 }, G],
    ['POST', '/containers/abc/update', { Memory: G }, G],
    ['POST', '/containers/abc/update', { NanoCpus: 1e9 }, undefined],
    ['POST', '/images/create?fromImage=alpine&tag=3.1', undefined, undefined]
  ])('%s %s %j: %s', (method, target, body, memory) => {
    const verdict = judgeAll(policy, member('ci'), method, target, body)
    expect(verdict.outcome).toBe('allow')
    expect(memoryOf(verdict)).toBe(memory)
  })

  it('is null for a create without a memory limit, by a team without a memory cap', () => {
    expect(memoryOf(judgeAll(policy, member('open'), 'POST', '/containers/create', { Image: 'x' }))).toBeNull()
  })

  it('reads the create body of an unrestricted team with a memory quota', () => {
    expect(memoryOf(judgeAll(ADMIN, member('admin'), 'POST', '/containers/create', { Image: 'x', HostConfig: { Memory: 2 * G, Privileged: true } }))).toBe(2 * G)
    expect(memoryOf(judgeAll(ADMIN, member('admin'), 'POST', '/containers/create', { Image: 'x' }))).toBeNull()
  })
})

describe('quotaRefusal', () => {
  const quota = { containers: 2, memory: 4 * G }
  const line = (used: { containers: number; memory: number }, claim: { containers: number; memory: number | null }): string => {
    const refused = quotaRefusal('ci', quota, used, claim)
    return refused === null ? 'ok' : `${refused.status} ${refused.code} ${refused.message}`
  }
  it.each([
    [{ containers: 1, memory: G }, { containers: 1, memory: G }, 'ok'],
    [{ containers: 1, memory: 3 * G }, { containers: 1, memory: G }, 'ok'],
    [{ containers: 2, memory: G }, { containers: 1, memory: G }, '403 DG_QUOTA_EXCEEDED dockgate: ci may not create another container: quota containers 2 reached (2 in use)'],
    [{ containers: 1, memory: 3 * G }, { containers: 1, memory: 2 * G }, '403 DG_QUOTA_EXCEEDED dockgate: ci may not add memory 2g: quota memory 4g (3g in use)'],
    [{ containers: 0, memory: 0 }, { containers: 1, memory: null }, "403 DG_QUOTA_EXCEEDED dockgate: ci must set a memory limit: its containers' memory counts against quota memory 4g (0b in use)"],
    [{ containers: 2, memory: 4 * G }, { containers: 0, memory: -G }, 'ok'],
    [{ containers: 2, memory: 3 * G }, { containers: 0, memory: 2 * G }, '403 DG_QUOTA_EXCEEDED dockgate: ci may not add memory 2g: quota memory 4g (3g in use)']
  ])('used %j, claim %j: %s', (used, claim, expected) => {
    expect(line(used, claim)).toBe(expected)
  })

  it('never refuses without a quota, or with only a containers quota for memory', () => {
    expect(quotaRefusal('ci', null, { containers: 99, memory: 99 * G }, { containers: 1, memory: null })).toBeNull()
    expect(quotaRefusal('ci', { containers: 5, memory: null }, { containers: 1, memory: 0 }, { containers: 1, memory: null })).toBeNull()
  })
})
