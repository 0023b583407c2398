import { describe, expect, it } from 'vitest';
import { testEngine } from '../../helpers/testStore.js';
import type { Incident } from '../../../controller/incidents/model.js';
import { T0, at, incident, seededStore } from './storeFixtures.js';

const full: Incident = incident({
  state: 'enforced',
  notifiedAt: at(0.5),
  ackDueAt: at(24.5),
  resolveDueAt: at(72.5),
  acknowledgedAt: at(3),
  answeredAt: at(4),
  escalatedAt: at(73),
  step: 1,
  actions: [{ kind: 'smtp_block', ports: [25, 587] }, { kind: 'throttle', rateBps: 10_000_000 }, { kind: 'isolate' }],
  hold: 'rate_limit',
  closedAt: at(100),
  complaintCount: 4,
  trusted: false,
});

describe('IncidentsRepo', () => {
  it('maps every field both ways exactly: Dates, actions, undefined for NULL', async () => {
    const store = await seededStore();
    await store.incidents.insert(full, at(80));
    await store.incidents.insert(incident({ id: 'inc-2', hostId: 'web-02', customerId: 'cust-2' }), undefined);
    expect(await store.incidents.get('inc-1')).toEqual(full);
    const bare = await store.incidents.get('inc-2');
    expect(bare).toEqual(incident({ id: 'inc-2', hostId: 'web-02', customerId: 'cust-2' }));
    expect(Object.keys(bare!)).toEqual(Object.keys(full));
    expect(bare!.notifiedAt).toBeUndefined();
    expect(await store.db.get("SELECT opened_at, next_due_at, actions_json FROM incidents WHERE id = 'inc-2'")).toEqual({
      opened_at: T0.getTime(),
      next_due_at: null,
      actions_json: '[]',
    });
    expect(await store.incidents.get('inc-9')).toBeUndefined();
  });

  it('updates what changes, refuses moving an incident to another host, and says not_found for unknown ids', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    const notified = incident({ state: 'notified', notifiedAt: at(1), ackDueAt: at(25), resolveDueAt: at(73) });
    await store.incidents.update(notified, at(25));
    expect(await store.incidents.get('inc-1')).toEqual(notified);
    await expect(store.incidents.update({ ...notified, hostId: 'web-02' }, undefined)).rejects.toMatchObject({ kind: 'invalid' });
    await expect(store.incidents.update(incident({ id: 'inc-9' }), undefined)).rejects.toMatchObject({ kind: 'not_found' });
    await expect(store.incidents.update({ ...notified, state: 'bogus' as Incident['state'] }, undefined)).rejects.toMatchObject({ field: 'state' });
  });

  it('updates many in one statement exactly as one by one, whatever order closes and opens come in, and names the culprit of a bad one', async () => {
    const store = await seededStore();
    // 300 incidents: more than one statement's worth (250), over both hosts and every field shape.
    const many = Array.from({ length: 300 }, (_, k) => incident({ id: `m-${k}`, hostId: k % 2 ? 'web-02' : 'web-01', customerId: k % 2 ? 'cust-2' : 'cust-1', state: 'closed', closedAt: at(1), openedAt: at(k / 100) }));
    for (const i of many) await store.incidents.insert(i, undefined);
    await store.incidents.insert(incident({ id: 'open-1', openedAt: at(9) }), at(30));
    const changed = many.map((i, k) => (k === 7 ? { ...full, id: i.id, hostId: i.hostId, customerId: i.customerId, openedAt: i.openedAt } : { ...i, complaintCount: k, hold: k % 3 ? undefined : ('approval' as const) }));
    // m-0 re-opens as spam on web-01, listed before open-1's close: the close must reach the table first.
    const reopened = { ...changed[0]!, state: 'notified' as const, closedAt: undefined };
    const items = [{ incident: reopened, nextDueAt: at(40) }, ...changed.slice(1).map((i) => ({ incident: i, nextDueAt: undefined })), { incident: incident({ id: 'open-1', openedAt: at(9), state: 'closed', closedAt: at(10) }), nextDueAt: undefined }];
    await store.db.transaction(() => store.incidents.updateMany(items));
    for (const { incident: i } of items) expect(await store.incidents.get(i.id)).toEqual(i);
    expect((await store.incidents.findOpen('web-01', 'spam'))?.id).toBe('m-0');
    expect((await store.db.get<{ next_due_at: number }>("SELECT next_due_at FROM incidents WHERE id = 'm-0'"))!.next_due_at).toBe(at(40).getTime());

    // A bad row among good ones: the same error as update's, and the transaction rolls back whole.
    const before = await store.incidents.get('m-1');
    for (const [bad, kind] of [[incident({ id: 'nope' }), 'not_found'], [{ ...changed[3]!, hostId: 'web-01' }, 'invalid']] as const) {
      const write = store.db.transaction(() => store.incidents.updateMany([{ incident: { ...before!, complaintCount: 99 }, nextDueAt: undefined }, { incident: bad, nextDueAt: undefined }]));
      await expect(write).rejects.toMatchObject({ kind });
      expect(await store.incidents.get('m-1')).toEqual(before);
    }
  });

  it('keeps one open incident per host and category, by index even against raw SQL; closed ones do not block', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    await expect(store.incidents.insert(incident({ id: 'inc-2' }), undefined)).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringMatching(/web-01 already has open spam incident inc-1/),
    });
    // Straight SQL, past the repository's own check: a copy of inc-1 under another id.
    const raw = store.db.run(`INSERT INTO incidents
      SELECT 'inc-x', host_id, customer_id, category, 'notified', trusted, opened_at, notified_at, ack_due_at, resolve_due_at,
             acknowledged_at, answered_at, escalated_at, step, actions_json, hold, closed_at, complaint_count, next_due_at, bmc_verified_at,
             established, overdue, opened_by, approval_id, pending_action_json, notice_undelivered_at, held_at
      FROM incidents WHERE id = 'inc-1'`);
    await expect(raw).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(testEngine === 'sqlite' ? /UNIQUE constraint failed: incidents.host_id, incidents.category/ : /unique constraint "incidents_one_open"/) });

    await store.incidents.insert(incident({ id: 'inc-3', category: 'phishing' }), undefined); // another category
    await store.incidents.update(incident({ state: 'closed', closedAt: at(5) }), undefined);
    await store.incidents.insert(incident({ id: 'inc-4', openedAt: at(6) }), undefined); // after the close
    await store.incidents.update(incident({ id: 'inc-4', openedAt: at(6), state: 'released' }), undefined);
    await store.incidents.insert(incident({ id: 'inc-5', openedAt: at(7) }), undefined); // after a release
    expect((await store.incidents.findOpen('web-01', 'spam'))?.id).toBe('inc-5');
    expect(await store.incidents.findOpen('web-02', 'spam')).toBeUndefined();
    // Re-opening a closed incident while another is open is refused by the index too.
    await expect(store.incidents.update(incident({ state: 'notified' }), undefined)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('refuses an incident on an unknown host, or with a duplicate id', async () => {
    const store = await seededStore();
    await expect(store.incidents.insert(incident({ hostId: 'ghost' }), undefined)).rejects.toMatchObject({ kind: 'not_found', field: 'hostId' });
    await store.incidents.insert(incident({ state: 'closed' }), undefined);
    await expect(store.incidents.insert(incident(), undefined)).rejects.toMatchObject({ kind: 'conflict', field: 'id' });
  });

  it('lists with filters, newest first, and counts a customer’s incidents in a window', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident({ id: 'a', openedAt: at(0), state: 'closed' }), undefined);
    await store.incidents.insert(incident({ id: 'b', openedAt: at(10), category: 'ddos' }), undefined);
    await store.incidents.insert(incident({ id: 'c', openedAt: at(20), category: 'scan', state: 'notified' }), undefined);
    await store.incidents.insert(incident({ id: 'd', openedAt: at(30), hostId: 'web-02', customerId: 'cust-2' }), undefined);
    const ids = (l: Incident[]) => l.map((i) => i.id);
    expect(ids(await store.incidents.list())).toEqual(['d', 'c', 'b', 'a']);
    expect(ids(await store.incidents.list({ hostId: 'web-01', limit: 2 }))).toEqual(['c', 'b']);
    expect(ids(await store.incidents.list({ state: 'received', customerId: 'cust-1' }))).toEqual(['b']);
    await expect(store.incidents.list({ limit: 0 })).rejects.toMatchObject({ field: 'limit' });
    // Only established incidents count toward a termination review: none of these is.
    expect((await store.incidents.countEstablishedForCustomersSince(['cust-1'], at(-1))).get('cust-1')).toBe(0);
    await store.incidents.update(incident({ id: 'b', openedAt: at(10), category: 'ddos', established: true }), undefined);
    await store.incidents.update(incident({ id: 'c', openedAt: at(20), category: 'scan', state: 'notified', established: true }), undefined);
    await store.incidents.insert(incident({ id: 'e', openedAt: at(25), category: 'malware', established: true, openedBy: 'operator' }), undefined);
    await store.incidents.insert(incident({ id: 'f', openedAt: at(26), category: 'phishing', established: true, state: 'dismissed', closedAt: at(27) }), undefined);
    expect((await store.incidents.countEstablishedForCustomersSince(['cust-1', 'cust-3'], at(-1)))).toEqual(new Map([['cust-1', 2], ['cust-3', 0]]));
    expect((await store.incidents.countEstablishedForCustomersSince(['cust-1'], at(15))).get('cust-1')).toBe(1);
    expect(await store.incidents.establishedForCustomerSince('cust-1', at(-1))).toEqual(['b', 'c']);
  });

  it('answers the scheduler: the earliest due, and everything due up to a time', async () => {
    const store = await seededStore();
    expect(await store.incidents.earliestDue()).toBeUndefined();
    await store.incidents.insert(incident({ id: 'late', category: 'ddos' }), at(48));
    await store.incidents.insert(incident({ id: 'none', category: 'scan' }), undefined);
    await store.incidents.insert(incident({ id: 'soon-b', category: 'malware' }), at(24));
    await store.incidents.insert(incident({ id: 'soon-a', category: 'phishing' }), at(24));
    expect(await store.incidents.earliestDue()).toEqual({ id: 'soon-a', dueAt: at(24) });
    expect(await store.incidents.dueUpTo(at(24), 10)).toEqual([
      { id: 'soon-a', dueAt: at(24) },
      { id: 'soon-b', dueAt: at(24) },
    ]);
    expect((await store.incidents.dueUpTo(at(100), 2)).map((d) => d.id)).toEqual(['soon-a', 'soon-b']);
    await store.incidents.update(incident({ id: 'soon-a', category: 'phishing', state: 'closed' }), undefined);
    expect(await store.incidents.earliestDue()).toEqual({ id: 'soon-b', dueAt: at(24) });
  });
});
