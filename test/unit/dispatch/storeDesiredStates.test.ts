import { describe, expect, it } from 'vitest';
import type { DesiredState } from '../../../proto/gen/cordon/v1/agent.js';
import { StoreDesiredStates } from '../../../controller/dispatch/StoreDesiredStates.js';
import { at, incident, seededStore } from '../store/storeFixtures.js';

async function twoHosts() {
  const store = await seededStore();
  await store.incidents.insert(incident({ id: 'inc-a' }), undefined);
  await store.incidents.insert(incident({ id: 'inc-c', hostId: 'web-02', customerId: 'cust-2' }), undefined);
  const desired = new StoreDesiredStates(store, []);
  const got = new Map<string, DesiredState[]>([['web-01', []], ['web-02', []]]);
  for (const [h, list] of got) desired.subscribe(h, (s) => list.push(s));
  let reads = 0;
  const getMany = store.desired.getMany.bind(store.desired);
  store.desired.getMany = (ids) => (reads++, getMany(ids));
  return { store, desired, got, reads: () => reads };
}

describe('StoreDesiredStates', () => {
  it('reads the hosts changed in one turn together and pushes each its own state', async () => {
    const { store, desired, got, reads } = await twoHosts();
    await store.desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'spam', { at: at(0), automatic: false });
    await store.desired.setIncidentActions('web-02', 'inc-c', [{ kind: 'isolate' }], 'ddos', { at: at(0), automatic: false });
    // Twice for web-01 in the same turn (two commits touching it): one read, one push.
    await Promise.all([desired.changed('web-01'), desired.changed('web-02'), desired.changed('web-01')]);
    expect(reads()).toBe(1);
    expect(got.get('web-01')!.map((s) => [s.generation, s.enforcements.map((e) => e.id)])).toEqual([[1n, ['inc-a:smtp_block']]]);
    expect(got.get('web-02')!.map((s) => [s.generation, s.enforcements.map((e) => e.id)])).toEqual([[1n, ['inc-c:isolate']]]);
    // A host nobody listens to costs no read; one never changed gets no push.
    await desired.changed('web-99');
    expect(reads()).toBe(1);
  });

  it('pushes batches in the order they were read: a later change never arrives before an earlier one', async () => {
    const { store, desired, got } = await twoHosts();
    await store.desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'spam', { at: at(0), automatic: false });
    const first = desired.changed('web-01');
    await new Promise((r) => setImmediate(r));
    await store.desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }, { kind: 'isolate' }], 'worse', { at: at(1), automatic: false });
    await Promise.all([first, desired.changed('web-01')]);
    expect(got.get('web-01')!.map((s) => s.generation)).toEqual([1n, 2n]);
  });

  it('fails the callers of a batch whose read failed, and serves the next batch', async () => {
    const { store, desired, got } = await twoHosts();
    await store.desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'spam', { at: at(0), automatic: false });
    const getMany = store.desired.getMany;
    store.desired.getMany = async () => {
      throw new Error('database gone');
    };
    await expect(desired.changed('web-01')).rejects.toThrow('database gone');
    store.desired.getMany = getMany;
    await desired.changed('web-01');
    expect(got.get('web-01')!.map((s) => s.generation)).toEqual([1n]);
  });

  it('answers the Hellos of one turn from one read, each with its own host\'s state, none for a host never restricted', async () => {
    const { store, desired, reads } = await twoHosts();
    await store.desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'spam', { at: at(0), automatic: false });
    const [a, b, again] = await Promise.all([desired.get('web-01'), desired.get('web-02'), desired.get('web-01')]);
    expect(reads()).toBe(1);
    expect(a?.enforcements.map((e) => e.id)).toEqual(['inc-a:smtp_block']);
    expect(again).toEqual(a);
    expect(b).toBeUndefined();
    // A failed read fails its callers only; the next Hello is read again.
    const getMany = store.desired.getMany;
    store.desired.getMany = async () => {
      throw new Error('database gone');
    };
    await expect(desired.get('web-01')).rejects.toThrow('database gone');
    store.desired.getMany = getMany;
    expect((await desired.get('web-01'))?.generation).toBe(1n);
  });
});
