import { describe, expect, it } from 'vitest';
import { at, incident, seededStore } from './storeFixtures.js';

const MIN = 60_000;
const plus = (d: Date, ms: number) => new Date(d.getTime() + ms);

describe('OutboxRepo', () => {
  it('byMessageId names a mail row only with its own ref; latestMail finds the newest of a template', async () => {
    const { outbox, incidents } = await seededStore();
    await incidents.insert(incident(), undefined);
    const customer = { id: 'acme', name: 'ACME', email: 'Ops@Acme.example' };
    const notice = await outbox.enqueue({ kind: 'mail', incidentId: 'inc-1', payload: { template: 'notice', customer }, availableAt: at(0) });
    const outcome = await outbox.enqueue({ kind: 'mail', payload: { template: 'reporter_outcome', to: { name: 'r', email: 'fbl@isp.example' } }, availableAt: at(0) });
    const push = await outbox.enqueue({ kind: 'push', incidentId: 'inc-1', payload: { template: 'notice', customer }, availableAt: at(0) });
    const again = await outbox.enqueue({ kind: 'mail', incidentId: 'inc-1', payload: { template: 'notice', customer }, availableAt: at(1) });
    const ref = (await outbox.get(notice))!.ref;
    expect(await outbox.byMessageId(notice, ref)).toEqual({ outboxId: notice, incidentId: 'inc-1', template: 'notice', recipient: 'Ops@Acme.example', toCustomer: true, status: 'pending' });
    expect(await outbox.byMessageId(outcome, (await outbox.get(outcome))!.ref)).toMatchObject({ incidentId: undefined, recipient: 'fbl@isp.example', toCustomer: false });
    // Another row's ref, a flipped digit, a row that is not mail: nothing.
    expect(await outbox.byMessageId(notice, (await outbox.get(again))!.ref)).toBeUndefined();
    expect(await outbox.byMessageId(notice, ref.slice(0, -1) + (ref.endsWith('0') ? '1' : '0'))).toBeUndefined();
    expect(await outbox.byMessageId(push, (await outbox.get(push))!.ref)).toBeUndefined();
    expect(await outbox.byMessageId(notice, '')).toBeUndefined();
    expect(await outbox.latestMail('inc-1', 'notice')).toEqual({ id: again, status: 'pending' });
    expect(await outbox.latestMail('inc-1', 'closed')).toBeUndefined();
  });

  it('hands out due messages once under a lease, oldest first', async () => {
    const { outbox, incidents } = await seededStore();
    await incidents.insert(incident(), undefined);
    const first = await outbox.enqueue({ kind: 'mail', incidentId: 'inc-1', payload: { template: 'notice', at: at(0) }, availableAt: at(0) });
    await outbox.enqueue({ kind: 'push', payload: { hostId: 'web-01' }, availableAt: at(1) });
    expect(await outbox.claimDue(plus(at(0), -1), 10)).toEqual([]);
    const claimed = await outbox.claimDue(at(0), 10, MIN);
    expect(claimed).toEqual([
      {
        id: first,
        kind: 'mail',
        incidentId: 'inc-1',
        payload: { template: 'notice', at: at(0).toISOString() },
        status: 'in_flight',
        dueAt: plus(at(0), MIN),
        attempts: 1,
        lastError: undefined,
        lease: expect.any(String),
        ref: expect.stringMatching(/^[0-9a-f]{32}$/),
      },
    ]);
    // Still leased: nobody else gets it, and the push is not due yet.
    expect(await outbox.claimDue(plus(at(0), MIN - 1), 10)).toEqual([]);
    await outbox.markDone(claimed[0]!);
    expect((await outbox.get(first))?.status).toBe('done');
    expect((await outbox.claimDue(at(1), 10, MIN)).map((m) => [m.kind, m.attempts])).toEqual([['push', 1]]);
    // The push's lease ran out unsettled: due again, one more attempt; the done mail never comes back.
    expect((await outbox.claimDue(plus(at(1), MIN), 10)).map((m) => [m.kind, m.attempts])).toEqual([['push', 2]]);
  });

  it('makes an expired lease due again and fences the worker that lost it', async () => {
    const { outbox } = await seededStore();
    const id = await outbox.enqueue({ kind: 'mail', payload: {}, availableAt: at(0) });
    const [slow] = await outbox.claimDue(at(0), 1, MIN);
    const [fast] = await outbox.claimDue(plus(at(0), MIN), 1, MIN);
    expect(fast).toMatchObject({ id, attempts: 2 });
    expect(fast!.lease).not.toBe(slow!.lease);
    await expect(outbox.markDone(slow!)).rejects.toMatchObject({ kind: 'conflict', field: 'lease' });
    await expect(outbox.markFailed(slow!, 'late', null)).rejects.toMatchObject({ kind: 'conflict' });
    await outbox.markDone(fast!);
    await expect(outbox.markDone(fast!)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('retries a failure at the given time, counting attempts, and gives up when told', async () => {
    const { outbox } = await seededStore();
    const id = await outbox.enqueue({ kind: 'mail', payload: { n: 1 }, availableAt: at(0) });
    const [c1] = await outbox.claimDue(at(0), 1);
    await outbox.markFailed(c1!, 'smtp 451 try later', at(1));
    expect(await outbox.get(id)).toMatchObject({ status: 'pending', dueAt: at(1), attempts: 1, lastError: 'smtp 451 try later', lease: undefined });
    expect(await outbox.nextDueAt()).toEqual(at(1));
    expect(await outbox.claimDue(plus(at(1), -1), 1)).toEqual([]);
    const [c2] = await outbox.claimDue(at(1), 1);
    expect(c2?.attempts).toBe(2);
    await outbox.markFailed(c2!, 'smtp 550 no such user', null);
    expect(await outbox.get(id)).toMatchObject({ status: 'dead', attempts: 2, lastError: 'smtp 550 no such user' });
    expect(await outbox.claimDue(at(100), 10)).toEqual([]);
    expect(await outbox.nextDueAt()).toBeUndefined();
    expect((await outbox.list({ status: 'dead' })).map((m) => m.id)).toEqual([id]);
  });

  it('claims only the kinds a worker asks for', async () => {
    const { outbox } = await seededStore();
    await outbox.enqueue({ kind: 'push', payload: {}, availableAt: at(0) });
    const mail = await outbox.enqueue({ kind: 'mail', payload: {}, availableAt: at(0) });
    expect((await outbox.claimDue(at(0), 10, MIN, ['mail'])).map((m) => m.id)).toEqual([mail]);
    expect((await outbox.claimDue(at(0), 10, MIN, ['bmc_check']))).toEqual([]);
    expect((await outbox.list({ status: 'pending' })).map((m) => m.kind)).toEqual(['push']);
  });

  it('never gives one message to two concurrent claimers', async () => {
    const { outbox } = await seededStore();
    for (let i = 0; i < 50; i++) await outbox.enqueue({ kind: 'mail', payload: { i }, availableAt: at(0) });
    const batches = await Promise.all(Array.from({ length: 5 }, () => outbox.claimDue(at(0), 20)));
    const ids = batches.flat().map((m) => m.id);
    expect(ids).toHaveLength(50);
    expect(new Set(ids).size).toBe(50);
  });
});

describe('OutboxRepo with large texts', () => {
  it('stores a large string of the payload once, as a blob, and gives the payload back whole', async () => {
    const store = await seededStore();
    const report = `Received: from somewhere\r\n\r\n${'x'.repeat(40_000)} trailing  \r\n`;
    const payload = { complaint: { id: 'c-1', raw: report }, list: ['short', report], n: 3 };
    const a = await store.outbox.enqueue({ kind: 'mail', payload, availableAt: new Date(0) });
    const b = await store.outbox.enqueue({ kind: 'mail', payload, availableAt: new Date(0) });
    expect((await store.outbox.get(a))!.payload).toEqual(payload);
    expect((await store.outbox.list()).map((m) => m.id)).toEqual([a, b]);
    expect((await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM blobs'))!.n).toBe(1);
    expect((await store.db.get<{ len: number }>('SELECT length(payload_json) AS len FROM outbox WHERE id = ?', [a]))!.len).toBeLessThan(500);
    const [claimed] = await store.outbox.claimDue(new Date(1), 1);
    expect(claimed!.payload).toEqual(payload);
  });
});
