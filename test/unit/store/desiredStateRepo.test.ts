import { describe, expect, it } from 'vitest';
import { at, incident, seededStore } from './storeFixtures.js';

async function withIncidents() {
  const store = await seededStore();
  await store.incidents.insert(incident({ id: 'inc-a' }), undefined);
  await store.incidents.insert(incident({ id: 'inc-b', category: 'ddos' }), undefined);
  await store.incidents.insert(incident({ id: 'inc-c', hostId: 'web-02', customerId: 'cust-2' }), undefined);
  return store;
}

const auto = { at: at(0), automatic: true };

describe('DesiredStateRepo', () => {
  it('starts at generation 0 and bumps exactly once per change, never for a repeat', async () => {
    const { desired } = await withIncidents();
    expect(await desired.get('web-01')).toEqual({ generation: 0, issuedAt: undefined, enforcements: [] });
    expect(await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'spam unanswered', auto)).toBe(1);
    expect(await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'spam unanswered', auto)).toBe(1);
    expect(await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }, { kind: 'isolate' }], 'step 2', { at: at(1), automatic: true })).toBe(2);
    expect(await desired.setIncidentActions('web-01', 'inc-b', [{ kind: 'throttle', rateBps: 10_000_000 }], 'ddos', auto)).toBe(3);
    expect(await desired.setIncidentActions('web-01', 'inc-b', [{ kind: 'throttle', rateBps: 5_000_000 }], 'ddos', auto)).toBe(4);
    expect(await desired.setIncidentActions('web-01', 'inc-b', [{ kind: 'throttle', rateBps: 5_000_000 }], 'ddos, again', auto)).toBe(5);
    expect(await desired.setIncidentActions('web-01', 'inc-a', [], 'released', auto)).toBe(6);
    expect(await desired.setIncidentActions('web-01', 'inc-a', [], 'released', auto)).toBe(6);
    // Another host has its own generation.
    expect(await desired.setIncidentActions('web-02', 'inc-c', [{ kind: 'nic_down' }], 'x', auto)).toBe(1);
    expect(await desired.get('web-01')).toEqual({
      generation: 6,
      issuedAt: at(0),
      enforcements: [{ id: 'inc-b:throttle', incidentId: 'inc-b', reason: 'ddos, again', action: { kind: 'throttle', rateBps: 5_000_000 } }],
    });
  });

  it('gives each enforcement an id stable per incident and kind', async () => {
    const { desired } = await withIncidents();
    await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block', ports: [25] }], 'r1', auto);
    await desired.setIncidentActions('web-01', 'inc-b', [{ kind: 'isolate' }], 'r2', auto);
    await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'isolate' }, { kind: 'smtp_block', ports: [25] }], 'r1', auto);
    const state = await desired.get('web-01');
    expect(state.enforcements.map((e) => e.id)).toEqual(['inc-a:isolate', 'inc-a:smtp_block', 'inc-b:isolate']);
    expect(state.enforcements[1]).toEqual({ id: 'inc-a:smtp_block', incidentId: 'inc-a', reason: 'r1', action: { kind: 'smtp_block', ports: [25] } });
  });

  it('refuses acting on another host than the incident’s, and bad actions, changing nothing', async () => {
    const store = await withIncidents();
    const { desired } = store;
    await expect(desired.setIncidentActions('web-02', 'inc-a', [{ kind: 'isolate' }], 'x', auto)).rejects.toMatchObject({
      kind: 'refused',
      message: expect.stringMatching(/inc-a belongs to host web-01, not web-02/),
    });
    await expect(desired.setIncidentActions('web-01', 'inc-z', [{ kind: 'isolate' }], 'x', auto)).rejects.toMatchObject({ kind: 'not_found' });
    await expect(desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'throttle', rateBps: -1 }], 'x', auto)).rejects.toMatchObject({ field: 'actions[0]' });
    await expect(desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'isolate' }, { kind: 'isolate' }], 'x', auto)).rejects.toMatchObject({ field: 'actions[1]' });
    await expect(desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'isolate' }], ' ', auto)).rejects.toMatchObject({ field: 'reason' });
    expect((await desired.get('web-02')).generation).toBe(0);
    // A caller that vouches for a fresh incident skips the reads, but not the rule: the key refuses it.
    await expect(desired.setIncidentActions('web-02', 'inc-a', [{ kind: 'isolate' }], 'x', { ...auto, freshIncident: true })).rejects.toMatchObject({ kind: 'conflict' });
    expect((await desired.get('web-02')).generation).toBe(0);
    // The composite foreign key holds the same rule against raw SQL.
    await expect(store.db.run("INSERT INTO enforcements VALUES ('inc-a', 'web-02', 'isolate', '{}', 'x', 0)")).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('counts automatic starts since a time: new kinds only, operators’ not', async () => {
    const { desired } = await withIncidents();
    await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'r', { at: at(0), automatic: true });
    await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }], 'r changed', { at: at(1), automatic: true });
    await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'smtp_block' }, { kind: 'isolate' }], 'r', { at: at(2), automatic: true });
    await desired.setIncidentActions('web-01', 'inc-b', [{ kind: 'isolate' }], 'operator', { at: at(2), automatic: false });
    expect(await desired.countAutomaticSince(at(0))).toBe(2);
    expect(await desired.countAutomaticSince(at(1))).toBe(1);
    expect(await desired.countAutomaticSince(at(3))).toBe(0);
  });

  it('records the agent’s status per host', async () => {
    const store = await withIncidents();
    const { desired } = store;
    expect(await desired.status('web-01')).toBeUndefined();
    await desired.recordStatus('web-01', { status: 'failed', appliedGeneration: 3, error: 'nft: syntax', at: at(1) });
    await desired.recordStatus('web-01', { status: 'applied', appliedGeneration: 4, at: at(2) });
    expect(await desired.status('web-01')).toEqual({ status: 'applied', appliedGeneration: 4, error: undefined, reportedAt: at(2) });
    await expect(desired.recordStatus('web-01', { status: 'fine' as never, at: at(3) })).rejects.toMatchObject({ field: 'status' });
    await expect(desired.recordStatus('ghost', { status: 'pending', at: at(3) })).rejects.toMatchObject({ kind: 'conflict' });
    // The generation never goes back, whoever writes.
    await desired.setIncidentActions('web-01', 'inc-a', [{ kind: 'isolate' }], 'r', auto);
    await expect(store.db.run("UPDATE host_desired SET generation = 0 WHERE host_id = 'web-01'")).rejects.toThrow(/only grows/);
  });
});
