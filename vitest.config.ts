import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests wait on the daemon and the network, not the CPU; the 320 s idle
    // stream test must run beside the others, not before or after them.
    maxWorkers: 4,
    reporters: ['default']
  }
})
