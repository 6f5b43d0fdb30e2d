/**
 * `dockgate scan [--config FILE] [--json] [--audit FILE...]`: what on the
 * daemon is out of policy now, and what was made around the gateway. For
 * every container, volume and network (the daemon's own networks aside):
 * - DG_SCAN_DRIFT: today's policy would refuse its create for its owner
 *   team (the `dockgate.owner` label; else the team whose rule allowed its
 *   recorded create; else the defaults every team starts from): judged by
 *   the policy core exactly as a create (src/policy/drift.ts), images
 *   resolved on the daemon, quotas counted oldest first;
 * - DG_SCAN_UNAUDITED: the trail has no ResponseComplete create record of
 *   it. A volume the daemon made with a container (anonymous, or named in
 *   `-v` and made by dockgate for an ownership team) counts as made with
 *   that container when their creation times are within 10 s.
 *
 * `--label KEY[=VALUE]` narrows the scan to labelled objects (a compose
 * project, one deployment).
 *
 * Exit codes, for cron and CI: 0 nothing found, 1 findings, 2 an error
 * (DG_SCAN_FAILED: config, policy, daemon or trail unreadable, or the
 * trail does not verify; never reported as clean).
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { loadConfigFile } from '../config/load.js'
import { imageDrift, judgeExisting, loadPolicy, quotaDrifts, type Drift, type Policy } from '../policy/index.js'
import { formatDiagnostic } from '../shared/diagnostics.js'
import { imageReferences, readDaemon, type ScannedObject } from './scan-daemon.js'
import { createKey, readCreates, trailFiles, type CreateRecord } from './scan-trail.js'

const USAGE = `usage: dockgate scan [--config FILE] [--json] [--audit FILE]... [--label KEY[=VALUE]]...

Lists every container, volume and network that today's policy would refuse
for its owner team (DG_SCAN_DRIFT), and every one without a create record in
the audit trail, made around the gateway (DG_SCAN_UNAUDITED).
The config (--config, else $DOCKGATE_CONFIG, else /etc/dockgate/dockgate.yaml)
names the daemon socket, the policy and the audit trail (audit.file, its
rotated files and the workers' files); --audit names the trail's files instead.
--label scans only the objects with that label (repeatable: all of them).
Exit codes: 0 nothing found, 1 findings, 2 error (nothing is reported as clean).
`

/** How long after a container the daemon may make the volumes it mounts. */
const WITH_CONTAINER_MS = 10_000

/** One finding about one object. */
export interface Finding {
  readonly code: 'DG_SCAN_DRIFT' | 'DG_SCAN_UNAUDITED'
  readonly message: string
  /** For drift: the refusal code the gateway would answer, and the deciding rule as FILE:LINE. */
  readonly refusal?: string
  readonly rule?: string | null
}

/** An object with what was found about it. */
export interface ScanRow {
  readonly kind: string
  readonly id: string
  readonly name: string
  readonly owner: string | null
  readonly ownerFrom: 'label' | 'trail' | null
  readonly createRecord: CreateRecord | null
  readonly findings: readonly Finding[]
}

