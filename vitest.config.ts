import { defineConfig } from 'vitest/config';
import { pgMissing } from './test/helpers/pgCluster.js';

/**
 * The store and service suites, run a second time on PostgreSQL (the
 * `postgresql` project): the same files, whose stores come from
 * test/helpers/testStore.ts. The SqlDatabase contract suites (database,
 * pg*) already run both engines themselves, so they stay out of it.
 */
const ON_POSTGRESQL = ['test/unit/store/**/*.test.ts'];
const NOT_ON_POSTGRESQL = ['test/unit/store/database*.test.ts', 'test/unit/store/pg*.test.ts'];

const pgSkip = pgMissing();
if (pgSkip) console.warn(`SKIP the store and service suites on postgresql: ${pgSkip}`);

export default defineConfig({
  test: {
    // System tests share network namespaces and ports: files run one at a time
    // on CI's two cores; tests inside a file stay sequential too.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/reporters/summaryLine.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'sqlite', include: ['test/**/*.test.ts', 'controller/**/*.test.ts', 'agent/**/*.test.ts', 'proto/**/*.test.ts'] },
      },
      ...(pgSkip
        ? []
        : [
            {
              extends: true as const,
              test: {
                name: 'postgresql',
                include: ON_POSTGRESQL,
                exclude: NOT_ON_POSTGRESQL,
                globalSetup: ['test/helpers/pgGlobalSetup.ts'],
                env: { CORDON_TEST_STORE: 'postgresql' },
              },
            },
          ]),
    ],
  },
});
