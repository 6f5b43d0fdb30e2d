import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that mostly wait on the wall clock: `npm run test:long` (vitest.long.config.ts);
    // faults and hostile clients with thresholds: `npm run test:faults` (vitest.faults.config.ts).
    exclude: [...configDefaults.exclude, 'test/long/**', 'test/faults/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Tests wait on the daemon and the network as much as on the CPU.
    maxWorkers: 4,
    reporters: ['default']
  }
})
