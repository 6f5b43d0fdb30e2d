/**
 * Where images enter a request, and the resource limits it sets, read into
 * facts (see docs/body-rules.md, "Images and resources").
 *
 * Images by body: a container create body's `Image` (Config is embedded at
 * the top level), a service spec's `TaskTemplate.ContainerSpec.Image`.
 * Images by query, read as dockerd's handlers read them (Go's
 * `r.Form.Get`: the first value of the exact, case-sensitive name):
 * `POST /images/create` (a pull of `fromImage` with `tag`, or an import
 * from `fromSrc` when `fromImage` is empty), `POST /images/{name}/tag`
 * (`repo`, `tag`, and the source `name`), `POST /commit` (`repo`, `tag`).
 * `POST /images/load` and `POST /build` cannot be judged by name.
 *
 * Resources: a create body's Memory, NanoCpus or CpuQuota/CpuPeriod and
 * PidsLimit, taken from the HostConfig dockerd 20.10 uses
 * (ContainerConfigWrapper.getHostConfig: the `HostConfig` object when
 * present, borrowing a top-level Memory when its own is 0; else the
 * top-level fields); an update body's same fields, which change only what
 * they set; a service spec's TaskTemplate.Resources.Limits.
 */
import { formMediaType } from '../../shared/media-type.js'
import { parseQuery } from './build.js'
import type { FactList } from './facts.js'
import { FieldFault, type StructView } from './fields.js'

const DEFAULT_CPU_PERIOD = 100000
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/

/** The first value of `name` (exact case), as Go's `r.Form.Get`; '' when absent. */
function formGet (pairs: ReadonlyArray<[string, string]>, name: string): string {
  return pairs.find(([key]) => key === name)?.[1] ?? ''
}

/**
 * The query of an image endpoint. A form-encoded body is refused: Go's
 * ParseForm would read parameters from it (ahead of the query's), which
 * dockgate does not see.
 */
function readForm (query: string, contentTypes: readonly string[], endpoint: string): Array<[string, string]> {
  const form = formMediaType(contentTypes)
  if (form !== null) {
    throw new FieldFault({ kind: 'media-type', message: `${endpoint} must not send a ${form} body: the daemon would read its parameters from it` })
  }
  return parseQuery(query)
}

/** The name part of a reference as written (no tag, no digest). */
function trimNamed (text: string): string {
  const at = text.indexOf('@')
  const name = at === -1 ? text : text.slice(0, at)
  const colon = name.indexOf(':', name.lastIndexOf('/') + 1)
  return colon === -1 ? name : name.slice(0, colon)
}

/** True iff a reference as written has a tag or a digest. */
function hasTagOrDigest (text: string): boolean {
  return trimNamed(text) !== text
}

/** `POST /images/create`: a pull (daemon PullImage) or an import. */
export function readImageCreate (query: string, contentTypes: readonly string[], facts: FactList): void {
  const form = readForm(query, contentTypes, 'POST /images/create')
  const fromImage = formGet(form, 'fromImage')
  const tag = formGet(form, 'tag')
  if (fromImage === '') {
    facts.unjudgedImage('fromSrc', 'import an image (docker import): an imported image cannot be judged by name, its content is whatever the tarball holds')
    return
  }
  // `docker pull -a` may send a trailing ':'; a tag parameter that is a digest pulls that digest.
  const image = fromImage.endsWith(':') ? fromImage.slice(0, -1) : fromImage
  if (tag === '') {
    facts.image(image, 'pull', 'fromImage', !hasTagOrDigest(image))
    return
  }
  if (DIGEST.test(tag)) {
    facts.image(`${trimNamed(image)}@${tag}`, 'pull', 'fromImage and tag')
    return
  }
  const at = image.indexOf('@')
  facts.image(`${trimNamed(image)}:${tag}${at === -1 ? '' : image.slice(at)}`, 'pull', 'fromImage and tag')
}

/** `POST /images/{name}/tag`: the source (which may be an id) and the new name. */
export function readImageTag (source: string, query: string, contentTypes: readonly string[], facts: FactList): void {
  const form = readForm(query, contentTypes, 'POST /images/{name}/tag')
  facts.image(source, 'source', 'the image to tag')
  readNewName(formGet(form, 'repo'), formGet(form, 'tag'), facts)
}

/** `POST /commit`: the new name, if any (an unnamed commit can only be run by id, which is resolved then). */
export function readCommit (query: string, contentTypes: readonly string[], facts: FactList): void {
  const form = readForm(query, contentTypes, 'POST /commit')
  const repo = formGet(form, 'repo')
  if (repo !== '') readNewName(repo, formGet(form, 'tag'), facts)
}

/** A name the daemon writes: `repo` with `tag` replacing its own (reference.WithTag(TrimNamed(repo), tag)), else `repo` as written. */
function readNewName (repo: string, tag: string, facts: FactList): void {
  facts.image(tag === '' ? repo : `${trimNamed(repo)}:${tag}`, 'name', tag === '' ? 'repo' : 'repo and tag')
}

