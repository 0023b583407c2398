import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ReportTracker } from '../../../controller/dispatch/ReportTracker.js';
import { ManualClock } from '../../../controller/clock.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import { ResultStatus, type Report } from '../../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { fileStore, host } from '../store/storeFixtures.js';

const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));

async function enforcing() {
  const store = await fileStore();
  await store.hosts.upsertMany([host('web-01', ['203.0.113.0/24'])]);
  const log = pino({ level: 'silent' });
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  await service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
  const desired = await store.desired.get('web-01');
  const report: Report = {
    appliedGeneration: BigInt(desired.generation),
    observedDigest: 'd',
    observedAt: clock.now(),
    error: '',
    results: desired.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
    applyMs: 5,
    driftRepairs: 0n,
  };
  const tracker = new ReportTracker(store, service, () => clock.now(), log);
  const states = async () => (await store.incidents.list({ hostId: 'web-01', limit: 10 })).map((i) => i.state);
  return { store, report, tracker, states };
}

/**
 * An agent reports each generation once. A report whose recording lost a
 * race (another replica's commit, a busy file) must be recorded on a later
 * run, or its incident would stay `enforcing` with the cut in force.
 */
describe('ReportTracker and transient failures', () => {
  it('records a report whose first runs failed transient', async () => {
    const { store, report, tracker, states } = await enforcing();
    expect(await states()).toEqual(['enforcing']);
    const recordStatus = store.desired.recordStatus.bind(store.desired);
    let failures = 2;
    store.desired.recordStatus = async (...args) => {
      if (failures-- > 0) throw new CordonError('transient', 'could not serialize access due to read/write dependencies among transactions');
      return recordStatus(...args);
    };
    tracker.onReport('web-01', report);
    await tracker.idle();
    expect(failures).toBe(-1);
    expect(await states()).toEqual(['enforced']);
  });

  it('does not rerun a report that failed for good, and goes on with the next', async () => {
    const { store, report, tracker, states } = await enforcing();
    const recordStatus = store.desired.recordStatus.bind(store.desired);
    let calls = 0;
    store.desired.recordStatus = async (...args) => {
      if (++calls === 1) throw new CordonError('internal', 'disk I/O error');
      return recordStatus(...args);
    };
    tracker.onReport('web-01', report);
    tracker.onReport('web-01', report);
    await tracker.idle();
    expect(calls).toBe(2);
    expect(await states()).toEqual(['enforced']);
  });
});
