/**
 * Loads a policy file: parse, check, compile, freeze, all once.
 *
 * Every problem is reported at once, each at the line:col of the offending
 * node. The semantic checks below walk the raw value defensively (skipping
 * anything the schema check already reported as the wrong type), so one
 * mistake produces one diagnostic, not a cascade.
 */
import { indexOf } from './rule-index.js'
import { closeMatch, checkSchema } from '../shared/schema-check.js'
import { sortDiagnostics, type Diagnostic, type Loaded } from '../shared/diagnostics.js'
import type { ErrorCode } from '../shared/errors.js'
import { parseYaml, type ValuePath, type YamlSource } from '../shared/yaml-source.js'
import { deepFreeze, type CompiledIdentity, type CompiledTeam, type Policy, type PolicyDefaults } from './compiled.js'
import { AUDIT_LEVEL_NAMES, isAuditLevel, type TeamAuditLevel } from './audit-level.js'
import { compileContainerRules } from './containers.js'
import { parseMemory, parsePositiveInteger, type Quota } from './images.js'
import { findGroup, GROUPS, isGroupReference } from './groups.js'
import { compileFieldMatcher, isMatchKey, type FieldMatcher } from './identity.js'
import { lintPolicy } from './lint.js'
import { compileRule, type CompiledRule } from './rules.js'
import { readRuleEntry, type Report } from './rule-entry.js'
import { PolicySchema } from './schema.js'
import type { PolicyMode, RuleRef } from './types.js'

/** A policy file's name (used in diagnostics and RuleRefs) and its text. */
export interface PolicySource {
  readonly file: string
  readonly text: string
}

/** The only policy format version this build reads. */
export const POLICY_VERSION = 1

const TEAM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const MODES: readonly PolicyMode[] = ['enforce', 'audit']

/**
 * Parses and compiles a policy, then checks it for unreachable rules and
 * shadowed identities (lint.ts). On success the value is a deeply frozen
 * {@link Policy} whose `warnings` hold what did not stop it; on failure,
 * every error found, sorted by position. Pure: reads nothing but its argument.
 */
export function loadPolicy (source: PolicySource): Loaded<Policy> {
  const checked = checkPolicy(source)
  if (checked.policy === null) return { ok: false, diagnostics: checked.diagnostics.filter((d) => d.severity !== 'warning') }
  return { ok: true, value: checked.policy }
}

/** Everything `policy check` reports for a file: errors and warnings sorted by position, and the policy if it loads. */
export interface PolicyCheck {
  readonly diagnostics: readonly Diagnostic[]
  readonly policy: Policy | null
}

/** Like {@link loadPolicy}, but keeps the warnings of a policy that fails to load. Pure. */
export function checkPolicy (source: PolicySource): PolicyCheck {
  const parsed = parseYaml(source.file, source.text)
  if (!parsed.ok && !('partial' in parsed)) return { diagnostics: parsed.diagnostics, policy: null }
  const yaml = parsed.ok ? parsed.value : parsed.partial
  const checker = new PolicyChecker(yaml)
  const compiled = checker.compile()
  const lint = lintPolicy(compiled, yaml)
  const errors = [...(parsed.ok ? [] : parsed.diagnostics), ...checker.problems, ...lint.errors]
  const warnings = sortDiagnostics(lint.warnings)
  if (errors.length > 0) return { diagnostics: sortDiagnostics([...errors, ...warnings]), policy: null }
  return { diagnostics: warnings, policy: deepFreeze({ ...compiled, warnings }) }
}

type Rec = Record<string, unknown>

