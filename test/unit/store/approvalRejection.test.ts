import { describe, expect, it } from 'vitest';
import { MAX_DECISION_REASON_CHARS } from '../../../controller/store/ApprovalsRepo.js';
import { at, seededStore } from './storeFixtures.js';

const request = { id: 'ap-1', requestedBy: 'olga', at: at(0), action: { kind: 'isolate' }, targets: ['web-01', 'web-02'], reason: 'botnet C2 on both' };

/** A rejection keeps its reason (migration 9's approvals.decision_reason); a blank or oversize one is refused by name, nothing written. */
describe('ApprovalsRepo rejection reasons', () => {
  it('keeps the reason of a rejection, trimmed, and none for a grant', async () => {
    const store = await seededStore();
    await store.approvals.create(request);
    await store.approvals.create({ ...request, id: 'ap-2' });
    const rejected = await store.approvals.reject('ap-1', 'piet', at(1), '  the traffic was a backup job\n');
    expect(rejected).toMatchObject({ status: 'rejected', decidedBy: 'piet', decisionReason: 'the traffic was a backup job' });
    expect((await store.approvals.approve('ap-2', 'piet', at(1))).decisionReason).toBeUndefined();
    expect((await store.approvals.list()).map((a) => [a.id, a.decisionReason])).toEqual([
      ['ap-1', 'the traffic was a backup job'],
      ['ap-2', undefined],
    ]);
  });

  it('refuses a blank or too long reason naming the field, and the approval stays pending', async () => {
    const store = await seededStore();
    await store.approvals.create(request);
    await expect(store.approvals.reject('ap-1', 'piet', at(1), ' \n ')).rejects.toMatchObject({ kind: 'invalid', field: 'reason' });
    await expect(store.approvals.reject('ap-1', 'piet', at(1), 'x'.repeat(MAX_DECISION_REASON_CHARS + 1))).rejects.toMatchObject({
      kind: 'invalid',
      field: 'reason',
      message: expect.stringMatching(/at most 2000 characters, got 2001/),
    });
    expect((await store.approvals.get('ap-1'))?.status).toBe('pending');
    // Counted in characters as the schema counts them: 2000 emoji fit although JavaScript counts 4000 units.
    const emoji = '🚫'.repeat(MAX_DECISION_REASON_CHARS);
    expect((await store.approvals.reject('ap-1', 'piet', at(1), emoji)).decisionReason).toBe(emoji);
  });

  it('holds in the schema too: no reason on a grant, none over 2000 characters', async () => {
    const store = await seededStore();
    await store.approvals.create(request);
    await expect(store.db.run("UPDATE approvals SET status = 'approved', decided_by = 'piet', decided_at = 1, decision_reason = 'x' WHERE id = 'ap-1'")).rejects.toMatchObject({ kind: 'conflict' });
    await expect(store.db.run("UPDATE approvals SET status = 'rejected', decided_by = 'piet', decided_at = 1, decision_reason = ? WHERE id = 'ap-1'", ['x'.repeat(2001)])).rejects.toMatchObject({ kind: 'conflict' });
  });
});
