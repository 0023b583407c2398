import { describe, expect, it } from 'vitest';
import type { IncidentState } from '../../../controller/incidents/model.js';
import { at, incident, seededStore } from './storeFixtures.js';

const ev = (incidentId: string, hours: number, type: string, fromState: IncidentState | null, toState: IncidentState) => ({
  incidentId,
  at: at(hours),
  type,
  fromState,
  toState,
  actor: 'olga',
  detail: {},
});

describe('EventsRepo.firstIdSince and restrictionFlow', () => {
  it('finds nothing in an empty history', async () => {
    const store = await seededStore();
    expect(await store.events.firstIdSince(at(0))).toBeUndefined();
    expect(await store.events.restrictionFlow(at(0), at(1))).toEqual({ applied: 0, appealsAccepted: 0, dismissed: 0 });
  });

  it('still counts an event written a little out of clock order (a transaction that waited for the lock)', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident({ id: 'a' }), undefined);
    await store.incidents.insert(incident({ id: 'b', category: 'scan' }), undefined);
    const ids = await store.events.appendMany([
      ev('a', 0, 'open', null, 'received'),
      ev('a', 100, 'operator_enforce', 'received', 'enforcing'),
      // Took its time before the lock: written after the event above, stamped 10 minutes earlier.
      ev('b', 99.9, 'operator_enforce', 'received', 'enforcing'),
      ev('a', 101, 'operator_dismiss', 'enforcing', 'dismissed'),
    ]);
    // With no slack the search lands past a's enforcement at 100 h, inside the window: why the slack exists.
    expect(await store.events.firstIdSince(at(99.95), 0)).toBe(ids[3]);
    // The default hour of slack starts before both.
    expect(await store.events.firstIdSince(at(99.95))).toBe(ids[1]);
    expect(await store.events.firstIdSince(at(2))).toBe(ids[1]);
    expect(await store.events.firstIdSince(at(1))).toBe(ids[0]); // 1 h of slack reaches back to 0 h
    expect(await store.events.firstIdSince(at(200))).toBeUndefined();
    expect(await store.events.restrictionFlow(at(99.85), at(102))).toEqual({ applied: 2, appealsAccepted: 0, dismissed: 1 });
    // `at` bounds exactly: b's event at 99.9 h is outside [99.95 h, …).
    expect(await store.events.restrictionFlow(at(99.95), at(102))).toEqual({ applied: 1, appealsAccepted: 0, dismissed: 1 });
    expect(await store.events.restrictionFlow(at(99.85), at(101))).toEqual({ applied: 2, appealsAccepted: 0, dismissed: 0 });
  });

  it('does not count a dismissal or an accepted dispute of an incident that held nothing, nor a second action as a new restriction', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident({ id: 'a' }), undefined);
    await store.events.appendMany([
      ev('a', 1, 'operator_enforce', 'received', 'enforcing'),
      ev('a', 2, 'host_applied', 'enforcing', 'enforced'),
      ev('a', 3, 'operator_enforce', 'enforced', 'enforcing'),
      ev('a', 4, 'operator_accept_dispute', 'disputed', 'dismissed'),
      ev('a', 5, 'operator_dismiss', 'escalated', 'dismissed'),
    ]);
    expect(await store.events.restrictionFlow(at(0), at(10))).toEqual({ applied: 1, appealsAccepted: 0, dismissed: 0 });
  });
});
