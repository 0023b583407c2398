import { defineConfig } from 'vitest/config';
import { pgMissing } from './test/helpers/pgCluster.js';

/**
 * The store and service suites, run a second time on PostgreSQL (the
 * `postgresql` project): the same files, whose stores come from
 * test/helpers/testStore.ts. The SqlDatabase contract suites (database,
 * pg*) already run both engines themselves, so they stay out of it.
 *
 * The service files are those whose PostgreSQL run costs least for what
 * they cover, about 100 s of it in all (CI's whole suite must stay under 15
 * minutes): the store suites, the services' unit suites, one simulated world
 * (serviceWorld.test.ts runs its first seed only there) and 14
 * whole-controller files. Also ready for PostgreSQL (their stores come from
 * testStore.ts) but left out for time: customerVoiceDesk (about 21 s there)
 * and deskCommands (about 15 s), both mostly cordonctl processes over paths
 * the files here cover.
 */
const ON_POSTGRESQL = [
  'test/unit/store/**/*.test.ts',
  'test/unit/dispatch/**/*.test.ts',
  'test/unit/services/**/*.test.ts',
  'test/sim/service/knownDefects.test.ts',
  // One simulated world on PostgreSQL (the file says which, and why not all).
  'test/sim/serviceWorld.test.ts',
  'test/unit/customerMail/CustomerMailThreader.test.ts',
  'test/unit/desk/deskQueueSql.test.ts',
  ...[
    'dueProcess',
    'deskQueue',
    'mailOutbox',
    'customerReplies',
    'hostDeskBindings',
    'ingestCommands',
    'deskHealth',
    'approvalRejection',
    'statementOfReasons',
    'customerPage',
    'metrics',
    'reporterCommands',
    'reporterOutcome',
    'ingestLimits',
  ].map((name) => `test/integration/${name}.test.ts`),
];
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
