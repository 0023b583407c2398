import { describe, expect, it } from 'vitest';
import { fromProtoAction } from '../../controller/desk/approvalDesk.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../../controller/incidents/policy.js';
import type { Harness, Sabotage } from './service/harness.js';
import { generateScenario, LARGE, SMALL, type SimSize } from './service/scenario.js';
import { runServiceWorld, type WorldResult } from './service/world.js';
import { testEngine } from '../helpers/testStore.js';

/*
 * The randomized world driven through the REAL controller: IncidentService on
 * a SQLite file, the real report authenticator (DKIM signatures made here,
 * keys served by an in-process DNS), the deadline scheduler on a ManualClock,
 * the mail outbox, the BMC check worker with scripted BMCs that die and come
 * back, desired-state dispatch with scripted agents, and the operator desk
 * (four eyes, approvals, held complaints, reviews) called in process. The
 * invariants are read back from the store (service/checks.ts).
 *
 * In `npm test`: a few small worlds (fixed seeds, and one fresh one).
 * The larger run, about three months of a bigger fleet:
 *
 *   npm run sim                         # SIM_SIZE=large vitest run test/sim/serviceWorld.test.ts
 *   SIM_SEED=123 npm run sim            # replay one seed at the large size
 *   SIM_SEED=123 npx vitest run test/sim/serviceWorld.test.ts   # replay one seed at the small size
 *
 * The summary line of each world names its seed.
 */

const large = process.env.SIM_SIZE === 'large';
const SIZE: SimSize = large ? LARGE : SMALL;
const FIXED_SEEDS = large ? [20_261_102] : [20_261_102, 7];
// A smaller hourly cap than the default, so that a small fleet reaches it too.
const POLICY: PolicyConfig = { ...DEFAULT_POLICY, maxAutomaticPerHour: 3 };

const allSeeds = process.env.SIM_SEED
  ? [Number(process.env.SIM_SEED)]
  : [...FIXED_SEEDS, ...(large ? [] : [Math.floor(Math.random() * 2 ** 31)])];
/*
 * On PostgreSQL (vitest's postgresql project) one world, for the suite's
 * time: the first seed, through the same service on the other engine (about
 * 10 s there, 65 s for all of this file). The sabotages test the invariant
 * checks, which read whatever store they are given; they run on SQLite.
 * SIM_SEED picks the world on either engine.
 */
const onPostgresql = testEngine === 'postgresql';
const seeds = onPostgresql ? allSeeds.slice(0, 1) : allSeeds;
if (onPostgresql && allSeeds.length > 1) console.warn(`SKIP serviceWorld.test.ts seeds ${allSeeds.slice(1).join(', ')} and the sabotages on postgresql: one world there for the suite's time; all run on sqlite`);

function summary(seed: number, r: WorldResult): string {
  const t = r.tally;
  const f = (name: string) => t.get(name);
  return (
    `sim-service ${SIZE.label} seed=${seed}: ${f('reports')} reports (${f('complaints')} complaints), ` +
    `${f('duplicates recognised')} duplicates recognised, ${f('forged held untrusted')} forged held untrusted, ` +
    `${f('incidents')} incidents, ${f('enforcements')} enforcements (${f('enforcements by policy')} by policy, ${f('enforcements by operators')} by operators), ` +
    `${f('cuts')} cuts, ${f('overrides')} overrides, ${f('reviews')} reviews; ${f('hosts answered in time')} hosts answered in time; ` +
    `${r.steps} steps over ${r.simulatedDays} days in ${(r.wallMs / 1000).toFixed(1)} s; replay with SIM_SEED=${seed}${large ? ' SIM_SIZE=large' : ''}`
  );
}

describe(`the abuse desk, simulated through the real service (${SIZE.label})`, () => {
  for (const seed of seeds) {
    it(`seed ${seed}: every invariant holds`, { timeout: large ? 1_800_000 : 60_000 }, async () => {
      const r = await runServiceWorld(generateScenario(seed, SIZE), POLICY);
      console.log(summary(seed, r));
      console.log(`sim-service seed=${seed} counts: ${JSON.stringify(Object.fromEntries([...r.tally.counts].sort()))}`);
      const findings = r.tally.findings();
      if (findings.length > 0) console.log(`sim-service seed=${seed} known defects reproduced (not asserted; see the report):\n  ${findings.join('\n  ')}`);

      expect(r.tally.violations(), `seed ${seed} (replay with SIM_SEED=${seed})`).toEqual([]);
      // The world really reached the cases the invariants are about: a run that did not would pass vacuously.
      expect(r.tally.get('reports')).toBeGreaterThan(SIZE.reports);
      expect(r.tally.get('duplicates recognised')).toBeGreaterThan(0);
      expect(r.tally.get('forged held untrusted')).toBeGreaterThan(0);
      expect(r.tally.get('enforcements by policy')).toBeGreaterThan(0);
      expect(r.tally.get('incidents answered in time')).toBeGreaterThan(0);
    });
  }
});

/*
 * The checks are not vacuous: each fault below, put into an otherwise real
 * controller, must be caught by the invariant that is about it. Small
 * worlds, one fixed seed (not run at SIM_SIZE=large).
 */
const TINY: SimSize = { label: 'tiny', customers: 4, hostsPerCustomer: [2, 3], days: 12, reports: 32 };
const SABOTAGE_SEED = 2;

