/**
 * Looks up user and group names for `sockets[].owner` and `.group`, the
 * way `chown` does: a number is taken as it is, a name is found in
 * /etc/passwd or /etc/group. Node has no getpwnam(); these two files are
 * where every system dockgate targets (Debian, Alpine, distroless with a
 * passwd file) keeps local accounts. Names served only by NSS modules
 * (LDAP, sssd) are not found: give their number instead.
 */
import { readFileSync } from 'node:fs'

/** Which database a name is looked up in. */
export type AccountKind = 'user' | 'group'

const FILES: Readonly<Record<AccountKind, string>> = { user: '/etc/passwd', group: '/etc/group' }

/**
 * The id of `nameOrId` (a whole number is an id already), or a sentence
 * saying why there is none, for a person.
 */
export function accountId (kind: AccountKind, nameOrId: string | number, files: Readonly<Record<AccountKind, string>> = FILES): number | string {
  if (typeof nameOrId === 'number') return Number.isInteger(nameOrId) && nameOrId >= 0 ? nameOrId : `${nameOrId} is not a ${kind} id (a whole number of at least 0)`
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId)
  let text: string
  try {
    text = readFileSync(files[kind], 'utf8')
  } catch (err) {
    return `cannot look up ${kind} ${JSON.stringify(nameOrId)}: ${files[kind]} is not readable (${(err as NodeJS.ErrnoException).code ?? String(err)}); give its number instead`
  }
  for (const line of text.split('\n')) {
    const fields = line.split(':')
    if (fields[0] === nameOrId && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2])
  }
  return `no ${kind} named ${JSON.stringify(nameOrId)} in ${files[kind]}; create it, or give its number`
}
