import { describe, expect, it } from 'vitest';
import { judge } from './oracle.js';
import { generateScenario, type ScenarioSize } from './scenario.js';
import { runWorld } from './world.js';

/*
 * A simulated month of the abuse desk: a seeded random fleet and complaint
 * stream, driven through the real lifecycle by an in-memory controller
 * (world.ts), judged by an oracle that derives every expectation from the
 * scenario itself (oracle.ts, expected.ts).
 *
 * Two worlds per run: a fixed seed, so CI always checks the same month, and a
 * fresh one, so every run explores another. Replay any with SIM_SEED=<seed>.
 */

const SIZE: ScenarioSize = { customers: 1_000, targetComplaints: 15_000 };
const FIXED_SEED = 20_250_303;

function simulate(seed: number) {
  const t0 = performance.now();
  const scenario = generateScenario(seed, SIZE);
  const t1 = performance.now();
  const result = runWorld(scenario);
  const t2 = performance.now();
  const verdict = judge(scenario, result);
  const t3 = performance.now();
  const f = verdict.figures;
  console.log(
    `sim seed=${seed}: ${f.customers} customers, ${f.hosts} hosts (up to ${f.maxHostsPerCustomer} per customer), ` +
      `${f.complaints} complaints → ${f.incidents} incidents, ${f.transitions} transitions, ${f.publications} desired-state generations; ` +
      `wall time: generate ${ms(t1 - t0)}, simulate ${ms(t2 - t1)}, judge ${ms(t3 - t2)}, total ${ms(t3 - t0)}`,
  );
  console.log(`sim seed=${seed} figures: ${JSON.stringify(f)}`);
  return verdict;
}

const ms = (x: number) => `${Math.round(x)} ms`;

function expectSound(seed: number): void {
  const { violations, figures: f } = simulate(seed);
  // All safety properties at once: routing, answered-in-time, own host and customer only,
  // closed stays closed, generations grow, rate limit, recidivism, timer semantics.
  expect(violations, `seed ${seed} (replay with SIM_SEED=${seed})`).toEqual([]);

  // Size as promised, and the edge cases the oracle is about really occurred:
  // a simulation that never hit them would pass vacuously.
  expect(f.complaints).toBeGreaterThanOrEqual(5_000);
  expect(f.incidents).toBeGreaterThanOrEqual(2_000);
  expect(f.maxHostsPerCustomer).toBe(15);
  expect(f.mergedDuplicates).toBeGreaterThan(500);
  expect(f.resentAfterClose).toBeGreaterThan(100);
  expect(f.resentWithin1ms).toBeGreaterThan(10);
  expect(f.answeredDueMinus1ms).toBeGreaterThan(50);
  expect(f.answeredAtDue).toBeGreaterThan(50);
  expect(f.answeredDuePlus1ms).toBeGreaterThan(50);
  expect(f.neverAnswered).toBeGreaterThan(200);
  expect(f.inTimeTrustedWithLadder).toBeGreaterThan(200);
  expect(f.customersAllInTime).toBeGreaterThan(50);
  expect(f.escalatedByLaterTrustedReport).toBeGreaterThan(0);
  expect(f.incidentsEnforced).toBeGreaterThan(200);
  expect(f.secondRungs).toBeGreaterThan(20);
  expect(f.releases).toBeGreaterThan(50);
  expect(f.rateLimitHolds).toBeGreaterThan(0);
  expect(f.untrustedHolds).toBeGreaterThan(50);
  expect(f.operatorDecisionHolds).toBeGreaterThan(10);
  expect(f.earlyDeadlinesIgnored).toBeGreaterThan(1_000);
}

describe('a simulated month of the abuse desk', () => {
  it(`fixed seed ${FIXED_SEED}: every incident handled by the design`, () => {
    expectSound(Number(process.env.SIM_SEED ?? FIXED_SEED));
  });

  it('fresh seed: every incident handled by the design', () => {
    expectSound(Number(process.env.SIM_SEED ?? Math.floor(Math.random() * 2 ** 31)));
  });

  it('is reproducible: the same seed makes the same month', () => {
    const a = generateScenario(7, { customers: 40, targetComplaints: 300 });
    const b = generateScenario(7, { customers: 40, targetComplaints: 300 });
    expect(b).toEqual(a);
    const ra = runWorld(a);
    const rb = runWorld(b);
    expect([...rb.incidents.values()]).toEqual([...ra.incidents.values()]);
    expect(rb.publications).toEqual(ra.publications);
  });
});
