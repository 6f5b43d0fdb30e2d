/**
 * Formats a policy explanation for a terminal: one fact per line, rules as
 * `FILE:LINE "TEXT"` so an editor can jump to them.
 */
import { escapeForDisplay, formatRuleRef, type Explanation, type Policy } from '../policy/index.js'

/** The text `policy explain` prints for `explanation`. */
export function formatExplanation (policy: Policy, explanation: Explanation, subject: string): string {
  const lines: string[] = []
  const { identity, verdict } = explanation
  lines.push(`subject:  ${escapeForDisplay(subject)}`)
  if (identity === null) {
    lines.push(`identity: none matches (policy mode ${policy.mode})`)
  } else {
    lines.push(`identity: ${policy.file}:${identity.line} (${explanation.matchedOn.join(', ')}) -> teams: ${identity.teams.join(', ') || '(none)'}`)
  }
  for (const team of explanation.teams) {
    const how = team.rule === null ? 'no rule matches' : `${team.path === 'allow' ? 'allowed by' : 'denied by'} ${formatRuleRef(team.rule)}`
    lines.push(`team:     ${team.name} (mode ${team.mode}, containers ${team.unrestricted ? 'unrestricted' : 'restricted'}): ${how}`)
  }
  for (const group of explanation.groups) {
    lines.push(`group:    ${group.group} (${policy.file}:${group.line}) = ${group.rules.join(', ')}`)
  }
  if (explanation.judgedEndpoint !== null) {
    const what = explanation.reads === 'body' ? 'its JSON body' : 'its request line'
    lines.push(`judged:   ${explanation.judgedEndpoint} is judged on ${what} against each allowing team's containers rules`)
    if (explanation.bodyAssumedEmpty) lines.push('body:     none given (--body FILE.json): judged as an empty body')
  }
  for (const decision of explanation.containerDecisions) lines.push(`checks:   ${escapeForDisplay(decision)}`)
  if (verdict.images !== undefined) {
    lines.push(`images:   ${verdict.images.refs.map((ref) => escapeForDisplay(ref)).join(', ')} must be resolved on the daemon; allowed only if the image's own names match the rules of ${verdict.images.teams.map((t) => t.team).join(', ')}`)
  }
  lines.push(`decision: ${verdict.outcome}${verdict.outcome === 'would-deny' ? ' (audit mode: forwarded and recorded as would-deny)' : ''}`)
  if (verdict.rule !== null) lines.push(`rule:     ${formatRuleRef(verdict.rule)} (team ${verdict.rule.team})`)
  else if (verdict.outcome !== 'allow') lines.push('rule:     none (nothing allows it: default deny)')
  if (verdict.refusal !== null) lines.push(`reason:   ${verdict.refusal.status} ${verdict.refusal.code} ${verdict.refusal.message}`)
  lines.push(verdict.audit === null
    ? 'audit:    no level in the policy: the gateway\'s audit.level applies (metadata unless set)'
    : `audit:    ${verdict.audit.level}, set by ${verdict.audit.from}${LEVEL_NOTES[verdict.audit.level]}`)
  return lines.join('\n') + '\n'
}

const LEVEL_NOTES = {
  metadata: '',
  request: ' (the record adds the judged request body, secrets redacted)',
  session: ' (the record adds the judged request body, secrets redacted; an exec or attach session is recorded to a file its record names)'
} as const
