/**
 * Everything that can put a host path (or an image) into a container:
 * `Binds` strings, `Mounts` entries, and volume driver options (for
 * `Mounts` of type volume and for POST /volumes/create).
 *
 * - A `Binds` entry `SRC:DST[:OPTS]` is a bind mount when SRC is absolute
 *   (dockerd's Linux parser: path.IsAbs), otherwise a named volume.
 * - A `Mounts` entry of type `bind` binds `Source`; `volume` is judged by its
 *   driver options and `VolumeOptions.Subpath` (API 1.45); `image` (API
 *   1.48) mounts the image `Source` names, judged like a container's image
 *   by `images`, and reaches no host path; `tmpfs` is harmless; any other
 *   type (`cluster`, `npipe`, anything unknown) cannot be judged.
 * - A subpath (`VolumeOptions.Subpath`, `ImageOptions.Subpath`) must be local
 *   as Go's filepath.IsLocal says (relative, no `..` leaving it), as newer
 *   daemons require; anything else is refused as invalid, since older
 *   daemons ignore the field and newer ones refuse it. The daemon opens a
 *   local subpath with symlinks resolved inside the volume (safepath), so a
 *   subpath of a named volume reaches only that volume; for a local volume
 *   that binds a host path, both the device (the volume created binds it,
 *   and can be mounted whole by name later) and the device joined with the
 *   subpath (what this mount binds) are judged.
 * - The local volume driver mounts `device` with options `o` and filesystem
 *   `type`. With `bind`/`rbind` in `o` it is a bind mount of `device`
 *   (judged like any bind); `type=tmpfs` is harmless; any other mount
 *   (block devices, overlay with host lowerdirs, NFS) cannot be judged.
 * - Any other volume driver cannot be judged, with or without options (a
 *   plugin such as local-persist binds whatever host path it is told or
 *   defaults to).
 * All bind sources are cleaned like Go's path.Clean before matching; a
 * relative one (never a bind in `Binds`) cannot be judged. Mount types are
 * compared without case (the daemon compares them exactly, so this only
 * judges more).
 */
import type { FactList, ImageUse } from './facts.js'
import { FieldFault, type StructView } from './fields.js'
import { cleanPath } from './host-paths.js'

/** The local driver's name, and what an empty driver name means. */
const LOCAL_DRIVER = 'local'

/** Reads `Binds` strings; named volumes get no driver options here, so only host paths matter. */
export function readBinds (binds: readonly string[], field: string, facts: FactList): void {
  binds.forEach((bind, i) => {
    const parts = bind.split(':')
    const source = parts[0] ?? ''
    if (parts.length >= 2 && source.startsWith('/')) facts.bind(source, `${field}[${i}]`)
  })
}

/**
 * Reads `Mounts` entries (mount.Mount). `imageUse` says how an image mount's
 * image is used: `run` for a container, `service` for a service's tasks.
 */
export function readMounts (mounts: readonly StructView[], field: string, volumeDriver: string, facts: FactList, imageUse: ImageUse = 'run'): void {
  mounts.forEach((mount, i) => {
    const where = `${field}[${i}]`
    const type = mount.string('Type')
    switch (type.toLowerCase()) {
      case 'bind':
        facts.bind(mount.string('Source'), `${where}.Source`)
        break
      case 'volume':
        readMountVolumeOptions(mount, where, volumeDriver, facts)
        break
      case 'image':
        localSubpath(mount.struct('ImageOptions')?.string('Subpath') ?? '', `${where}.ImageOptions.Subpath`)
        facts.image(mount.string('Source'), imageUse, `${where}.Source`)
        break
      case 'tmpfs':
        break
      default:
        facts.opaque(`${where}.Type`, `use a mount of type ${JSON.stringify(type)} (${where}), which dockgate cannot judge`)
    }
  })
}

// A mount's driver is its own, else the container's VolumeDriver (already
// judged by the caller), else local.
function readMountVolumeOptions (mount: StructView, where: string, volumeDriver: string, facts: FactList): void {
  const options = mount.struct('VolumeOptions')
  const subpath = localSubpath(options?.string('Subpath') ?? '', `${where}.VolumeOptions.Subpath`)
  const config = options?.struct('DriverConfig') ?? null
  if (config === null) return
  const driver = config.string('Name') === '' ? volumeDriver : config.string('Name')
  readVolumeDriverOptions(driver, config.stringMap('Options'), `${where}.VolumeOptions.DriverConfig`, facts, subpath)
}

/**
 * A subpath as Go's filepath.IsLocal accepts it (not absolute, not empty, not
 * leaving its base by `..` once cleaned), returned cleaned; '' stays ''
 * (no subpath). Anything else is refused as invalid.
 */
export function localSubpath (subpath: string, field: string): string {
  if (subpath === '') return ''
  const clean = cleanPath(subpath)
  if (subpath.startsWith('/') || clean === '..' || clean.startsWith('../')) {
    throw new FieldFault({ kind: 'invalid', message: `request body field ${field} must be a relative path inside the mount, not ${JSON.stringify(subpath)}` })
  }
  return clean
}

/** True for the local volume driver ('' means the default, which is local). */
export function isLocalDriver (driver: string): boolean {
  return driver === '' || driver === LOCAL_DRIVER
}

/**
 * Judges a volume driver and its options (`driver` '' means the local
 * driver). `where` names the object holding them, for messages; `subpath`
 * (local, cleaned, '' for none) is the part of the volume mounted.
 */
export function readVolumeDriverOptions (driver: string, options: ReadonlyMap<string, string>, where: string, facts: FactList, subpath = ''): void {
  if (!isLocalDriver(driver)) {
    facts.opaque(where, `use volume driver ${JSON.stringify(driver)} (${where}), which dockgate cannot judge`)
    return
  }
  if (options.size === 0) return
  const type = options.get('type') ?? ''
  const device = options.get('device') ?? ''
  const mountOptions = (options.get('o') ?? '').split(',')
  if (mountOptions.includes('bind') || mountOptions.includes('rbind')) {
    // The volume created binds `device` (and can be mounted whole by name later); this mount binds the subpath of it.
    facts.bind(device, `${where} device`)
    if (subpath !== '' && subpath !== '.' && device !== '') facts.bind(`${device}/${subpath}`, `${where} device and VolumeOptions.Subpath`)
    return
  }
  if (type === '' && device === '') return
  if (type === 'tmpfs') return
  facts.opaque(where, `create a local volume that mounts ${JSON.stringify(device)} (type ${JSON.stringify(type)}) on the host; only tmpfs and bind volumes can be judged`)
}
