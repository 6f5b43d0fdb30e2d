/**
 * The contract between a cluster primary and its workers: the files that
 * differ per worker, the environment and the IPC messages. Each worker
 * writes its own audit file, so each file has exactly one writer and its
 * hash chain can be verified on its own; no record ever crosses a process
 * boundary to be written.
 */
import type { Readiness } from './admin-server.js'

/** Environment the primary gives each worker. */
export const WORKER_ENV = {
  slot: 'DOCKGATE_WORKER_SLOT',
  auditFile: 'DOCKGATE_WORKER_AUDIT_FILE',
  listenFd: 'DOCKGATE_WORKER_LISTEN_FD'
} as const

/** Primary to worker. */
export type ToWorker =
  | { readonly type: 'dockgate:reload' }
  | { readonly type: 'dockgate:shutdown'; readonly force: boolean }
  | { readonly type: 'dockgate:readiness'; readonly id: number }

/** Worker to primary. */
export type FromWorker =
  | { readonly type: 'dockgate:listening'; readonly address: string; readonly auditFile: string }
  | { readonly type: 'dockgate:failed'; readonly message: string }
  | { readonly type: 'dockgate:readiness'; readonly id: number; readonly readiness: Readiness }

/** Narrows an IPC message to one of ours (prom-client shares the channel). */
export function isOurs<T extends { type: string }> (message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { type?: unknown }).type === 'string' &&
    (message as { type: string }).type.startsWith('dockgate:')
}
