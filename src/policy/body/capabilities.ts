/**
 * Linux capability names as dockerd reads them. The daemon upper-cases a
 * requested capability with Go's strings.ToUpper and adds the `CAP_` prefix
 * when missing, so `sys_admin`, `CAP_SYS_ADMIN` and `ſyſ_admin` are the same
 * capability. dockgate normalises the same way (without the prefix) before
 * comparing with a team's `capAdd`.
 */

/** Every capability dockerd knows (linux/capability.h up to CAP_CHECKPOINT_RESTORE), without `CAP_`. */
export const CAPABILITIES: ReadonlySet<string> = new Set([
  'CHOWN', 'DAC_OVERRIDE', 'DAC_READ_SEARCH', 'FOWNER', 'FSETID', 'KILL', 'SETGID', 'SETUID', 'SETPCAP',
  'LINUX_IMMUTABLE', 'NET_BIND_SERVICE', 'NET_BROADCAST', 'NET_ADMIN', 'NET_RAW', 'IPC_LOCK', 'IPC_OWNER',
  'SYS_MODULE', 'SYS_RAWIO', 'SYS_CHROOT', 'SYS_PTRACE', 'SYS_PACCT', 'SYS_ADMIN', 'SYS_BOOT', 'SYS_NICE',
  'SYS_RESOURCE', 'SYS_TIME', 'SYS_TTY_CONFIG', 'MKNOD', 'LEASE', 'AUDIT_WRITE', 'AUDIT_CONTROL', 'SETFCAP',
  'MAC_OVERRIDE', 'MAC_ADMIN', 'SYSLOG', 'WAKE_ALARM', 'BLOCK_SUSPEND', 'AUDIT_READ', 'PERFMON', 'BPF',
  'CHECKPOINT_RESTORE'
])

/**
 * The capabilities every container gets by default; a legacy
 * `Capabilities` list (which replaces the default set) may name these
 * without `capAdd`.
 */
export const DEFAULT_CAPABILITIES: ReadonlySet<string> = new Set([
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'
])

/** The name meaning every capability; allowed only where listed explicitly. */
export const ALL_CAPABILITIES = 'ALL'

/**
 * Normalises a capability name as dockerd does: Go's ToUpper (which also
 * maps U+017F to S and U+0131 to I), then without a `CAP_` prefix.
 */
export function normalizeCapability (name: string): string {
  let upper = ''
  for (const ch of name) {
    if (ch === '\u017f') upper += 'S'
    else if (ch === '\u0131') upper += 'I'
    else if (ch >= 'a' && ch <= 'z') upper += ch.toUpperCase()
    else upper += ch
  }
  return upper.startsWith('CAP_') ? upper.slice(4) : upper
}