const loseAnswers = (h: Harness) => void (h.desk.answerIncident = async () => ({}) as never);

const SABOTAGES: { name: string; caughtBy: string; sabotage: Sabotage }[] = [
  {
    name: "the desk loses the customers' answers",
    caughtBy: '(1) answered in time, never enforced',
    sabotage: { patch: loseAnswers },
  },
  {
    name: 'intake never looks for duplicates',
    caughtBy: '(5) re-sends recognised',
    sabotage: { patch: (h) => void (h.store.complaints.findDuplicates = async (keys) => keys.map(() => undefined)) },
  },
  {
    name: 'the service believes every BMC answered just now',
    caughtBy: '(4) BMC before every cut',
    sabotage: {
      patch: (h) => {
        // The service's view of the BMC: it answered a moment ago, whatever really happened.
        const fresh = () => ({ reachable: true, checkedAt: h.clock.now(), sol: 'not_required', durationMs: 1 });
        h.store.bmcs.latest = async () => fresh();
        h.store.bmcs.latestForHosts = async (hostIds) => new Map(hostIds.map((id) => [id, fresh()]));
      },
    },
  },
  {
    name: 'the lifecycle takes every incident for trusted',
    caughtBy: '(3) automatic only on trusted complaints',
    sabotage: {
      patch: (h) => {
        const get = h.store.incidents.get.bind(h.store.incidents);
        h.store.incidents.get = async (id) => {
          const i = await get(id);
          return i && { ...i, trusted: true };
        };
      },
    },
  },
  {
    // With every customer silent (answers lost), untrusted incidents escalate and operators ask to cut them.
    name: 'the desk lets an operator cut alone',
    caughtBy: '(3) four eyes',
    sabotage: {
      patch: (h) => {
        loseAnswers(h);
        const enforce = h.desk.enforce;
        h.desk.enforce = async (req, ctx) => {
          if (!req.incidentId) return enforce(req, ctx);
          const operator = (ctx.peer as { name: string }).name;
          const i = await h.service.apply(req.incidentId, { type: 'operator_enforce', operator, action: fromProtoAction(req.action), reason: req.reason }, operator);
          return { approvalId: '', incidentIds: [i.id] };
        };
      },
    },
  },
  {
    name: 'the authenticator trusts every report',
    caughtBy: 'untrusted report trusted',
    sabotage: { authenticate: (real) => async (raw, channel) => ({ ...(await real(raw, channel)), trusted: true, reporterKind: 'cert' }) },
  },
  {
    name: 'a review counts every incident of the customer',
    caughtBy: '(7) reviews count established incidents only',
    sabotage: {
      patch: (h) =>
        void (h.store.incidents.establishedForCustomerSince = async (customerId, since) =>
          (await h.store.db.all<{ id: string }>('SELECT id FROM incidents WHERE customer_id = ? AND opened_at >= ?', [customerId, since.getTime()])).map((r) => r.id)),
    },
  },
  {
    name: "desired states carry other hosts' enforcements",
    caughtBy: '(2) own host only',
    sabotage: {
      patch: (h) => {
        // Both reads of a desired state: one host's (an agent connecting) and many hosts' (the pushes).
        const get = h.store.desired.get.bind(h.store.desired);
        const getMany = h.store.desired.getMany.bind(h.store.desired);
        const seen = new Map<string, Awaited<ReturnType<typeof get>>>();
        const leak = (hostId: string, d: Awaited<ReturnType<typeof get>>) => {
          seen.set(hostId, d);
          return { ...d, enforcements: [...d.enforcements, ...[...seen].filter(([k]) => k !== hostId).flatMap(([, v]) => v.enforcements)] };
        };
        h.store.desired.get = async (hostId) => leak(hostId, await get(hostId));
        h.store.desired.getMany = async (hostIds) => new Map([...(await getMany(hostIds))].map(([k, d]) => [k, leak(k, d)]));
      },
    },
  },
  {
    name: 'a row is slipped into the audit log',
    caughtBy: '(6) audit chain',
    sabotage: {
      patch: (h) => {
        const pump = h.pump;
        let n = 0;
        h.pump = async (step) => {
          if (++n === 100) {
            // The next id by hand, as AuditLog writes it: PostgreSQL's id is a plain BIGINT, not SQLite's rowid.
            await h.store.db.run("INSERT INTO audit_log (id, at, actor, action, subject, detail_json, prev_hash, hash) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log), ?, 'mallory', 'nothing.happened', 'x', '{}', ?, ?)", [
              h.clock.now().getTime(),
              '0'.repeat(64),
              'f'.repeat(64),
            ]);
          }
          return pump(step);
        };
      },
    },
  },
];

describe.skipIf(large || onPostgresql)('the invariants catch a sabotaged controller', () => {
  for (const { name, caughtBy, sabotage } of SABOTAGES) {
    it(`${name}: caught by ${caughtBy}`, async () => {
      const r = await runServiceWorld(generateScenario(SABOTAGE_SEED, TINY), POLICY, sabotage);
      const violations = r.tally.violations();
      expect(violations.map((v) => v.slice(0, v.indexOf(':'))), `violations found: ${JSON.stringify(violations)}`).toContain(caughtBy);
    });
  }
});
