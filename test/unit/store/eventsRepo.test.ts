import { describe, expect, it } from 'vitest';
import { testEngine } from '../../helpers/testStore.js';
import { at, incident, seededStore } from './storeFixtures.js';

describe('EventsRepo', () => {
  it('appends events and lists them in order, detail as JSON (Dates as ISO strings)', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    await store.events.append({ incidentId: 'inc-1', at: at(0), type: 'open', fromState: null, toState: 'received', actor: 'intake', detail: { complaintId: 'c-1' } });
    await store.events.append({
      incidentId: 'inc-1',
      at: at(1),
      type: 'customer_plan',
      fromState: 'notified',
      toState: 'plan_accepted',
      actor: 'customer',
      detail: { dueAt: at(50), note: undefined },
    });
    const events = await store.events.list('inc-1');
    expect(events).toEqual([
      { id: 1, incidentId: 'inc-1', at: at(0), type: 'open', fromState: undefined, toState: 'received', actor: 'intake', detail: { complaintId: 'c-1' } },
      {
        id: 2,
        incidentId: 'inc-1',
        at: at(1),
        type: 'customer_plan',
        fromState: 'notified',
        toState: 'plan_accepted',
        actor: 'customer',
        detail: { dueAt: at(50).toISOString() },
      },
    ]);
    expect(await store.events.list('inc-9')).toEqual([]);
  });

  it('lists the latest events of some types only, oldest first (the customer page reads its decisions so)', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    const add = (n: number, type: string) => store.events.append({ incidentId: 'inc-1', at: at(n), type, fromState: null, toState: null, actor: 'olga', detail: { n } });
    await add(0, 'operator_enforce');
    for (let n = 1; n <= 5; n++) await add(n, 'complaint');
    await add(6, 'operator_reject_dispute');
    await add(7, 'operator_release');
    const types = ['operator_enforce', 'operator_reject_dispute', 'operator_release'];
    expect((await store.events.listOfTypes('inc-1', types, 20)).map((e) => [e.type, e.detail])).toEqual([
      ['operator_enforce', { n: 0 }],
      ['operator_reject_dispute', { n: 6 }],
      ['operator_release', { n: 7 }],
    ]);
    expect((await store.events.listOfTypes('inc-1', types, 2)).map((e) => e.type)).toEqual(['operator_reject_dispute', 'operator_release']);
    expect(await store.events.listOfTypes('inc-1', [], 20)).toEqual([]);
  });

  it('refuses what cannot be stored: unknown incidents, states, non-JSON detail', async () => {
    const store = await seededStore();
    const base = { incidentId: 'inc-1', at: at(0), type: 't', fromState: null, toState: null, actor: 'a', detail: {} };
    await expect(store.events.append(base)).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(testEngine === 'sqlite' ? /FOREIGN KEY/ : /violates foreign key constraint/) });
    await store.incidents.insert(incident(), undefined);
    await expect(store.events.append({ ...base, detail: { n: NaN } })).rejects.toMatchObject({ kind: 'invalid', field: 'detail' });
    await expect(store.events.append({ ...base, detail: { n: 1n } })).rejects.toMatchObject({ kind: 'invalid', field: 'detail' });
    await expect(store.events.append({ ...base, toState: 'gone' as never })).rejects.toMatchObject({ kind: 'invalid', field: 'toState' });
  });
});

describe('append-only tables', () => {
  it('refuse UPDATE and DELETE of incident events and audit rows', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    await store.events.append({ incidentId: 'inc-1', at: at(0), type: 'open', fromState: null, toState: 'received', actor: 'x', detail: {} });
    await store.audit.append({ at: at(0), actor: 'x', action: 'incident.open', subject: 'inc-1', detail: {} });
    for (const sql of [
      "UPDATE incident_events SET actor = 'y'",
      'DELETE FROM incident_events',
      "UPDATE audit_log SET actor = 'y'",
      'DELETE FROM audit_log',
    ]) {
      await expect(store.db.run(sql), sql).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/is append-only/) });
    }
    expect(await store.events.list('inc-1')).toHaveLength(1);
    expect(await store.audit.verify()).toEqual({ ok: true, rows: 1 });
  });
});
