import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { ReportTracker } from '../../../controller/dispatch/ReportTracker.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import { ResultStatus, type Report } from '../../../proto/gen/cordon/v1/agent.js';
import { fileStore, host } from '../store/storeFixtures.js';

/**
 * A release is finished only when confirmed, through the service and the
 * report tracker on a real store (SQLite and PostgreSQL): until the agent
 * reports the generation without the incident's actions, it is `releasing`
 * and no "restrictions lifted" mail is queued; a second release sends
 * nothing; the agent's report releases, mails once, and closes; with the
 * switch port still shut by Cordon, the agent's word alone is not enough.
 */
async function world() {
  const clock = new ManualClock(new Date('2026-12-07T10:00:00Z'));
  const store = await fileStore();
  await store.customers.upsert({ id: 'cust-1', name: 'One', email: 'noc@one.example' });
  await store.hosts.upsertMany([host('web-01', ['203.0.113.0/24'])]);
  const log = pino({ level: 'silent' });
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  const tracker = new ReportTracker(store, service, () => clock.now(), log);
  const report = async (): Promise<Report> => {
    const d = await store.desired.get('web-01');
    return {
      appliedGeneration: BigInt(d.generation),
      observedDigest: 'd',
      observedAt: clock.now(),
      error: '',
      results: d.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
      applyMs: 5,
      driftRepairs: 0n,
    };
  };
  const send = async () => {
    tracker.onReport('web-01', await report());
    await tracker.idle();
  };
  const id = await service.enforceHost('web-01', { kind: 'smtp_block' }, 'seen live', 'olga');
  await send();
  const mails = async (template: string) =>
    (await store.outbox.mailsOfIncident(id, 100)).filter((m) => (m.payload as { template?: string }).template === template);
  const state = async () => (await store.incidents.get(id))!.state;
  return { store, service, send, id, mails, state, clock };
}

describe('a release is finished only when confirmed', () => {
  it('waits in releasing without a mail, a second request sends nothing, the agent’s report releases (one mail naming what was lifted) and closes', async () => {
    const { store, service, send, id, mails, state } = await world();
    expect(await state()).toBe('enforced');
    await service.apply(id, { type: 'customer_fixed' }, 'customer');
    await service.apply(id, { type: 'operator_release', operator: 'olga' }, 'olga');
    expect(await state()).toBe('releasing');
    expect((await store.desired.get('web-01')).enforcements).toEqual([]);
    expect(await mails('released')).toHaveLength(0);
    await service.apply(id, { type: 'operator_release', operator: 'bob' }, 'bob');
    expect((await store.events.list(id)).filter((e) => e.type === 'operator_release')).toHaveLength(1);
    expect(await mails('released')).toHaveLength(0);
    await send();
    expect(await state()).toBe('closed');
    const released = await mails('released');
    expect(released).toHaveLength(1);
    expect((released[0]!.payload as { actions: { kind: string }[] }).actions).toEqual([{ kind: 'smtp_block' }]);
    expect((await store.events.list(id)).map((e) => e.toState).slice(-2)).toEqual(['released', 'closed']);
    await store.close();
  });

  it('the agent confirms the lift while Cordon still holds the switch port shut: still releasing until the port opens', async () => {
    const { store, service, send, id, mails, state, clock } = await world();
    await store.switches.set('web-01', {
      switchId: 'sw1', address: '10.0.0.2', user: 'cordon', privateKeyFile: '/k', hostKeySha256: 'SHA256:' + 'A'.repeat(43), vendor: 'linux', hostPort: 'swp1', protectedPorts: [],
    });
    await store.switches.markPort('web-01', true, 'agent silent for 91 s', clock.now(), false);
    await service.apply(id, { type: 'customer_fixed' }, 'customer');
    await service.apply(id, { type: 'operator_release', operator: 'olga' }, 'olga');
    await send();
    expect(await state()).toBe('releasing');
    expect(await mails('released')).toHaveLength(0);
    // The switch fallback reopened the port and confirmed it: the lift is done.
    await store.switches.markPort('web-01', false, 'the host no longer should be cut', clock.now(), true);
    await service.apply(id, { type: 'switch_released' }, 'switch-fallback');
    expect(await state()).toBe('released');
    expect(await mails('released')).toHaveLength(1);
    await store.close();
  });
});
