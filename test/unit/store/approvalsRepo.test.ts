import { describe, expect, it } from 'vitest';
import { testEngine } from '../../helpers/testStore.js';
import { at, seededStore } from './storeFixtures.js';

const request = { id: 'ap-1', requestedBy: 'olga', at: at(0), action: { kind: 'isolate' }, targets: ['web-02', 'web-01'], reason: 'botnet C2 on both' };

describe('ApprovalsRepo', () => {
  it('needs a second operator: the requester may not approve, another may, once', async () => {
    const store = await seededStore();
    const created = await store.approvals.create(request);
    expect(created).toEqual({
      id: 'ap-1',
      requestedBy: 'olga',
      requestedAt: at(0),
      action: { kind: 'isolate' },
      targets: ['web-01', 'web-02'],
      reason: 'botnet C2 on both',
      status: 'pending',
      decidedBy: undefined,
      decidedAt: undefined,
    });
    await expect(store.approvals.approve('ap-1', 'olga', at(1))).rejects.toMatchObject({ kind: 'permission', field: 'by' });
    expect(await store.approvals.approve('ap-1', 'piet', at(2))).toMatchObject({ status: 'approved', decidedBy: 'piet', decidedAt: at(2) });
    await expect(store.approvals.approve('ap-1', 'quinn', at(3))).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/already approved by piet/) });
    await expect(store.approvals.reject('ap-1', 'quinn', at(3), 'too late')).rejects.toMatchObject({ kind: 'conflict' });
    await expect(store.approvals.approve('ap-9', 'piet', at(3))).rejects.toMatchObject({ kind: 'not_found' });
    // The four-eyes rule holds in the schema too.
    await store.approvals.create({ ...request, id: 'ap-2' });
    await expect(store.db.run("UPDATE approvals SET status = 'approved', decided_by = 'olga', decided_at = 1 WHERE id = 'ap-2'")).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringMatching(testEngine === 'sqlite' ? /CHECK constraint failed/ : /violates check constraint/),
    });
  });

  it('lets the requester withdraw, lists pending ones, refuses unknown hosts', async () => {
    const store = await seededStore();
    await store.approvals.create(request);
    await store.approvals.create({ ...request, id: 'ap-2', at: at(1) });
    await store.approvals.reject('ap-1', 'olga', at(2), 'asked for the wrong hosts');
    expect((await store.approvals.list({ pending: true })).map((a) => a.id)).toEqual(['ap-2']);
    expect((await store.approvals.list()).map((a) => [a.id, a.status])).toEqual([
      ['ap-1', 'rejected'],
      ['ap-2', 'pending'],
    ]);
    await expect(store.approvals.create({ ...request, id: 'ap-3', targets: ['web-01', 'ghost'] })).rejects.toMatchObject({
      kind: 'not_found',
      field: 'targets[1]',
    });
    await expect(store.approvals.create({ ...request, id: 'ap-3', targets: [] })).rejects.toMatchObject({ field: 'targets' });
    await expect(store.approvals.create(request)).rejects.toMatchObject({ kind: 'conflict' });
    expect(await store.approvals.get('ap-3')).toBeUndefined();
  });
});
