import { defineConfig } from 'vitest/config';

// The integration suite: real drachtio-server and FreeSWITCH (INTEGRATION_* variables), SIPp phones on 127.0.0.1.
export default defineConfig({
  test: {
    include: ['test/integration/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    // The suite's own "skipped" line must be visible in CI's output.
    passWithNoTests: false,
  },
});
