import { defineConfig } from 'vitest/config';

// Browser tests: Playwright (playwright-core) drives Debian's chromium against the service on the simulator.
// One file at a time: each test runs a service and a browser, and the machine has two cores.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 30_000,
    fileParallelism: false,
  },
});
