import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/component/**/*.test.ts'],
    testTimeout: 20_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      // The core is where every rule is decided: its branches must all be exercised.
      thresholds: { 'src/core/**': { branches: 97, lines: 99, functions: 100, statements: 99 } },
    },
  },
});
