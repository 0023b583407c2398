import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import { fileStore, host } from '../store/storeFixtures.js';

describe('IncidentService.applyMany', () => {
  it('applies a page of deadlines in one transaction: each failure undone alone, the rest committed, one round of pushes after', async () => {
    const store = await fileStore();
    await store.hosts.upsertMany([host('web-01', ['203.0.113.0/24']), host('web-02', ['198.51.100.0/24'], 'cust-2')]);
    const clock = new ManualClock(new Date('2026-03-01T12:00:00Z'));
    const changed: string[] = [];
    let commits = 0;
    store.db.onCommit(() => commits++);
    const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: pino({ level: 'silent' }), onHostChanged: (h) => changed.push(h), onOutbox() {}, onDeadlinesChanged() {} });
    const complaint = (ip: string, category: 'spam' | 'phishing') => ({ ip, category, reporter: 'x', reporterKind: 'upstream' as const, eventTime: undefined, evidence: '', raw: 'r' });
    for (const [ip, category] of [['203.0.113.5', 'spam'], ['198.51.100.5', 'spam'], ['203.0.113.6', 'phishing']] as const) {
      await service.submitComplaint(complaint(ip, category), 'test');
    }
    const open = await store.incidents.list({ limit: 10 });
    for (const i of open) await service.apply(i.id, { type: 'notice_sent' }, 'mail');
    const due = await Promise.all(open.map(async (i) => ({ id: i.id, dueAt: (await store.incidents.get(i.id))!.ackDueAt! })));
    clock.set(new Date(Math.max(...due.map((d) => d.dueAt.getTime())) + 1));
    const before = new Map((await store.incidents.list({ limit: 10 })).map((i) => [i.id, i.state]));
    const eventsBefore = (await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM incident_events'))!.n;
    commits = 0;
    changed.length = 0;

    let refused = 0;
    const failed = await service.applyMany(
      [
        ...due.map((d) => ({ incidentId: d.id, event: { type: 'deadline' as const, dueAt: d.dueAt } })),
        { incidentId: 'no-such-incident', event: { type: 'deadline' as const, dueAt: due[0]!.dueAt } },
        // The same deadline again in the page (a replayed or re-read one): stale by then, it changes nothing.
        { incidentId: due[1]!.id, event: { type: 'deadline' as const, dueAt: due[1]!.dueAt } },
        // Claimed by another replica: refused before anything is read, and nothing of it is written.
        { incidentId: due[0]!.id, event: { type: 'deadline' as const, dueAt: due[0]!.dueAt }, within: async () => {
            refused++;
            throw new Error('claimed elsewhere');
          },
        },
      ],
      'clock',
    );
    expect([...failed.keys()].sort()).toEqual(['no-such-incident', due[0]!.id].sort());
    expect(failed.get('no-such-incident')).toMatchObject({ kind: 'not_found' });
    expect(refused).toBe(1);
    expect(commits).toBe(1);
    const after = await store.incidents.list({ limit: 10 });
    for (const i of after) expect(i.state).not.toBe(before.get(i.id));
    // One deadline event per incident (neither the replayed nor the refused duplicate wrote one), and the audit chain holds.
    const events = await store.db.all<{ incident_id: string }>("SELECT incident_id FROM incident_events WHERE id > ? AND type = 'deadline'", [eventsBefore]);
    expect(events.map((e) => e.incident_id).sort()).toEqual(due.map((d) => d.id).sort());
    expect((await store.audit.verify()).ok).toBe(true);
  });
});
