import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskClient } from '../../controller/cli/deskClient.js';
import type { Approval, EnforceResponse, ListApprovalsResponse } from '../../proto/gen/cordon/v1/desk.js';
import { cordonctl } from '../helpers/cordonctl.js';
import { csrfOf, DeskWebLab } from '../helpers/deskWebLab.js';

/**
 * A rejection's reason, end to end: required and bounded over gRPC, on the
 * page and in cordonctl; kept with the approval; shown (as text) on the
 * approvals page, in ListApprovals and in `cordonctl approvals`.
 */
describe('approval rejections with reasons', () => {
  let lab: DeskWebLab;
  const clients: DeskClient[] = [];
  const grpcAs = (name: string) => {
    const c = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material(`operator-${name}`) }, { timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };
  const ctl = cordonctl(() => lab.controller.server.port, () => lab.pki.dir);
  const ask = async (hosts: string[]): Promise<string> => {
    const r = await grpcAs('olga').call<unknown, EnforceResponse>('enforce', {
      incidentId: '', hostIds: hosts, customerId: '', action: { action: { $case: 'throttle', value: { rateBps: 1_000_000n } } }, reason: 'flood from both',
    });
    return r.approvalId;
  };
  const listed = async (id: string) => (await grpcAs('vic').call<unknown, ListApprovalsResponse>('listApprovals', {})).approvals.find((a) => a.id === id);

  beforeAll(async () => {
    lab = await DeskWebLab.start();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await lab?.stop();
  });

  it('over gRPC: refuses a missing or oversize reason naming the field, keeps a given one', async () => {
    const id = await ask(['web-01', 'web-02']);
    await expect(grpcAs('ada').call('rejectApproval', { approvalId: id, reason: '  ' })).rejects.toMatchObject({ message: expect.stringMatching(/reason: a rejection needs a reason/) });
    await expect(grpcAs('ada').call('rejectApproval', { approvalId: id, reason: 'y'.repeat(2001) })).rejects.toMatchObject({ message: expect.stringMatching(/reason: at most 2000 characters, got 2001/) });
    expect((await listed(id))?.state).toBe('pending');
    const a = await grpcAs('ada').call<unknown, Approval>('rejectApproval', { approvalId: id, reason: 'a <b>backup</b> job, not a flood' });
    expect(a).toMatchObject({ state: 'rejected', approvedBy: 'ada', decisionReason: 'a <b>backup</b> job, not a flood' });
    expect((await listed(id))?.decisionReason).toBe('a <b>backup</b> job, not a flood');
    // A viewer may read the reason and may not reject.
    await expect(grpcAs('vic').call('rejectApproval', { approvalId: await ask(['web-03', 'web-04']), reason: 'no' })).rejects.toMatchObject({ kind: 'permission' });

    const page = await lab.request('operator-vic', '/approvals');
    const row = new RegExp(`<tr data-approval="${id}">[\\s\\S]*?</tr>`).exec(page.body)?.[0] ?? '';
    expect(row).toContain('<span class="decision-reason">rejected: a &lt;b&gt;backup&lt;/b&gt; job, not a flood</span>');
  });

  it('on the page: the reason given in the form is kept and shown; an oversize one changes nothing', async () => {
    const id = await ask(['web-04', 'web-05']);
    const pair = csrfOf(await lab.request('operator-ada', '/approvals'));
    const post = (reason: string) =>
      lab.request('operator-ada', `/approvals/${id}/reject`, {
        method: 'POST',
        body: new URLSearchParams({ csrf: pair.field, reason }).toString(),
        headers: { cookie: pair.cookie, origin: lab.origin, 'sec-fetch-site': 'same-origin' },
      });
    const long = await post('z'.repeat(2001));
    expect(long.status).toBe(400);
    expect(long.body).toMatch(/reason: at most 2000 characters, got 2001/);
    expect((await listed(id))?.state).toBe('pending');
    expect((await post('customer already cleaned up')).status).toBe(303);
    expect((await listed(id))?.decisionReason).toBe('customer already cleaned up');
    expect((await lab.request('operator-vic', '/approvals')).body).toContain('rejected: customer already cleaned up');
  });

  it('in cordonctl: approvals shows who rejected and why; approvals reject needs --reason and prints it', async () => {
    const id = await ask(['web-01', 'web-05']);
    const missing = await ctl('ada', 'approvals', 'reject', id);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/reason/);
    const done = await ctl('ada', 'approvals', 'reject', id, '--reason', 'wrong hosts\nask again');
    expect(done.code, done.err).toBe(0);
    expect(done.out).toContain(`${id}: rejected by ada: wrong hosts ⏎ ask again (`);
    const list = await ctl('vic', 'approvals');
    expect(list.code, list.err).toBe(0);
    expect(list.out).toMatch(new RegExp(`${id}  REJECTED[^]*?\\n  rejected by ada at \\S+ \\([^)]*\\): wrong hosts ⏎ ask again\\n`));
  });
});
