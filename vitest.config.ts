import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two cores, three files at a time: an end-to-end test spends much of its time waiting (on a paced API, a
    // heartbeat timeout, a server restart), and its timing is controlled by the test, never raced.
    maxWorkers: 3,
    reporters: ['default'],
  },
});
