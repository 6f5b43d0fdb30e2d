/**
 * `dockgate certs init` and `dockgate certs issue` for setting a test up,
 * run in this process: the same command code as the built CLI (argument
 * parsing included, src/cli/certs.ts) writing the same files, without
 * starting a Node process for each call. Each such process costs about a
 * second of CPU to load the CLI, and the suite's setups made about a
 * hundred of them. Tests about what the CLI prints or how it exits still
 * run dist/main.js, and so do the actions tests take on a running gateway
 * (`certsCli` in live.ts).
 */
import { vi } from 'vitest'
import { runCertsCommand } from '../../src/cli/certs.js'

let queue: Promise<unknown> = Promise.resolve()

/** Runs `dockgate certs ARGS --dir DIR`; resolves with what it printed, rejects on a non-zero exit. */
export async function runCerts (dir: string, ...args: string[]): Promise<string> {
  // One at a time: standard output is borrowed while a command runs.
  const turn = queue.then(async () => await capture(async () => await runCertsCommand([...args, '--dir', dir])))
  queue = turn.catch(() => {})
  const { code, out, err } = await turn
  if (code !== 0) throw new Error(`dockgate certs ${args.join(' ')} exited ${code}: ${err}`)
  return out
}

async function capture (run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  const text = (spy: typeof stdout): string => spy.mock.calls.map(([chunk]) => String(chunk)).join('')
  try {
    const code = await run()
    return { code, out: text(stdout), err: text(stderr) }
  } finally {
    stdout.mockRestore()
    stderr.mockRestore()
  }
}
