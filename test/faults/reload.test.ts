/**
 * Fault: reloads under continuous allowed traffic. Twenty reloads, every
 * other one a rewritten policy file (written to a temporary file and
 * renamed over the old one, as editors and config tools do) and the others
 * SIGHUP, while four clients send allowed requests back to back (three on
 * kept-alive connections, one on a new connection each time). Then a broken
 * policy, and a policy that drops an endpoint.
 *
 * Thresholds: 0 failed requests across all of it; a broken policy keeps the
 * previous one serving, with the problem and the refusal logged; an endpoint
 * removed from the policy is refused within 2 s of the file being replaced.
 */
import https from 'node:https'
import { renameSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { tlsOptions } from '../support/clients.js'
import { waitFor } from '../support/live.js'
import { auditVerify, figure, startServed, timeUntil, type Served } from './support.js'

const socket = inject('dockerSocket')
const NAME = 'reload under traffic'
const RELOADS = 20
const REFUSED_WITHIN_MS = 2000
const TRAFFIC = ['/_ping', '/containers/json', '/images/json', '/version'] as const

function policy (generation: number, withInfo = true, broken = false): string {
  const allow = ['"GET,HEAD /_ping"', '"GET /version"', '"GET /containers/json"', '"GET /images/json"', ...(withInfo ? ['"GET /info"'] : []), ...(broken ? ['"GIT /containers/json"'] : [])]
  return `version: 1\n# generation ${generation}\nidentities:\n  - match: { ou: platform }\n    teams: [platform]\nteams:\n  platform:\n    allow: [${allow.join(', ')}]\n`
}

/** GET `path`; the status, or 0 when the request failed. */
async function get (served: Served, path: string, agent: https.Agent | false): Promise<number> {
  return await new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', port: served.port, path, agent, ...tlsOptions(served.bundle) }, (res) => {
      res.resume()
      res.on('end', () => { resolve(res.statusCode ?? 0) })
      res.on('error', () => { resolve(0) })
    })
    req.on('error', () => { resolve(0) })
    req.end()
  })
}

describe.skipIf(socket === '')('fault: reloads under continuous traffic', () => {
  let served: Served
  beforeAll(async () => { served = await startServed({ socket, policy: policy(0) }) })
  afterAll(async () => { await served?.stop() })

  it('drops no request over 20 reloads, keeps serving through a broken policy, and refuses a removed endpoint within 2 s', async () => {
    const replacePolicy = (text: string): void => {
      writeFileSync(`${served.policyFile}.new`, text)
      renameSync(`${served.policyFile}.new`, served.policyFile)
    }
    const reloaded = (trigger: string): number => served.logs().filter((l) => l.msg.startsWith(`reloaded (${trigger})`)).length
    const failures: string[] = []
    let sent = 0
    let running = true
    const agents: https.Agent[] = []
    const loop = async (path: string, keepAlive: boolean): Promise<void> => {
      const agent = keepAlive ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : false
      if (agent !== false) agents.push(agent)
      while (running) {
        sent += 1
        const status = await get(served, path, agent)
        if (status !== 200) failures.push(`${path}: ${status}`)
      }
    }
    const traffic = TRAFFIC.map(async (path, i) => { await loop(path, i !== 3) })

    const started = Date.now()
    for (let i = 1; i <= RELOADS; i++) {
      const [trigger, before] = i % 2 === 1 ? ['file-change', reloaded('file-change')] as const : ['SIGHUP', reloaded('SIGHUP')] as const
      if (trigger === 'file-change') replacePolicy(policy(i))
      else served.child.kill('SIGHUP')
      await waitFor(() => reloaded(trigger) > before, 10_000, `reload ${i} (${trigger})`)
    }
    const reloadSeconds = (Date.now() - started) / 1000

    replacePolicy(policy(RELOADS + 1, true, true))
    await waitFor(() => served.logs().some((l) => l.msg.startsWith('reload (file-change) failed')), 10_000, 'the broken policy to be refused')
    const stillServing = await get(served, '/info', false)
    const lastSuccess = await served.metric('dockgate_reload_last_success')

    const infoAgent = new https.Agent({ keepAlive: true, maxSockets: 1 })
    agents.push(infoAgent)
    replacePolicy(policy(RELOADS + 2, false))
    const refusedAfter = await timeUntil(async () => await get(served, '/info', infoAgent) === 403, 10_000)
    // A little more traffic on the policy that dropped /info, then stop.
    const more = sent
    await waitFor(() => sent > more + 20, 10_000, 'traffic after the last reload')
    running = false
    await Promise.all(traffic)
    for (const agent of agents) agent.destroy()
    const verified = await auditVerify(served)

    figure(NAME, `requests sent during ${RELOADS} reloads and after`, sent, '', null)
    figure(NAME, `${RELOADS} reloads took`, reloadSeconds, 's', null)
    figure(NAME, 'failed requests', failures.length, '', '0')
    figure(NAME, 'removed endpoint refused after', (refusedAfter ?? NaN) / 1000, 's', `${REFUSED_WITHIN_MS / 1000} s`)
    expect(failures).toEqual([])
    expect(sent).toBeGreaterThan(RELOADS * 4)
    expect(served.logs().filter((l) => /^reloaded \((file-change|SIGHUP)\)/.test(l.msg)).length).toBeGreaterThanOrEqual(RELOADS + 1)
    // The broken policy: its problem at its line, the refusal, and the previous policy still deciding.
    expect(served.logs().some((l) => /policy\.yaml:\d+:\d+ DG_POLICY_BAD_RULE .*GIT/.test(l.msg))).toBe(true)
    expect(served.logs().some((l) => l.msg === 'reload (file-change) failed with 1 problem(s); still serving the previous certificates, CRLs and policy')).toBe(true)
    expect(stillServing).toBe(200)
    expect(lastSuccess).toBe(0)
    expect(refusedAfter).not.toBeNull()
    expect(refusedAfter ?? Infinity).toBeLessThan(REFUSED_WITHIN_MS)
    expect(await served.metric('dockgate_reload_last_success')).toBe(1)
    expect(verified.code).toBe(0)
  })
})
