import { defineConfig } from 'vitest/config'

// `npm run test:long`: tests that mostly wait on the wall clock (an idle
// stream held for 320 s, certificates and CRLs expiring in real time, a
// handshake timeout waited out). They need next to no CPU, so every file
// runs at once and the run takes about as long as the longest (~6 min).
export default defineConfig({
  test: {
    include: ['test/long/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 8,
    reporters: ['default']
  }
})
