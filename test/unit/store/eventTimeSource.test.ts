import { describe, expect, it } from 'vitest';
import type { Complaint } from '../../../controller/incidents/model.js';
import { T0, at, incident, seededStore } from './storeFixtures.js';

/**
 * Where a complaint's event time comes from survives the store (migration
 * 15): a receipt time must never read back as the reporter's statement.
 * Runs on SQLite and, in vitest's postgresql project, on PostgreSQL.
 */
const complaint = (over: Partial<Complaint> = {}): Complaint => ({
  id: 'c-1',
  receivedAt: at(1),
  eventTime: T0,
  ip: '203.0.113.9',
  category: 'spam',
  reporter: 'abuse@upstream.example',
  reporterKind: 'upstream',
  raw: 'Date: Sun, 1 Mar 2026 12:00:00 +0000\r\n\r\nyour server sends spam',
  evidence: 'plain: spam',
  ...over,
});

describe('a complaint\'s event time source in the store', () => {
  it('reads a receipt time back as a receipt time, a stated one as stated, and an unmarked one as stated', async () => {
    const store = await seededStore();
    await store.incidents.insert(incident(), undefined);
    await store.complaints.insert(complaint({ id: 'c-receipt', eventTimeSource: 'receipt' }), { incidentId: 'inc-1', status: 'linked' });
    await store.complaints.insert(complaint({ id: 'c-report', receivedAt: at(2), eventTimeSource: 'report' }), { incidentId: 'inc-1', status: 'linked' });
    await store.complaints.insert(complaint({ id: 'c-unmarked', receivedAt: at(3) }), { incidentId: 'inc-1', status: 'linked' });
    expect(await store.complaints.get('c-receipt')).toMatchObject({ eventTime: T0, eventTimeSource: 'receipt' });
    expect((await store.complaints.listByIncident('inc-1')).map((c) => [c.id, c.eventTimeSource])).toEqual([
      ['c-receipt', 'receipt'],
      ['c-report', 'report'],
      ['c-unmarked', 'report'],
    ]);
  });

  it('keeps each row\'s own mark in one multi-row insert (the intake path of a many-offender report)', async () => {
    const store = await seededStore();
    const list = Array.from({ length: 7 }, (_, n) => ({
      complaint: complaint({ id: `c-${n}`, ip: `203.0.113.${n + 1}`, eventTimeSource: n % 2 === 0 ? ('receipt' as const) : ('report' as const) }),
      link: { incidentId: null, status: 'needs_info' as const, reason: 'no host' },
    }));
    await store.complaints.insertMany(list);
    for (let n = 0; n < 7; n++) expect((await store.complaints.get(`c-${n}`))?.eventTimeSource, `c-${n}`).toBe(n % 2 === 0 ? 'receipt' : 'report');
  });

  it('refuses a mark outside its domain, naming the field, and stores nothing', async () => {
    const store = await seededStore();
    const bad = complaint({ eventTimeSource: 'guessed' as unknown as 'report' });
    await expect(store.complaints.insert(bad, { incidentId: null, status: 'needs_info', reason: 'r' })).rejects.toMatchObject({
      kind: 'invalid',
      field: 'eventTimeSource',
    });
    expect(await store.complaints.get('c-1')).toBeUndefined();
    // The column's own CHECK holds against a writer that bypasses the repository.
    await store.complaints.insert(complaint(), { incidentId: null, status: 'needs_info', reason: 'r' });
    await expect(store.db.run("UPDATE complaints SET event_time_source = 'guessed' WHERE id = 'c-1'")).rejects.toBeDefined();
    expect((await store.complaints.get('c-1'))?.eventTimeSource).toBe('report');
  });
});
