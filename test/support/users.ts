/**
 * Users and groups for the permission tests. Root bypasses file and
 * socket permissions, so a root test run checks them by running dockgate
 * as `nobody`; a non-root run takes permissions away instead.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** The unprivileged user a root test run starts dockgate as. */
export const NOBODY = { uid: 65534, gid: 65534 } as const

/** True when the tests run as root. */
export function runsAsRoot (): boolean {
  return process.getuid?.() === 0
}

/** The `docker` group if this host has one (as on a Docker host), else root's group. */
export function dockerGroup (): { readonly name: string; readonly gid: number } {
  for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
    const [name, , gid] = line.split(':')
    if (name === 'docker' && gid !== undefined) return { name, gid: Number(gid) }
  }
  return { name: 'root', gid: 0 }
}

/** `chown -R uid:gid dir`. */
export function chownTree (dir: string, uid: number, gid: number): void {
  execFileSync('chown', ['-R', `${uid}:${gid}`, dir])
}
