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
    const recordStatusMany = store.desired.recordStatusMany.bind(store.desired);
    let failures = 2;
    store.desired.recordStatusMany = async (...args) => {
      if (failures-- > 0) throw new CordonError('transient', 'could not serialize access due to read/write dependencies among transactions');
      return recordStatusMany(...args);
    };
    tracker.onReport('web-01', report);
    await tracker.idle();
    expect(failures).toBe(-1);
    expect(await states()).toEqual(['enforced']);
  });

  it('counts a result naming no enforcement of the host once, however often its batch is run again', async () => {
    const { store, report, tracker, states } = await enforcing();
    const recordStatusMany = store.desired.recordStatusMany.bind(store.desired);
    let failures = 2;
    store.desired.recordStatusMany = async (...args) => {
      if (failures-- > 0) throw new CordonError('transient', 'database is locked');
      return recordStatusMany(...args);
    };
    const stray: Report = { ...report, results: [...report.results, { enforcementId: 'enf-of-another-host', kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' }] };
    tracker.onReport('web-01', stray);
    await tracker.idle();
    expect(failures).toBe(-1);
    expect(await states()).toEqual(['enforced']);
    expect(tracker.ignoredResults).toBe(1);
    // The same report sent again by the agent is another report: counted again.
    tracker.onReport('web-01', { ...stray });
    await tracker.idle();
    expect(tracker.ignoredResults).toBe(2);
  });

  it('does not rerun a batch or a report that failed for good, and goes on with the next report', async () => {
    const { store, report, tracker, states } = await enforcing();
    const recordStatus = store.desired.recordStatus.bind(store.desired);
    let many = 0;
    let single = 0;
    // The batch's bulk write fails for good; then, one by one, the first report's write fails for good too.
    store.desired.recordStatusMany = async () => {
      many++;
      throw new CordonError('internal', 'disk I/O error');
    };
    store.desired.recordStatus = async (...args) => {
      if (++single === 1) throw new CordonError('internal', 'disk I/O error');
      return recordStatus(...args);
    };
    tracker.onReport('web-01', report);
    tracker.onReport('web-01', report);
    await tracker.idle();
    expect(many).toBe(1);
    expect(single).toBe(2);
    expect(await states()).toEqual(['enforced']);
  });

  it('handles the reports that arrive together in bulk: one status write and one transaction of events for hundreds of hosts', async () => {
    const store = await fileStore();
    const n = 300;
    await store.hosts.upsertMany(Array.from({ length: n }, (_, k) => host(`h${k}`, [`10.${7 + (k >> 8)}.${k & 255}.0/24`])));
    const log = pino({ level: 'silent' });
    const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
    const ids = await service.enforceHosts(Array.from({ length: n }, (_, k) => `h${k}`), { kind: 'smtp_block' }, 'seen live', 'olga');
    const applied: number[] = [];
    const tracker = new ReportTracker(store, service, () => clock.now(), log, (s) => applied.push(s));
    let commits = 0;
    store.db.onCommit(() => commits++);
    const desired = await store.desired.getMany(Array.from({ length: n }, (_, k) => `h${k}`));
    const reportOf = (hostId: string, extra: Report['results'] = []): Report => {
      const d = desired.get(hostId)!;
      return {
        appliedGeneration: BigInt(d.generation),
        observedDigest: 'd',
        observedAt: clock.now(),
        error: '',
        results: [...d.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })), ...extra],
        applyMs: 5,
        driftRepairs: 0n,
      };
    };
    // h0 fails its enforcement: that host goes the one-by-one way, in front of an operator; h1 names another host's enforcement.
    const h0 = reportOf('h0');
    h0.results[0]!.status = ResultStatus.RESULT_STATUS_FAILED;
    h0.results[0]!.error = 'nft: no such table';
    tracker.onReport('h0', h0);
    tracker.onReport('h1', reportOf('h1', [{ enforcementId: desired.get('h2')!.enforcements[0]!.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' }]));
    for (let k = 2; k < n; k++) tracker.onReport(`h${k}`, reportOf(`h${k}`));
    // A replayed report, in the same batch and once more after it: nothing moves twice.
    tracker.onReport('h5', reportOf('h5'));
    await tracker.idle();
    tracker.onReport('h5', reportOf('h5'));
    await tracker.idle();
    const h5 = ids[5]!;
    expect((await store.events.list(h5)).filter((e) => e.type === 'host_applied')).toHaveLength(1);
    const states = new Map((await Promise.all(ids.map((id) => store.incidents.get(id)))).map((i) => [i!.hostId, i!.state]));
    expect(states.get('h0')).not.toBe('enforced');
    expect([...states].filter(([h, st]) => h !== 'h0' && st !== 'enforced')).toEqual([]);
    expect(applied).toHaveLength(n - 1);
    expect(tracker.ignoredResults).toBe(1);
    expect((await store.desired.status('h5'))).toMatchObject({ status: 'applied', appliedGeneration: desired.get('h5')!.generation });
    expect((await store.desired.status('h0'))).toMatchObject({ status: 'failed' });
    // h0's own writes, then the bulk: a handful of commits, not one or two per host.
    expect(commits).toBeLessThan(10);
    expect((await store.audit.verify()).ok).toBe(true);
  });
});
