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
  // Managed security's ledgers read the audit log back by subject and action prefix.
  'test/unit/security/banLedger.test.ts',
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

/**
 * Files that build network namespaces, run the lab, a real browser or other
 * system daemons (nftables, tc, ipmi_sim, sshd, systemd units), and the
 * simulated worlds. They share fixed namespace names and /run/cordon-lab.
 */
const SYSTEM_LANE = ['test/system/**/*.test.ts', 'test/browser/**/*.test.ts', 'test/sim/**/*.test.ts'];

/**
 * Three projects, each run one file at a time, tests inside a file
 * sequential too. `npm test` (test/lanes.mjs) runs them as three vitest
 * processes at once: vitest itself puts every project that runs one file at
 * a time into one queue, so a plain `vitest run` runs them one after the
 * other (slower, same results).
 */
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './test/reporters/summaryLine.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'system', include: SYSTEM_LANE },
      },
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['test/**/*.test.ts', 'controller/**/*.test.ts', 'agent/**/*.test.ts', 'proto/**/*.test.ts'],
          exclude: SYSTEM_LANE,
        },
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
