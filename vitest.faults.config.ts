import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): kills, outages and restarts against real processes
 * and servers. Separate from `npm test` because it is slow by nature (a 30 s database outage)
 * and starts its own worker processes.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Three at a time: the tests mostly wait (outages, recovery timers), not compute.
    poolOptions: { forks: { minForks: 1, maxForks: 3 } },
    testTimeout: 150_000,
    hookTimeout: 90_000,
    teardownTimeout: 30_000,
  },
});
