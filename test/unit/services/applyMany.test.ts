import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { CustomerLinks } from '../../../controller/customer/CustomerLinks.js';
import type { ReporterKind } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import type { Store } from '../../../controller/store/Store.js';
import { fileStore, host } from '../store/storeFixtures.js';

const T0 = new Date('2026-03-01T12:00:00Z');

/**
 * Six hosts of two customers (with notice addresses and customer links),
 * an incident on each notified, some trusted (their deadline restricts the
 * host) and some not; the clock set past every acknowledge deadline.
 */
async function world() {
  const store = await fileStore();
  await store.customers.upsert({ id: 'cust-1', name: 'One', email: 'noc@one.example' });
  await store.customers.upsert({ id: 'cust-2', name: 'Two', email: 'noc@two.example' });
  const hosts = Array.from({ length: 6 }, (_, k) => host(`web-0${k + 1}`, [`203.0.113.${16 * k}/28`], k < 3 ? 'cust-1' : 'cust-2'));
  await store.hosts.upsertMany(hosts);
  const clock = new ManualClock(T0);
  const changed: string[] = [];
  const links = new CustomerLinks(store, { secret: Buffer.alloc(32, 7), publicUrl: 'https://abuse.example', ttlDays: 30 });
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: pino({ level: 'silent' }), links, onHostChanged: (h) => changed.push(h), onOutbox() {}, onDeadlinesChanged() {} });
  const kinds: ReporterKind[] = ['upstream', 'individual', 'cert', 'anonymous', 'upstream', 'individual'];
  for (const [k, kind] of kinds.entries()) {
    await service.submitComplaint({ ip: `203.0.113.${16 * k + 5}`, category: 'spam', reporter: 'x', reporterKind: kind, eventTime: undefined, evidence: '', raw: 'r' }, 'test');
  }
  const open = await store.incidents.list({ limit: 20 });
  for (const i of open) await service.apply(i.id, { type: 'notice_sent' }, 'mail');
  // In host order, so two worlds (whose incident ids are random) fire theirs in the same order.
  const due = (await Promise.all(open.map(async (i) => ({ id: i.id, hostId: i.hostId, dueAt: (await store.incidents.get(i.id))!.ackDueAt! })))).sort(
    (a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.hostId.localeCompare(b.hostId),
  );
  clock.set(new Date(Math.max(...due.map((d) => d.dueAt.getTime())) + 1));
  return { store, service, due, changed };
}

