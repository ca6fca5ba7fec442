import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites bind loopback ports and spawn CLIs; two cores keep them stable when run one file at a time.
    fileParallelism: false,
  },
});
