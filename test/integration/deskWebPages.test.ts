import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskClient } from '../../controller/cli/deskClient.js';
import type { EnforceResponse } from '../../proto/gen/cordon/v1/desk.js';
import { csrfOf, DeskWebLab, T0, type DeskResponse } from '../helpers/deskWebLab.js';

/**
 * Approvals, audit and health in the browser desk, over real HTTPS with
 * client certificates: each role sees and can do exactly what DeskService
 * lets it, four eyes is refused in words, forged and cross-site POSTs
 * change nothing, bad filters name their field and limit, and a tampered
 * audit chain shows as broken.
 */
describe('the desk pages for approvals, audit and health', () => {
  let lab: DeskWebLab;
  const clients: DeskClient[] = [];
  /** DeskService over gRPC as an operator the lab's PKI issued. */
  const grpcAs = (name: string) => {
    const c = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material(`operator-${name}`) }, { timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };
  /** olga asks, through DeskService/Enforce, to throttle `hosts`: more than one host needs a second operator. */
  const ask = async (hosts: string[], reason = 'botnet C2 traffic from both'): Promise<string> => {
    const r = await grpcAs('olga').call<unknown, EnforceResponse>('enforce', {
      incidentId: '',
      hostIds: hosts,
      customerId: '',
      action: { action: { $case: 'throttle', value: { rateBps: 1_000_000n } } },
      reason,
    });
    expect(r.approvalId).toMatch(/^apr-/);
    return r.approvalId;
  };
  const post = (who: string, path: string, form: Record<string, string>, csrf: { cookie: string; field: string } | undefined, headers: Record<string, string> = {}): Promise<DeskResponse> =>
    lab.request(who, path, {
      method: 'POST',
      body: new URLSearchParams({ ...(csrf ? { csrf: csrf.field } : {}), ...form }).toString(),
      headers: { ...(csrf ? { cookie: csrf.cookie } : {}), origin: lab.origin, 'sec-fetch-site': 'same-origin', ...headers },
    });
  const status = async (id: string) => (await lab.controller.store.approvals.get(id))!.status;
  const kinds = async (host: string) => (await lab.controller.store.desired.get(host)).enforcements.map((e) => e.action.kind);

  beforeAll(async () => {
    lab = await DeskWebLab.start();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await lab?.stop();
  });

  it('shows a viewer and a technician the approval in words, with no forms, and refuses their forged grant', async () => {
    const id = await ask(['web-01', 'web-02']);
    for (const who of ['operator-vic', 'operator-tess']) {
      const page = await lab.request(who, '/approvals');
      expect(page.status).toBe(200);
      for (const link of ['<a href="/approvals">Approvals</a>', '<a href="/audit">Audit</a>', '<a href="/health">Health</a>']) expect(page.body).toContain(link);
      const row = new RegExp(`<tr data-approval="${id}">[\\s\\S]*?</tr>`).exec(page.body)?.[0] ?? '';
      expect(row).toContain('<td class="requester">olga');
      expect(row).toContain('<td class="hosts">web-01, web-02</td>');
      expect(row).toContain('<td class="action">traffic limited to 1 Mbit/s</td>');
      expect(row).toContain('botnet C2 traffic from both');
      expect(row).toContain('an action on 2 hosts (more than 1 alone)');
      expect(row).toContain('<td class="status">pending</td>');
      expect(page.body).not.toMatch(/<form method="post"/);
    }
    // The abuse operator's CSRF pair does not help: the role is checked first, as over gRPC.
    const pair = csrfOf(await lab.request('operator-olga', '/approvals'));
    const forged = await post('operator-vic', `/approvals/${id}/grant`, {}, pair);
    expect(forged.status).toBe(403);
    expect(forged.body).toMatch(/DeskService\/Approve needs role abuse_operator or above; vic is viewer/);
    const tess = await post('operator-tess', `/approvals/${id}/reject`, { reason: 'no' }, pair);
    expect(tess.status).toBe(403);
    expect(tess.body).toMatch(/DeskService\/RejectApproval needs role abuse_operator or above; tess is technician/);
    expect(await status(id)).toBe('pending');
    expect(await kinds('web-01')).toEqual([]);
  });

  it('refuses the requester their own grant in words (four eyes), and a grant without the CSRF pair or from another site', async () => {
    const [id] = (await lab.controller.store.approvals.list({ pending: true })).map((a) => a.id);
    const page = await lab.request('operator-olga', '/approvals');
    expect(page.body).toMatch(new RegExp(`<form method="post" action="/approvals/${id}/grant"`));
    const own = await post('operator-olga', `/approvals/${id}/grant`, {}, csrfOf(page));
    expect(own.status).toBe(403);
    expect(own.body).toMatch(new RegExp(`class="error">by: olga requested approval ${id} and cannot approve it; a second operator must`));
    const adaPage = await lab.request('operator-ada', '/approvals');
    const missing = await post('operator-ada', `/approvals/${id}/grant`, {}, undefined);
    expect(missing.status).toBe(403);
    expect(missing.body).toMatch(/CSRF check failed/);
    const olgasPair = await post('operator-ada', `/approvals/${id}/grant`, {}, csrfOf(page));
    expect(olgasPair.status).toBe(403);
    const crossSite = await post('operator-ada', `/approvals/${id}/grant`, {}, csrfOf(adaPage), { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toMatch(/did not come from the desk&#39;s own page/);
    expect(await status(id!)).toBe('pending');
    expect(await kinds('web-02')).toEqual([]);
  });

  it('lets a second operator grant: the hosts carry the action, the page names the approver, the audit names them', async () => {
    const [id] = (await lab.controller.store.approvals.list({ pending: true })).map((a) => a.id);
    const pair = csrfOf(await lab.request('operator-ada', '/approvals'));
    const r = await post('operator-ada', `/approvals/${id}/grant`, {}, pair);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe(`/approvals?done=granted&id=${id}`);
    expect(await status(id!)).toBe('approved');
    expect(await kinds('web-01')).toEqual(['throttle']);
    expect(await kinds('web-02')).toEqual(['throttle']);
    const after = await lab.request('operator-vic', r.headers.location as string);
    expect(after.body).toMatch(/id="done">Approval apr-[0-9a-f]+ granted: the action is in force on its hosts\./);
    const row = new RegExp(`<tr data-approval="${id}">[\\s\\S]*?</tr>`).exec(after.body)?.[0] ?? '';
    expect(row).toContain('<td class="status">approved</td>');
    expect(row).toMatch(/<td class="approver">ada<br>/);
    expect((await lab.controller.store.audit.list({ subject: id })).map((a) => `${a.actor} ${a.action}`)).toEqual(['olga approval.requested', 'ada approval.granted']);
    // Granted once: a second grant is the handler's conflict, in words.
    const again = await post('operator-ada', `/approvals/${id}/grant`, {}, pair);
    expect(again.status).toBe(409);
    expect(again.body).toMatch(new RegExp(`class="error">id: approval ${id} is already approved by ada`));
  });

  it('rejects only with a reason, bounded, and words an unknown approval', async () => {
    const id = await ask(['web-03', 'web-04'], 'second wave');
    const pair = csrfOf(await lab.request('operator-ada', '/approvals'));
    const none = await post('operator-ada', `/approvals/${id}/reject`, { reason: ' ' }, pair);
    expect(none.status).toBe(400);
    expect(none.body).toMatch(/class="error">reason: a rejection needs a reason/);
    const long = await post('operator-ada', `/approvals/${id}/reject`, { reason: 'x'.repeat(2001) }, pair);
    expect(long.status).toBe(400);
    expect(long.body).toMatch(/reason: at most 2000 characters, got 2001/);
    expect(await status(id)).toBe('pending');
    const ok = await post('operator-ada', `/approvals/${id}/reject`, { reason: 'the traffic was a backup job' }, pair);
    expect(ok.status).toBe(303);
    expect(await status(id)).toBe('rejected');
    expect(await kinds('web-03')).toEqual([]);
    const unknown = await post('operator-ada', '/approvals/apr-nope/grant', {}, pair);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatch(/class="error">approvalId: no approval apr-nope/);
  });

  it('shows every role the audit log with the chain verified, filtered by actor, action, subject and time', async () => {
    for (const who of ['operator-vic', 'operator-tess', 'operator-olga', 'operator-ada']) {
      const page = await lab.request(who, '/audit');
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/id="chain">The chain holds: all \d+ entries verified\./);
    }
    const byAda = await lab.request('operator-vic', '/audit?actor=ada&action=approval.&limit=10');
    const actions = [...byAda.body.matchAll(/<td class="actor">([^<]*)<\/td><td class="action">([^<]*)<\/td>/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(actions).toEqual(['ada approval.rejected', 'ada approval.granted']);
    const subject = await lab.request('operator-vic', '/audit?subject=web-01');
    expect([...subject.body.matchAll(/<td class="subject">([^<]*)<\/td>/g)].every((m) => m[1] === 'web-01')).toBe(true);
    // Times are the incident clock's (T0 in this lab): a window after it holds nothing.
    const later = new Date(T0.getTime() + 3_600_000).toISOString().slice(0, 19);
    const after = await lab.request('operator-vic', `/audit?from=${later}`);
    expect(after.body).toMatch(/<p>0 entries, newest first\.<\/p>/);
    const during = await lab.request('operator-vic', `/audit?to=${later}&limit=1`);
    expect(during.body).toMatch(/1 entry, newest first \(the limit/);
    // A % in the prefix means itself, not "anything".
    expect((await lab.request('operator-vic', '/audit?action=%25')).body).toMatch(/<p>0 entries/);
  });

  it('refuses a bad audit filter naming the field and its limit', async () => {
    const cases: [string, RegExp][] = [
      ['limit=501', /limit: a whole number from 1 to 500, got &quot;501&quot;/],
      ['limit=0', /limit: a whole number from 1 to 500/],
      ['limit=ten', /limit: a whole number from 1 to 500/],
      ['from=yesterday', /from: not a time: &quot;yesterday&quot;/],
      ['from=2026-11-02T10:00:00Z&to=2026-11-02T09:00:00Z', /to: must be after from/],
      [`actor=${'a'.repeat(201)}`, /actor: at most 200 characters, got 201/],
      ['actor=a&actor=b', /actor: give it once/],
    ];
    for (const [query, message] of cases) {
      const r = await lab.request('operator-vic', `/audit?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.body, query).toMatch(new RegExp(`class="error">${message.source}`));
    }
  });

  it('shows anyone on the desk its health: open incidents by state, restrictions by action, deadlines, waiting, the reversal rate', async () => {
    await lab.open('203.0.113.5');
    // The reversal window is [now − 30 days, now): a second on, what happened at T0 is inside it.
    lab.clock.advance(1000);
    for (const who of ['operator-vic', 'operator-tess', 'operator-olga', 'operator-ada']) {
      const page = await lab.request(who, '/health');
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<tr data-state="notified"><th>notified<\/th><td>1<\/td><\/tr>/);
      expect(page.body).toMatch(/<tr data-state="enforcing"><th>enforcing<\/th><td>2<\/td><\/tr>/);
      expect(page.body).toContain('<td id="hosts-restricted">2</td>');
      expect(page.body).toContain('<tr data-kind="throttle"><th>throttle</th><td>2 hosts</td></tr>');
      expect(page.body).toMatch(/<td id="deadlines-due">\d+<\/td>/);
      expect(page.body).toContain('<td id="needs-info">0</td>');
      // Two restrictions applied in the window, none reversed.
      expect(page.body).toContain('<strong id="reversal-rate">0.0 %</strong>: 0 restrictions reversed (0 appeals accepted, 0 dismissed while restricting) over 2 applied');
    }
    expect((await lab.request('agent-web-01', '/health')).status).toBe(403);
    expect((await lab.request('feed-shadow', '/audit')).status).toBe(403);
  });

  it('shows an approval past its time as expired, and refuses its grant in words', async () => {
    const id = await ask(['web-04', 'web-05'], 'third wave');
    // The pair from while it was pending: an expired approval has no forms.
    const pair = csrfOf(await lab.request('operator-ada', '/approvals'));
    lab.clock.advance(25 * 3_600_000);
    const page = await lab.request('operator-ada', '/approvals');
    expect(new RegExp(`<tr data-approval="${id}">[\\s\\S]*?<td class="status">expired</td>`).test(page.body)).toBe(true);
    expect(page.body).not.toContain(`id="decide-${id}"`);
    const r = await post('operator-ada', `/approvals/${id}/grant`, {}, pair);
    expect(r.status).toBe(409);
    expect(r.body).toMatch(new RegExp(`class="error">id: approval ${id} expired at .*; ask again`));
    expect(await kinds('web-04')).toEqual([]);
  });

  it('shows a tampered audit chain as broken, naming the first entry that does not hold', async () => {
    // An attacker with the database file: drop the guard and rewrite who did it.
    await lab.controller.store.db.exec('DROP TRIGGER audit_log_no_update');
    await lab.controller.store.db.run("UPDATE audit_log SET actor = 'mallory' WHERE id = 2");
    const page = await lab.request('operator-vic', '/audit');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/id="chain">The chain is broken at entry 2: /);
  });
});