function isRecord (value: unknown): value is Rec {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

// Holds the source and the problem list so the compile steps stay short.
class PolicyChecker {
  readonly problems: Diagnostic[]
  private readonly root: Rec

  constructor (private readonly source: YamlSource) {
    this.problems = checkSchema(PolicySchema, source.value, source)
    this.root = isRecord(source.value) ? source.value : {}
  }

  compile (): Policy {
    this.checkVersion()
    const mode = this.mode(['mode'], 'enforce')
    const defaults = this.defaults()
    const teams = this.compileTeams(mode, defaults)
    const identities = this.compileIdentities(teams)
    const compiledTeams = [...teams.values()]
    // Built now so no request pays for it (rule-index.ts).
    for (const team of compiledTeams) { indexOf(team.allow); indexOf(team.deny) }
    return {
      file: this.source.file,
      teams: compiledTeams.map((t) => t.name),
      rules: compiledTeams.flatMap((t) => [...t.allow, ...t.deny].map((r) => r.ref)),
      identities,
      compiledTeams,
      mode,
      defaults,
      warnings: []
    }
  }

  /** The mode at `path` (top level or a team's), or `fallback` when absent or invalid. */
  private mode (path: ValuePath, fallback: PolicyMode): PolicyMode {
    let value: unknown = this.root
    for (const key of path) value = isRecord(value) ? value[key] : undefined
    if (value === undefined || typeof value !== 'string') return fallback
    if ((MODES as readonly string[]).includes(value)) return value as PolicyMode
    this.report('DG_BAD_VALUE', path, `mode must be enforce or audit, got ${JSON.stringify(value)}`)
    return fallback
  }

  /** `defaults:` (the schema check reports wrong types; a wrong-typed value counts as unset). */
  private defaults (): PolicyDefaults {
    const raw = this.root.defaults
    return { ownership: isRecord(raw) && raw.ownership === true }
  }

  /** A team's `ownership:`, else the default (a wrong-typed value, already reported, counts as unset). */
  private ownership (rules: Rec, defaults: PolicyDefaults): boolean {
    return typeof rules.ownership === 'boolean' ? rules.ownership : defaults.ownership
  }

  private report (code: ErrorCode, path: ValuePath, message: string, at: 'key' | 'value' = 'value'): void {
    const { line, col } = at === 'key' ? this.source.keyAt(path) : this.source.valueAt(path)
    this.problems.push({ file: this.source.file, line, col, code, message })
  }

  private checkVersion (): void {
    const version = this.root.version
    if (typeof version === 'number' && Number.isInteger(version) && version !== POLICY_VERSION) {
      this.report('DG_BAD_VALUE', ['version'], `unsupported policy version ${version}; this dockgate reads version: ${POLICY_VERSION}`)
    }
  }

  private compileTeams (policyMode: PolicyMode, defaults: PolicyDefaults): Map<string, CompiledTeam> {
    const teams = new Map<string, CompiledTeam>()
    const raw = this.root.teams
    if (!isRecord(raw)) return teams
    for (const [name, body] of Object.entries(raw)) {
      if (!TEAM_NAME.test(name)) {
        this.report('DG_BAD_VALUE', ['teams', name], `team name '${name}' must start with a letter or digit and contain only letters, digits, '.', '_' and '-'`, 'key')
      }
      const rules = isRecord(body) ? body : {}
      teams.set(name, {
        name,
        allow: this.compileRules(name, 'allow', rules.allow),
        deny: this.compileRules(name, 'deny', rules.deny),
        mode: this.mode(['teams', name, 'mode'], policyMode),
        containers: compileContainerRules(name, rules.containers, this.source, this.problems),
        audit: this.teamAudit(name, rules.audit),
        ownership: this.ownership(rules, defaults),
        quota: this.quota(name, rules, this.ownership(rules, defaults))
      })
    }
    return teams
  }

  /**
   * A team's `quota:`, or null when it sets none. A quota counts the team's
   * containers by their owner label, so it needs ownership: without it the
   * quota is a check error (and compiles to null).
   */
  private quota (team: string, rules: Rec, ownership: boolean): Quota | null {
    const raw = rules.quota
    if (!isRecord(raw)) return null
    const path: ValuePath = ['teams', team, 'quota']
    const read = (key: 'containers' | 'memory', parse: (value: unknown) => number | null, form: string): number | null => {
      if (!Object.hasOwn(raw, key)) return null
      const value = parse(raw[key])
      if (value === null) this.report('DG_BAD_VALUE', [...path, key], `quota.${key} must be ${form}, got ${JSON.stringify(raw[key])}`)
      return value
    }
    const quota = {
      containers: read('containers', parsePositiveInteger, 'a positive whole number of containers like 20'),
      memory: read('memory', parseMemory, 'a size like 16g (b, k, m, g, t, p: binary multiples, as docker run -m) or a number of bytes')
    }
    if (!ownership) {
      this.report('DG_BAD_VALUE', path, `team ${team} has a quota but not ownership: a quota counts the team's own containers by their owner label; set ownership: true on the team (or defaults: { ownership: true })`, 'key')
      return null
    }
    return quota
  }

  /** A team's `audit:` level, or null when it sets none (or an invalid one, reported). */
  private teamAudit (team: string, value: unknown): TeamAuditLevel | null {
    if (value === undefined || typeof value !== 'string') return null
    const path = ['teams', team, 'audit']
    if (!isAuditLevel(value)) {
      this.report('DG_BAD_VALUE', path, `audit must be ${AUDIT_LEVEL_NAMES}, got ${JSON.stringify(value)}`)
      return null
    }
    return { level: value, file: this.source.file, line: this.source.valueAt(path).line }
  }

  private compileRules (team: string, effect: 'allow' | 'deny', list: unknown): CompiledRule[] {
    if (!Array.isArray(list)) return []
    const compiled: CompiledRule[] = []
    const report: Report = (code, path, message, at) => { this.report(code, path, message, at) }
    list.forEach((value: unknown, index) => {
      const entry = readRuleEntry(value, ['teams', team, effect, index], report)
      if (entry === null) return
      const { text, textPath: path } = entry
      const { line, col } = this.source.valueAt(path)
      const ref: RuleRef = { file: this.source.file, line, col, text, team, effect, ...(entry.audit === undefined ? {} : { audit: entry.audit }) }
      if (isGroupReference(text)) {
        compiled.push(...this.expandGroup(text, path, ref))
        return
      }
      const rule = compileRule(ref)
      if (typeof rule === 'string') this.report('DG_POLICY_BAD_RULE', path, `bad rule "${text}": ${rule}`)
      else compiled.push(rule)
    })
    return compiled
  }

  /** A `@group` entry: its rules, each keeping the entry's position and naming the group. */
  private expandGroup (name: string, path: ValuePath, at: RuleRef): CompiledRule[] {
    const group = findGroup(name)
    if (group === undefined) {
      const known = Object.keys(GROUPS)
      const suggestion = closeMatch(name, known)
      this.report('DG_POLICY_BAD_RULE', path, `unknown group '${name}'; groups: ${known.join(', ')}${suggestion === null ? '' : ` (did you mean '${suggestion}'?)`}`)
      return []
    }
    return group.rules.map((text) => {
      const rule = compileRule({ ...at, text, group: name })
      // Built-in expansions are valid by construction (a unit test checks every one).
      if (typeof rule === 'string') throw new Error(`built-in group ${name} has a bad rule "${text}": ${rule}`)
      return rule
    })
  }

  private compileIdentities (teams: ReadonlyMap<string, CompiledTeam>): CompiledIdentity[] {
    const raw = this.root.identities
    if (!Array.isArray(raw)) return []
    const identities: CompiledIdentity[] = []
    raw.forEach((entry: unknown, index) => {
      if (!isRecord(entry)) return
      const matchers = this.compileMatch(entry.match, ['identities', index, 'match'])
      const entryTeams = this.resolveTeams(entry.teams, ['identities', index, 'teams'], teams)
      const names = entryTeams.map((t) => t.name)
      identities.push({
        match: { index, line: this.source.valueAt(['identities', index]).line, teams: names },
        matchers,
        teams: entryTeams,
        who: names.length === 0 ? 'a certificate with no teams' : names.join(', ')
      })
    })
    return identities
  }

  private compileMatch (match: unknown, path: ValuePath): FieldMatcher[] {
    if (!isRecord(match)) return []
    const entries = Object.entries(match)
    if (entries.length === 0) {
      this.report('DG_POLICY_BAD_MATCH', path, 'match names no field; use cn: "*" to match every certificate on purpose')
    }
    const matchers: FieldMatcher[] = []
    for (const [key, pattern] of entries) {
      if (!isMatchKey(key) || typeof pattern !== 'string') continue
      if (pattern === '') {
        this.report('DG_POLICY_BAD_MATCH', [...path, key], `${key}: "" matches no certificate; use "*" to match any ${key}`)
        continue
      }
      matchers.push(compileFieldMatcher(key, pattern))
    }
    // A socket principal has no certificate fields and a certificate no socket: such an entry could never match.
    const certificateKeys = matchers.filter((matcher) => matcher.key !== 'socket').map((matcher) => matcher.key)
    if (matchers.some((matcher) => matcher.key === 'socket') && certificateKeys.length > 0) {
      this.report('DG_POLICY_BAD_MATCH', [...path, 'socket'],
        `socket: matches only clients of a socket listener, which have no certificate, so it cannot be combined with ${certificateKeys.join(', ')}; write two identities`)
    }
    return matchers
  }

  private resolveTeams (list: unknown, path: ValuePath, teams: ReadonlyMap<string, CompiledTeam>): CompiledTeam[] {
    // Unknown references are only meaningful if `teams:` itself is a mapping.
    if (!Array.isArray(list) || !isRecord(this.root.teams)) return []
    const resolved: CompiledTeam[] = []
    list.forEach((name: unknown, index) => {
      if (typeof name !== 'string') return
      const team = teams.get(name)
      if (team === undefined) this.report('DG_POLICY_UNKNOWN_TEAM', [...path, index], unknownTeamMessage(name, [...teams.keys()]))
      else resolved.push(team)
    })
    return resolved
  }
}

function unknownTeamMessage (name: string, defined: readonly string[]): string {
  if (defined.length === 0) return `unknown team '${name}'; the policy defines no teams (add it under teams:)`
  const suggestion = closeMatch(name, defined)
  const hint = suggestion === null ? '' : ` (did you mean '${suggestion}'?)`
  return `unknown team '${name}'; defined teams: ${defined.join(', ')}${hint}`
}
