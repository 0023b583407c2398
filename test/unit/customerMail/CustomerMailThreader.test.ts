import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { CustomerMailThreader, mayBeCustomerMail } from '../../../controller/intake/customerMail/CustomerMailThreader.js';
import type { Store } from '../../../controller/store/Store.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { seededStore, T0 } from '../store/storeFixtures.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/customer-mail');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const stores: Store[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

async function setup() {
  const store = await seededStore();
  stores.push(store);
  await store.customers.upsert({ id: 'cust-1', name: 'ACME', email: 'ops@acme.example' });
  const clock = new ManualClock(T0);
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: silentLogger(), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  const opened = await service.submitComplaint({ ip: '203.0.113.10', category: 'spam', reporter: 'fbl', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: 'spam' }, 'olga');
  const incidentId = opened.incidentId!;
  await service.apply(incidentId, { type: 'notice_sent' }, 'mail');
  const threader = new CustomerMailThreader({ store, service, clock: () => clock.now(), log: silentLogger() });
  /** The Message-ID of the newest outbox mail of `template`, as the worker would send it. */
  const idOf = async (template: string) => {
    const row = (await store.outbox.list()).filter((m) => m.kind === 'mail' && (m.payload as { template?: string }).template === template).at(-1)!;
    return { row, id: `outbox-${row.id}.${row.ref}` };
  };
  const bounceOf = (id: string, messageId = 'b1') => Buffer.from(fixture('postfix-dsn-failed.eml').replaceAll('outbox-7.0123456789abcdef0123456789abcdef', id).replace('4A1B2C3D4E@mx', `${messageId}@mx`));
  return { store, service, clock, threader, incidentId, idOf, bounceOf };
}

describe('CustomerMailThreader', () => {
  it('leaves mail that names nothing of ours to intake, unparsed', async () => {
    const t = await setup();
    expect(mayBeCustomerMail(Buffer.from(fixture('spam-complaint.eml')))).toBe(false);
    expect(await t.threader.thread(Buffer.from(fixture('spam-complaint.eml')), 'olga')).toBeUndefined();
    const stranger = fixture('subject-tag-stranger.eml').replace('inc-20260302-a1b2c3d4', t.incidentId);
    expect(await t.threader.thread(Buffer.from(stranger), 'olga')).toBeUndefined();
    expect(await t.store.customerMessages.listByIncident(t.incidentId)).toEqual([]);
  });

  it('a bounce of the notice pauses the deadlines once; the same bounce again records nothing', async () => {
    const t = await setup();
    const { id } = await t.idOf('notice');
    expect(await t.threader.thread(t.bounceOf(id), 'olga')).toMatchObject({ incidentId: t.incidentId, kind: 'bounce', recorded: true, paused: true });
    expect(await t.threader.thread(t.bounceOf(id), 'olga')).toMatchObject({ recorded: false });
    expect((await t.store.customerMessages.listByIncident(t.incidentId)).map((m) => m.kind)).toEqual(['bounce']);
    expect((await t.store.events.list(t.incidentId)).filter((e) => e.type === 'notice_bounced')).toHaveLength(1);
  });

  it('a bounce of another mail of the incident is recorded, and the notice clock runs on', async () => {
    const t = await setup();
    await t.service.queueMail(t.incidentId, 'closed', 'olga', 'test');
    const { id } = await t.idOf('closed');
    const r = await t.threader.thread(t.bounceOf(id), 'olga');
    expect(r).toMatchObject({ kind: 'bounce', recorded: true, paused: false, reason: expect.stringContaining('not of the notice') });
    expect((await t.store.incidents.get(t.incidentId))!.noticeUndeliveredAt).toBeUndefined();
    expect((await t.store.events.list(t.incidentId)).map((e) => e.type)).toContain('customer_mail');
  });

  it('a late bounce of an old notice, after a newer one was delivered, pauses nothing', async () => {
    const t = await setup();
    const { id: old } = await t.idOf('notice');
    await t.service.queueMail(t.incidentId, 'notice', 'olga', 'resend');
    const [claimed] = await t.store.outbox.claimDue(t.clock.now(), 10, 60_000, ['mail']).then((c) => c.filter((m) => m.id === c.at(-1)!.id));
    await t.store.outbox.markDone(claimed!);
    const r = await t.threader.thread(t.bounceOf(old), 'olga');
    expect(r).toMatchObject({ kind: 'bounce', recorded: true, paused: false, reason: expect.stringContaining('newer notice') });
    expect((await t.store.incidents.get(t.incidentId))!.noticeUndeliveredAt).toBeUndefined();
  });

  it('a reply is no answer: the state stays, the reply is kept with the whole mail', async () => {
    const t = await setup();
    const { id } = await t.idOf('notice');
    const reply = fixture('outlook-reply.eml').replaceAll('outbox-7.0123456789abcdef0123456789abcdef', id).replaceAll('Ops@Acme.example', 'ops@acme.example');
    expect(await t.threader.thread(Buffer.from(reply), 'olga')).toMatchObject({ kind: 'reply', recorded: true });
    const [m] = await t.store.customerMessages.listByIncident(t.incidentId);
    expect(m).toMatchObject({ kind: 'reply', answer: undefined, actor: 'ops@acme.example' });
    expect(m!.body).toContain('removed it');
    const raw = await t.store.db.get<{ text: string }>('SELECT text FROM blobs WHERE sha256 = ?', [m!.rawSha256!]);
    expect(raw!.text).toBe(reply);
    expect((await t.store.incidents.get(t.incidentId))!.state).toBe('notified');
    // A forged bounce by the customer, who has written since, pauses nothing.
    expect(await t.threader.thread(t.bounceOf(id), 'olga')).toMatchObject({ kind: 'bounce', paused: false, reason: expect.stringContaining('answered or written') });
  });
});
