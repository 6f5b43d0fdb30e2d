/**
 * Startup failures in words an operator can act on: which address, what
 * the OS said, and the likely cause. Every message is printed as
 * `dockgate: not started: CODE ...` by the CLI.
 */
import { userInfo } from 'node:os'
import { AuditFileInUse } from '../audit/lock.js'

/** Why listening on `what` (the TLS port, the admin address) failed, and what to do. */
export function listenFailure (what: string, address: string, err: NodeJS.ErrnoException): string {
  const reason = LISTEN_REASONS[err.code ?? ''] ?? err.message
  return `DG_LISTEN_FAILED cannot listen on ${address} (${what}): ${reason}`
}

const LISTEN_REASONS: Readonly<Record<string, string>> = {
  EADDRINUSE: 'the address is already in use; `ss -ltnp` shows which process holds it (another dockgate, or dockerd started with -H tcp://...?)',
  EACCES: 'permission denied: ports below 1024 need CAP_NET_BIND_SERVICE, and a Unix socket needs a writable folder',
  EADDRNOTAVAIL: 'no network interface of this host has that address',
  ENOENT: 'the folder for the Unix socket does not exist',
  EBADF: 'the inherited socket (LISTEN_FDS) is not open'
}

/** Why the audit file could not be opened, with who dockgate runs as. */
export function auditOpenFailure (file: string, err: unknown): string {
  if (err instanceof AuditFileInUse) return `DG_AUDIT_IN_USE ${err.message}`
  const e = err as NodeJS.ErrnoException
  const who = ((): string => { try { return userInfo().username } catch { return `uid ${process.getuid?.() ?? '?'}` } })()
  const hint = e.code === 'EACCES' || e.code === 'EROFS' || e.code === 'EPERM'
    ? `; dockgate runs as ${who}: give it write access to that folder (the shipped systemd unit lists it in ReadWritePaths, the compose file mounts a volume there)`
    : ''
  const reason = e.code !== undefined && !e.message.startsWith(e.code) ? `${e.code}: ${e.message}` : e.message
  return `DG_FILE_UNREADABLE cannot open audit file ${file}: ${reason}${hint}`
}
