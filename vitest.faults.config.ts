import { defineConfig } from 'vitest/config'

// `npm run test:faults`: named faults and hostile clients against the real
// daemon (test/faults/), each with a threshold it asserts and a figure it
// prints (`fault: ...` lines; also JSON lines in $DOCKGATE_FAULT_FIGURES).
// One file at a time: their thresholds are times and resource counts, and
// two cases sharing the two CPUs would measure each other.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default']
  }
})
