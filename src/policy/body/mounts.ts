/**
 * Everything that can put a host path into a container: `Binds` strings,
 * `Mounts` entries, and volume driver options (for `Mounts` of type volume
 * and for POST /volumes/create).
 *
 * - A `Binds` entry `SRC:DST[:OPTS]` is a bind mount when SRC is absolute
 *   (dockerd's Linux parser: path.IsAbs), otherwise a named volume.
 * - A `Mounts` entry of type `bind` binds `Source`; `volume` is judged by its
 *   driver options; `tmpfs` is harmless; any other type cannot be judged.
 * - The local volume driver mounts `device` with options `o` and filesystem
 *   `type`. With `bind`/`rbind` in `o` it is a bind mount of `device`
 *   (judged like any bind); `type=tmpfs` is harmless; any other mount
 *   (block devices, overlay with host lowerdirs, NFS) cannot be judged.
 * - Any other volume driver cannot be judged, with or without options (a
 *   plugin such as local-persist binds whatever host path it is told or
 *   defaults to).
 * All bind sources are cleaned like Go's path.Clean before matching; a
 * relative one (never a bind in `Binds`) cannot be judged.
 */
import type { FactList } from './facts.js'
import type { StructView } from './fields.js'

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

/** Reads `Mounts` entries (mount.Mount). */
export function readMounts (mounts: readonly StructView[], field: string, volumeDriver: string, facts: FactList): void {
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
  const config = mount.struct('VolumeOptions')?.struct('DriverConfig') ?? null
  if (config === null) return
  const driver = config.string('Name') === '' ? volumeDriver : config.string('Name')
  readVolumeDriverOptions(driver, config.stringMap('Options'), `${where}.VolumeOptions.DriverConfig`, facts)
}

/** True for the local volume driver ('' means the default, which is local). */
export function isLocalDriver (driver: string): boolean {
  return driver === '' || driver === LOCAL_DRIVER
}

/**
 * Judges a volume driver and its options (`driver` '' means the local
 * driver). `where` names the object holding them, for messages.
 */
export function readVolumeDriverOptions (driver: string, options: ReadonlyMap<string, string>, where: string, facts: FactList): void {
  if (!isLocalDriver(driver)) {
    facts.opaque(where, `use volume driver ${JSON.stringify(driver)} (${where}), which dockgate cannot judge`)
    return
  }
  if (options.size === 0) return
  const type = options.get('type') ?? ''
  const device = options.get('device') ?? ''
  const mountOptions = (options.get('o') ?? '').split(',')
  if (mountOptions.includes('bind') || mountOptions.includes('rbind')) {
    facts.bind(device, `${where} device`)
    return
  }
  if (type === '' && device === '') return
  if (type === 'tmpfs') return
  facts.opaque(where, `create a local volume that mounts ${JSON.stringify(device)} (type ${JSON.stringify(type)}) on the host; only tmpfs and bind volumes can be judged`)
}
