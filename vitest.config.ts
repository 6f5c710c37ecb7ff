import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/component/**/*.test.ts', 'test/contract/**/*.test.ts'],
    testTimeout: 20_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
      thresholds: {
        // The core is where every rule is decided: its branches must all be exercised.
        'src/core/**': { branches: 97, lines: 99, functions: 100, statements: 99 },
        // The state store adapters: what several instances share; the contract suite exercises each.
        'src/state/memory-store.ts': { branches: 95, lines: 100, functions: 100, statements: 100 },
      },
    },
  },
});
