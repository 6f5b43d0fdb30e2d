/**
 * systemd socket activation: with `dockgate.socket` enabled, systemd
 * listens on 2376 itself and passes the listening socket as fd 3
 * (LISTEN_FDS=1, LISTEN_PID=our pid). Connections that arrive while
 * dockgate restarts wait in the kernel's backlog instead of being refused.
 */

/** The first passed descriptor, as sd_listen_fds(3) defines it. */
export const SD_LISTEN_FDS_START = 3

/**
 * The inherited listening descriptor, null when none was passed to this
 * process, or a message when the environment is not usable. Only a
 * LISTEN_PID equal to `pid` counts: the variables may have leaked from a
 * parent that was activated itself.
 */
export function inheritedListenFd (env: NodeJS.ProcessEnv, pid: number): number | null | { readonly error: string } {
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return null
  const count = Number(env.LISTEN_FDS ?? '0')
  if (!Number.isInteger(count) || count < 1) return null
  if (count > 1) {
    return { error: `systemd passed ${count} sockets (LISTEN_FDS=${count}); dockgate takes exactly one, the TLS port: give dockgate.socket a single ListenStream=` }
  }
  return SD_LISTEN_FDS_START
}

/** Removes the activation variables so no child process takes them for its own. */
export function forgetActivation (env: NodeJS.ProcessEnv): void {
  delete env.LISTEN_PID
  delete env.LISTEN_FDS
  delete env.LISTEN_FDNAMES
}
