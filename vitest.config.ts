import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores: each end-to-end test runs CLI processes, workers and HTTP servers of its own.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
