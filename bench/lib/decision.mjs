// One policy decision, the compiled policy called directly (no sockets):
// judgeRequest for a canonical request against a team of `rules` allow
// rules, where the request matches only the LAST rule (the worst case of a
// first-match scan) and a request no rule allows (default deny, which also
// looks at every rule). Median of 5 batches, in microseconds.
import { canonicalize, judgeRequest, loadPolicy, principalFromSubject } from '../../dist/policy/index.js'

const RESOURCES = ['containers', 'images', 'volumes', 'networks', 'exec']

function policyOf (rules) {
  const lines = ['version: 1', 'identities:', '  - match: { ou: platform }', '    teams: [platform]', 'teams:', '  platform:', '    allow:']
  for (let i = 0; i < rules; i++) lines.push(`      - "GET /${RESOURCES[i % RESOURCES.length]}/app-${i}/**"`)
  const loaded = loadPolicy({ file: 'bench.yaml', text: lines.join('\n') + '\n' })
  if (!loaded.ok) throw new Error(loaded.diagnostics.map((d) => d.message).join('\n'))
  return loaded.value
}

function microsPerDecision (policy, facts, iterations) {
  let sink = 0
  const batch = () => {
    const start = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) sink += judgeRequest(policy, facts).kind.length
    return Number(process.hrtime.bigint() - start) / 1000 / iterations
  }
  // Warm-up batches, so the JIT has settled before the measured ones.
  for (let i = 0; i < 3; i++) batch()
  const runs = Array.from({ length: 5 }, batch).sort((a, b) => a - b)
  if (sink === 0) throw new Error('unreachable')
  return runs[2]
}

/** { rules -> { last, none } } microseconds per decision. */
export function decisionCosts (counts, iterations) {
  const principal = principalFromSubject('CN=bench,OU=platform', { dns: [], uri: [], email: [] })
  const out = {}
  // Twice over all sizes, keeping the second: the first pass only warms the JIT.
  for (const rules of [...counts, ...counts]) {
    const policy = policyOf(rules)
    const last = rules - 1
    const target = (path) => { const c = canonicalize(path, 'GET'); if (!c.ok) throw new Error(path); return c.target }
    const facts = (path) => ({ principal, method: 'GET', target: target(path), contentTypes: [] })
    const n = Math.max(1000, Math.floor(iterations * 10 / Math.max(10, rules)))
    out[rules] = {
      last: microsPerDecision(policy, facts(`/v1.41/${RESOURCES[last % RESOURCES.length]}/app-${last}/json`), n),
      none: microsPerDecision(policy, facts('/v1.41/plugins/nothing/json'), n)
    }
  }
  return out
}
