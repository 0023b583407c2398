import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'controller/**/*.test.ts', 'agent/**/*.test.ts', 'proto/**/*.test.ts'],
    // System tests share network namespaces and ports: files run one at a time
    // on CI's two cores; tests inside a file stay sequential too.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/reporters/summaryLine.ts'],
  },
});