/** Runs `dockgate scan` with the arguments after `scan`; resolves with the exit code. */
export async function runScanCommand (argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, json: { type: 'boolean' }, audit: { type: 'string', multiple: true }, label: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } } }).values
  } catch (err) {
    process.stderr.write(`dockgate: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(USAGE)
    return 0
  }
  try {
    const result = await scan(values.config ?? process.env.DOCKGATE_CONFIG ?? '/etc/dockgate/dockgate.yaml', values.audit ?? [], values.label ?? [])
    const found = result.rows.filter((row) => row.findings.length > 0)
    process.stdout.write(values.json === true ? `${JSON.stringify({ clean: found.length === 0, ...result.summary, objects: found }, null, 2)}\n` : table(found, result.summary))
    return found.length > 0 ? 1 : 0
  } catch (err) {
    process.stderr.write(`dockgate: DG_SCAN_FAILED ${(err as Error).message}\n`)
    return 2
  }
}

interface Summary {
  readonly daemon: string
  readonly scanned: { containers: number; volumes: number; networks: number }
  readonly trail: { files: readonly string[]; records: number }
}

async function scan (configFile: string, audit: readonly string[], labels: readonly string[]): Promise<{ rows: ScanRow[]; summary: Summary }> {
  const loaded = await loadConfigFile(configFile)
  if (!loaded.ok) throw new Error(`the config cannot be used:\n${loaded.diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`)
  const config = loaded.value
  const text = await readFile(config.policyFile, 'utf8').catch((err: Error) => { throw new Error(`cannot read the policy ${config.policyFile}: ${err.message}`) })
  const policy = loadPolicy({ file: config.policyFile, text })
  if (!policy.ok) throw new Error(`the policy cannot be loaded:\n${policy.diagnostics.map((d) => formatDiagnostic(d)).join('\n')}`)
  const files = audit.length > 0 ? [...audit] : await trailFiles(config.audit.file).catch((err: Error) => { throw new Error(`cannot list the audit trail's folder: ${err.message}`) })
  if (files.length === 0) throw new Error(`no audit file at ${config.audit.file}: without the trail nothing can be shown to be made through the gateway`)
  const socket = config.upstream.socketPath
  const objects = await readDaemon(socket, labels)
  const trail = await readCreates(files, new Set(objects.map((o) => createKey(`${o.kind}s`, o.id))))
  if ('problem' in trail) throw new Error(trail.problem)
  const rows = await judge(objects, trail.creates, policy.value, socket)
  const count = (kind: string): number => objects.filter((o) => o.kind === kind).length
  return { rows, summary: { daemon: `unix://${socket}`, scanned: { containers: count('container'), volumes: count('volume'), networks: count('network') }, trail: { files, records: trail.records } } }
}

async function judge (objects: readonly ScannedObject[], creates: ReadonlyMap<string, CreateRecord>, policy: Policy, socket: string): Promise<ScanRow[]> {
  const recorded = (o: ScannedObject): CreateRecord | null => creates.get(createKey(`${o.kind}s`, o.id)) ?? null
  const quota = quotaFindings(objects, policy)
  const rows: ScanRow[] = []
  for (const object of objects) {
    const direct = recorded(object)
    const via = direct ?? (object.kind === 'volume' ? madeWith(object, objects, recorded) : null)
    const owner = object.owner ?? via?.team ?? null
    const judged = judgeExisting(policy, owner, object.kind, object.body)
    const drifts: Drift[] = [...judged.drifts]
    for (const ref of judged.unresolved) {
      const found = owner === null ? null : imageDrift(policy, owner, ref, await imageReferences(socket, ref))
      if (found !== null) drifts.push(found)
    }
    const overQuota = quota.get(object.id)
    if (overQuota !== undefined) drifts.push(overQuota)
    const findings: Finding[] = drifts.map((d) => ({ code: 'DG_SCAN_DRIFT', message: d.message, refusal: d.code, rule: d.rule === null ? null : `${d.rule.file}:${d.rule.line}` }))
    if (via === null) findings.push({ code: 'DG_SCAN_UNAUDITED', message: 'no ResponseComplete create record in the trail: created around the gateway' })
    rows.push({ kind: object.kind, id: object.id, name: object.name, owner, ownerFrom: object.owner !== null ? 'label' : owner !== null ? 'trail' : null, createRecord: via, findings })
  }
  return rows
}

// A volume without its own create record that the daemon made for a container created through the gateway.
function madeWith (volume: ScannedObject, objects: readonly ScannedObject[], recorded: (o: ScannedObject) => CreateRecord | null): CreateRecord | null {
  for (const c of objects) {
    if (c.kind !== 'container' || !c.volumes.includes(volume.id)) continue
    const record = recorded(c)
    if (record !== null && c.created !== null && volume.created !== null && Math.abs(volume.created - c.created) <= WITH_CONTAINER_MS) return record
  }
  return null
}

function quotaFindings (objects: readonly ScannedObject[], policy: Policy): Map<string, Drift> {
  const byTeam = new Map<string, Array<{ id: string; created: number; memory: number }>>()
  for (const o of objects) {
    if (o.kind !== 'container' || o.owner === null) continue
    byTeam.set(o.owner, [...(byTeam.get(o.owner) ?? []), { id: o.id, created: o.created ?? 0, memory: o.memory }])
  }
  const found = new Map<string, Drift>()
  for (const [team, containers] of byTeam) for (const [id, drift] of quotaDrifts(policy, team, containers)) found.set(id, drift)
  return found
}

function table (rows: readonly ScanRow[], summary: Summary): string {
  const lines = rows.flatMap((row) => row.findings.map((f) => [row.kind, row.kind === 'volume' ? row.id : row.id.slice(0, 12), row.name, row.owner ?? '-', f.code, f.message]))
  const all = [['KIND', 'ID', 'NAME', 'OWNER', 'FINDING', 'WHY'], ...lines]
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...all.map((line) => (line[i] ?? '').length)))
  const body = lines.length === 0 ? 'nothing found: every object is within policy and was created through the gateway\n' : all.map((line) => line.map((cell, i) => (i < 5 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')).join('\n') + '\n'
  const s = summary.scanned
  const drift = rows.filter((r) => r.findings.some((f) => f.code === 'DG_SCAN_DRIFT')).length
  const around = rows.filter((r) => r.findings.some((f) => f.code === 'DG_SCAN_UNAUDITED')).length
  return body + `dockgate scan: ${s.containers} container(s), ${s.volumes} volume(s), ${s.networks} network(s) on ${summary.daemon}; ` +
    `trail: ${summary.trail.files.length} file(s), ${summary.trail.records} record(s); ${drift} out of policy, ${around} created around the gateway\n`
}