/**
 * The image of a container create body. With no image at all dockerd
 * creates a container with an empty root file system (given a command),
 * which runs whatever its mounts bring: not an image a name can judge.
 */
export function readCreateImage (body: StructView, facts: FactList): void {
  const image = body.string('Image')
  if (image !== '') facts.image(image, 'run', 'Image')
  else facts.unjudgedImage('Image', 'create a container without an image (Image is empty): its programs would come from its mounts, not from an allowed image')
}

/**
 * The limits of a create body (and of an old-API start body that carries a
 * HostConfig, which replaces the container's): absent limits are facts too.
 */
export function readCreateLimits (body: StructView, facts: FactList): void {
  const inner = body.struct('HostConfig')
  const host = inner ?? body
  const memory = inner === null ? body.int('Memory') : (inner.int('Memory') ?? 0) !== 0 ? inner.int('Memory') : body.int('Memory')
  const memoryField = inner !== null && (inner.int('Memory') ?? 0) !== 0 ? 'HostConfig.Memory' : 'Memory'
  facts.resource({ setting: 'memory', value: positive(memory), asked: '' }, memoryField)
  const nano = positive(host.int('NanoCpus'))
  const quota = positive(host.int('CpuQuota'))
  const period = positive(host.int('CpuPeriod')) ?? DEFAULT_CPU_PERIOD
  const fromQuota = quota === null ? null : Math.ceil(quota * 1e9 / period)
  // dockerd refuses both at once; the larger is judged.
  const cpus = nano === null ? fromQuota : fromQuota === null ? nano : Math.max(nano, fromQuota)
  facts.resource({ setting: 'cpus', value: cpus, asked: '' }, at(host, nano !== null ? 'NanoCpus' : 'CpuQuota'))
  facts.resource({ setting: 'pids', value: positive(host.int('PidsLimit')), asked: '' }, at(host, 'PidsLimit'))
}

/**
 * The limits an update body changes. dockerd's update applies Memory,
 * NanoCpus, CpuQuota and CpuPeriod only when non-zero, PidsLimit when
 * present; -1 (and, for PidsLimit, 0) removes the limit. A quota without
 * a period (or the reverse) depends on the container's current other half.
 */
export function readUpdateLimits (body: StructView, facts: FactList): void {
  const memory = body.int('Memory') ?? 0
  if (memory > 0) facts.resource({ setting: 'memory', value: memory, asked: String(memory) }, 'Memory')
  else if (memory < 0) facts.resource({ setting: 'memory', value: null, asked: `Memory=${memory}` }, 'Memory')
  const nano = body.int('NanoCpus') ?? 0
  const quota = body.int('CpuQuota') ?? 0
  const period = body.int('CpuPeriod') ?? 0
  if (nano > 0) facts.resource({ setting: 'cpus', value: nano, asked: String(nano) }, 'NanoCpus')
  if (quota < 0) facts.resource({ setting: 'cpus', value: null, asked: `CpuQuota=${quota}` }, 'CpuQuota')
  else if (quota > 0 && period > 0) facts.resource({ setting: 'cpus', value: Math.ceil(quota * 1e9 / period), asked: `CpuQuota=${quota}/CpuPeriod=${period}` }, 'CpuQuota')
  else if (quota > 0) facts.resource({ setting: 'cpus', value: null, asked: '', unknown: 'set CpuQuota without CpuPeriod in an update: the container\'s current period is unknown, so the CPUs it gives cannot be judged' }, 'CpuQuota')
  else if (period > 0) facts.resource({ setting: 'cpus', value: null, asked: '', unknown: 'set CpuPeriod without CpuQuota in an update: the container\'s current quota is unknown, so the CPUs it gives cannot be judged' }, 'CpuPeriod')
  const pids = body.int('PidsLimit')
  if (pids !== null) facts.resource({ setting: 'pids', value: positive(pids), asked: `PidsLimit=${pids}` }, 'PidsLimit')
}

/** A service spec's image and limits (a service create or update sends the whole spec). */
export function readServiceImageAndLimits (task: StructView, facts: FactList): void {
  const image = task.struct('ContainerSpec')?.string('Image') ?? ''
  if (image !== '') facts.image(image, 'service', 'TaskTemplate.ContainerSpec.Image')
  const limits = task.struct('Resources')?.struct('Limits') ?? null
  const where = 'TaskTemplate.Resources.Limits'
  facts.resource({ setting: 'memory', value: positive(limits?.int('MemoryBytes') ?? null), asked: '' }, `${where}.MemoryBytes`)
  facts.resource({ setting: 'cpus', value: positive(limits?.int('NanoCPUs') ?? null), asked: '' }, `${where}.NanoCPUs`)
  facts.resource({ setting: 'pids', value: positive(limits?.int('Pids') ?? null), asked: '' }, `${where}.Pids`)
}

function positive (value: number | null): number | null {
  return value !== null && value > 0 ? value : null
}

function at (host: StructView, field: string): string {
  return host.where === '' ? field : `${host.where}.${field}`
}