/** What a page of deadlines leaves behind, without what is random by design (link ids, outbox refs, row ids). */
async function outcome(store: Store, eventsAfter: number, outboxAfter: number) {
  const incidents = (await store.incidents.list({ limit: 20 })).map((i) => ({ ...i, id: i.id.replace(/-[0-9a-f]{8}$/, '') }));
  const events = await store.db.all<{ type: string; from_state: string; to_state: string; actor: string; detail_json: string }>(
    'SELECT type, from_state, to_state, actor, detail_json FROM incident_events WHERE id > ? ORDER BY id',
    [eventsAfter],
  );
  const outbox = (await store.db.all<{ kind: string; payload_json: string }>('SELECT kind, payload_json FROM outbox WHERE id > ? ORDER BY id', [outboxAfter])).map((r) => ({
    kind: r.kind,
    payload: r.payload_json.replace(/"linkId":"[^"]+"/g, '"linkId":"…"').replace(/inc-\d{8}-[0-9a-f]{8}/g, 'inc'),
  }));
  const desired = await Promise.all(['web-01', 'web-02', 'web-03', 'web-04', 'web-05', 'web-06'].map(async (h) => (await store.desired.get(h)).enforcements.map((e) => e.action.kind)));
  const audit = (await store.audit.list({ limit: 1000 })).map((a) => a.action);
  const liveLinks = (await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM customer_links WHERE revoked_at IS NULL'))!.n;
  return {
    incidents: [...incidents].sort((x, y) => x.hostId.localeCompare(y.hostId)).map((i) => ({ hostId: i.hostId, state: i.state, step: i.step, actions: i.actions, overdue: i.overdue, escalatedAt: i.escalatedAt })),
    events: events.map((e) => ({ ...e, detail_json: e.detail_json.replace(/inc-\d{8}-[0-9a-f]{8}/g, 'inc') })),
    outbox,
    desired,
    audit,
    liveLinks,
    chain: (await store.audit.verify()).ok,
  };
}

const marks = async (store: Store) => ({
  events: (await store.db.get<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM incident_events'))!.n,
  outbox: (await store.db.get<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM outbox'))!.n,
});

/** Counts the statements a store runs while `fn` does (transactions' own BEGIN and COMMIT aside). */
async function statementsDuring(store: Store, fn: () => Promise<unknown>): Promise<number> {
  const db = store.db as unknown as Record<'run' | 'get' | 'all', (...a: unknown[]) => Promise<unknown>>;
  const saved = { run: db.run, get: db.get, all: db.all };
  let n = 0;
  for (const m of ['run', 'get', 'all'] as const) {
    db[m] = (...a: unknown[]) => {
      n++;
      return saved[m].apply(store.db, a);
    };
  }
  try {
    await fn();
  } finally {
    Object.assign(db, saved);
  }
  return n;
}

describe('IncidentService.applyMany', () => {
  it('leaves the store exactly as firing the same deadlines one by one does: incidents, events, mail, links, restrictions, audit', async () => {
    const one = await world();
    const page = await world();
    const [m1, m2] = [await marks(one.store), await marks(page.store)];
    for (const d of one.due) await one.service.apply(d.id, { type: 'deadline', dueAt: d.dueAt }, 'clock');
    page.changed.length = 0;
    const failed = await page.service.applyMany(page.due.map((d) => ({ incidentId: d.id, event: { type: 'deadline', dueAt: d.dueAt } })), 'clock');
    expect(failed.size).toBe(0);
    const [a, b] = [await outcome(one.store, m1.events, m1.outbox), await outcome(page.store, m2.events, m2.outbox)];
    expect(b).toEqual(a);
    // The page did something worth comparing: trusted incidents restricted their hosts, every one escalated and mailed with its link.
    expect(b.desired.filter((d) => d.length > 0).length).toBeGreaterThan(0);
    expect(b.incidents.every((i) => i.escalatedAt !== undefined)).toBe(true);
    expect(b.outbox.filter((m) => m.kind === 'mail' && m.payload.includes('"linkId"')).length).toBe(6);
    expect(b.chain).toBe(true);
    expect(new Set(page.changed)).toEqual(new Set(b.desired.flatMap((d, k) => (d.length > 0 ? [`web-0${k + 1}`] : []))));
  });

  it('reads and writes a page in bulk: statements grow by about one per deadline (its UPDATE), not a dozen', async () => {
    const small = await world();
    const big = await world();
    // Twelve more untrusted incidents on the big world's hosts, due with the rest.
    for (let k = 0; k < 12; k++) {
      await big.service.submitComplaint(
        { ip: `203.0.113.${16 * (k % 6) + 9}`, category: k < 6 ? 'phishing' : 'malware', reporter: 'x', reporterKind: 'individual', eventTime: undefined, evidence: '', raw: 'r' },
        'test',
      );
    }
    const extra = (await big.store.incidents.list({ limit: 50 })).filter((i) => i.state === 'received');
    for (const i of extra) await big.service.apply(i.id, { type: 'notice_sent' }, 'mail');
    const all = await Promise.all((await big.store.incidents.list({ limit: 50 })).map(async (i) => ({ id: i.id, hostId: i.hostId, dueAt: (await big.store.incidents.get(i.id))!.ackDueAt! })));
    const fire = (w: typeof small, due: typeof all) => () => w.service.applyMany(due.map((d) => ({ incidentId: d.id, event: { type: 'deadline' as const, dueAt: d.dueAt } })), 'clock');
    (big.service as unknown as { deps: { clock: ManualClock } }).deps.clock.set(new Date(Math.max(...all.map((d) => d.dueAt.getTime())) + 1));
    const nSmall = await statementsDuring(small.store, fire(small, small.due));
    const nBig = await statementsDuring(big.store, fire(big, all));
    expect(all.length).toBe(18);
    // The twelve untrusted escalations cost their UPDATEs and a few reads shared with the page, nothing per incident besides.
    expect(nBig - nSmall).toBeLessThanOrEqual(12 + 4);
    const escalated = (await big.store.incidents.list({ limit: 50 })).filter((i) => i.escalatedAt !== undefined);
    expect(escalated.length).toBe(18);
  });

  it('falls back to one savepoint per event when one fails: the failure is undone alone, the rest committed in one transaction', async () => {
    const { store, service, due } = await world();
    let commits = 0;
    store.db.onCommit(() => commits++);
    const eventsBefore = (await marks(store)).events;
    const failed = await service.applyMany(
      [
        ...due.map((d) => ({ incidentId: d.id, event: { type: 'deadline' as const, dueAt: d.dueAt } })),
        { incidentId: 'no-such-incident', event: { type: 'deadline' as const, dueAt: due[0]!.dueAt } },
        // The same deadline again in the page (a replayed or re-read one): stale by then, it changes nothing.
        { incidentId: due[1]!.id, event: { type: 'deadline' as const, dueAt: due[1]!.dueAt } },
      ],
      'clock',
    );
    expect([...failed.keys()]).toEqual(['no-such-incident']);
    expect(failed.get('no-such-incident')).toMatchObject({ kind: 'not_found' });
    expect(commits).toBe(1);
    const events = await store.db.all<{ incident_id: string }>("SELECT incident_id FROM incident_events WHERE id > ? AND type = 'deadline'", [eventsBefore]);
    expect(events.map((e) => e.incident_id).sort()).toEqual(due.map((d) => d.id).sort());
    expect((await store.audit.verify()).ok).toBe(true);
  });

  it('skips what another replica claimed, on the bulk path and on the fallback alike: nothing of it is read or written', async () => {
    for (const withFailure of [false, true]) {
      const { store, service, due } = await world();
      const eventsBefore = (await marks(store)).events;
      const elsewhere = due[0]!.id;
      const asked: string[][] = [];
      const items = due.map((d) => ({ incidentId: d.id, event: { type: 'deadline' as const, dueAt: d.dueAt } }));
      if (withFailure) items.push({ incidentId: 'no-such-incident', event: { type: 'deadline', dueAt: due[0]!.dueAt } });
      const failed = await service.applyMany(items, 'clock', {
        claim: async (ids) => {
          asked.push([...ids]);
          return new Set(ids.filter((id) => id !== elsewhere));
        },
      });
      expect([...failed.keys()]).toEqual(withFailure ? ['no-such-incident'] : []);
      const events = await store.db.all<{ incident_id: string }>("SELECT incident_id FROM incident_events WHERE id > ? AND type = 'deadline'", [eventsBefore]);
      expect(events.map((e) => e.incident_id).sort()).toEqual(due.slice(1).map((d) => d.id).sort());
      expect((await store.incidents.get(elsewhere))!.escalatedAt).toBeUndefined();
      // Bulk: one claim for the page; after a failure, one claim per event.
      expect(asked.length).toBe(withFailure ? 1 + items.length : 1);
    }
  });
});
