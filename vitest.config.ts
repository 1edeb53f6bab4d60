import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Process-level tests spawn shiplog and measure RSS/throughput: keep them off each other's cores.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
