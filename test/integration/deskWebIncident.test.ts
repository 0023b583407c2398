import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { IpmitoolDriver } from '../../controller/bmc/IpmitoolDriver.js';
import { DrillClock } from '../../controller/clock.js';
import { MailSender } from '../../controller/mail/MailSender.js';
import { csrfOf, DeskWebLab, type DeskResponse } from '../helpers/deskWebLab.js';
import { freePort } from '../helpers/freePort.js';
import { waitFor } from '../helpers/waitFor.js';
import { DESK } from '../unit/mail/fixtures.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';

const HOUR = 3_600_000;
/** A report that would run script and draw markup if a page ever rendered it as HTML. */
const HOSTILE_RAW = [
  'From: "Evil <b>Reporter</b>" <evil@reporter.example>',
  'Subject: <script>alert(1)</script>',
  'Content-Type: multipart/alternative; boundary="b"',
  '',
  '--b',
  'Content-Type: text/html',
  '',
  '<html><body><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"><h1 id="injected">HTML part</h1></body></html>',
  '--b--',
  '',
].join('\r\n');

/**
 * The incident page over real HTTPS with client certificates, on a whole
 * controller with a drill clock, a real SMTP server, and ipmitool checking a
 * BMC that does not answer: every section from real data, each action for
 * the roles that may, refused for those that may not (forged POSTs with a
 * valid pair), without CSRF or from another site, and hostile text as text.
 */
describe('the incident page', () => {
  let lab: DeskWebLab;
  let sink: SmtpSink;
  const drill = new DrillClock();
  let a: string;
  let b: string;

  const page = (who: string, id: string) => lab.request(who, `/incidents/${id}`);
  const post = (who: string, path: string, form: Record<string, string>, pair: { cookie: string; field: string } | undefined, headers: Record<string, string> = {}): Promise<DeskResponse> =>
    lab.request(who, path, {
      method: 'POST',
      body: new URLSearchParams({ ...(pair ? { csrf: pair.field } : {}), ...form }).toString(),
      headers: { ...(pair ? { cookie: pair.cookie } : {}), origin: lab.origin, 'sec-fetch-site': 'same-origin', ...headers },
    });
  const state = async (id: string) => (await lab.controller.store.incidents.get(id))!.state;
  const section = (body: string, re: RegExp) => re.exec(body)?.[0] ?? '';

  beforeAll(async () => {
    sink = await SmtpSink.start();
    // Two days into the drill: the incident clock runs apart from the wall clock.
    drill.advance(2 * 24 * HOUR);
    lab = await DeskWebLab.start({
      settings: () => ({
        clock: drill,
        mail: { transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo }), desk: DESK, maxAttempts: 3 },
        bmcDriver: new IpmitoolDriver({ timeoutSeconds: 1, retries: 1, attempts: 1, minIntervalMs: 0 }, { runner: new ExecRunner() }),
      }),
    });
    // web-02's BMC is a closed UDP port on this machine: ipmitool tries it for real and it does not answer.
    const password = join(lab.work, 'bmc-web-02.pw');
    writeFileSync(password, 'secret\n', { mode: 0o600 });
    await lab.controller.store.bmcs.set({ hostId: 'web-02', protocol: 'ipmi', address: '127.0.0.1', port: await freePort(), user: 'cordon', passwordFile: password, sol: false, cipherSuite: undefined });

    const ra = await lab.controller.service.submitComplaint(
      { ip: '203.0.113.1', category: 'spam', reporter: 'someone@individual.example', reporterKind: 'individual', eventTime: undefined, evidence: 'spam run <script>alert("evidence")</script>', raw: HOSTILE_RAW },
      'olga',
    );
    a = ra.incidentId!;
    const rb = await lab.controller.service.submitComplaint(
      { ip: '203.0.113.2', category: 'spam', reporter: 'fbl@upstream.example', reporterKind: 'upstream', eventTime: undefined, evidence: 'spam from web-02', raw: 'spam report' },
      'feed',
    );
    b = rb.incidentId!;
    await waitFor('both notices delivered over SMTP', async () => (await state(a)) === 'notified' && (await state(b)) === 'notified', 10_000);
    // The customer's evidence file, as the customer page stores it, with a name and type meant to run in a browser.
    await lab.controller.store.customerMessages.insert({
      id: 'msg-file-1', incidentId: a, at: drill.now(), channel: 'page', kind: 'reply', answer: undefined, planDueAt: undefined, body: 'see the log <b>attached</b>',
      actor: 'customer', sourceAddress: undefined, userAgent: undefined, messageId: undefined, submissionId: undefined, rawSha256: undefined,
    });
    await lab.controller.store.customerMessages.addFile({ id: 'file-1', messageId: 'msg-file-1', incidentId: a, filename: '"evil\r\nX-Injected: 1.html', contentType: 'text/html' }, Buffer.from('<script>alert("file")</script>'));
  }, 30_000);
  afterAll(async () => {
    await lab?.stop();
    await sink?.close();
  });

  it('shows every section from real data, times on the drill clock, hostile text as text', async () => {
    const r = await page('operator-olga', a);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/id="clock">Drill mode is on: the incident clock reads <time[^>]*>[^<]+<\/time>, 2 d ahead of the controller&#39;s wall clock\./);
    expect(r.body).toMatch(/id="ack-due"><time[^>]*>[^<]+<\/time> <span class="due">\(due in 24 h, incident clock\)<\/span>/);
    expect(r.body).toMatch(/<th>Opened<\/th><td><time[^>]*>[^<]+<\/time> <span class="age">\(\d+ s ago, incident clock\)/);
    // Reporter and authentication in words, the record folded.
    const complaint = section(r.body, /<section class="complaint"[\s\S]*?<\/section>/);
    expect(complaint).toContain('Reporter: someone@individual.example (individual), not trusted');
    expect(complaint).toMatch(/<p class="verdict">[^<]+<\/p>/);
    expect(complaint).toContain('<details><summary>The authentication record (JSON)</summary><pre>');
    expect(complaint).toContain('spam run &lt;script&gt;alert(&quot;evidence&quot;)&lt;/script&gt;');
    expect(complaint).toContain(`<a class="raw" href="/incidents/${a}/complaints/`);
    expect(r.body).not.toContain('<script>alert');
    expect(r.body).not.toContain('id="injected"');
    // The notice, delivered by the real SMTP server: its rendered subject and address.
    const mail = section(r.body, /<tr data-mail="\d+" data-status="done">[\s\S]*?<\/tr>/);
    expect(mail).toContain('<td>ops@acme.example</td>');
    expect(mail).toContain(`[Cordon #${a}] Abuse complaint about server web-01`);
    expect(mail).toContain('handed to the mail relay');
    expect(sink.received.some((m) => m.raw.toString('utf8').includes(`[Cordon #${a}]`))).toBe(true);
    // The customer's message and file: escaped, with the download for the abuse desk.
    expect(r.body).toContain('<pre>see the log &lt;b&gt;attached&lt;/b&gt;</pre>');
    expect(r.body).toContain(`<a class="download" href="/incidents/${a}/files/file-1" download>&quot;evil`);
    expect(r.body).toContain('No page link was made for this incident.');
    // Enforcement: nothing yet; no BMC check around it.
    expect(r.body).toContain('id="dispatch">Nothing to enforce: the host never had a desired state.</p>');
    expect(r.body).toContain('No BMC check around this incident.');
    expect(r.body).toMatch(/<table class="history">[\s\S]*<td>open<\/td>/);
    // The abuse operator's forms.
    for (const form of ['form-answer', 'form-enforce', 'form-verify', 'form-dismiss']) expect(r.body).toContain(`id="${form}"`);
    expect(r.body).not.toContain('id="form-override_bmc"');
  });

  it('gives a viewer and a technician the page without a form, a raw link or a download', async () => {
    for (const who of ['operator-vic', 'operator-tess']) {
      const r = await page(who, a);
      expect(r.status).toBe(200);
      expect(r.body).not.toMatch(/<form method="post"/);
      expect(r.body).not.toContain('class="raw"');
      expect(r.body).not.toContain('class="download"');
      expect(r.body).toContain('&quot;evil');
    }
    expect((await page('agent-web-01', a)).status).toBe(403);
  });

  it('serves the raw report as plain text, never markup, to the abuse desk only', async () => {
    const [c] = await lab.controller.store.complaints.listByIncident(a);
    const path = `/incidents/${a}/complaints/${c!.id}/raw`;
    const r = await lab.request('operator-olga', path);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['content-security-policy']).toBe("default-src 'none'; sandbox");
    expect(r.body).toBe(HOSTILE_RAW);
    for (const who of ['operator-vic', 'operator-tess']) {
      const refused = await lab.request(who, path);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatch(/DeskService\/GetComplaintRaw needs role abuse_operator or above/);
    }
    // Another incident's complaint is not this incident's.
    const other = await lab.request('operator-olga', `/incidents/${b}/complaints/${c!.id}/raw`);
    expect(other.status).toBe(404);
    expect(other.body).toContain(`complaintId: incident ${b} has no complaint ${c!.id}`);
  });

  it('downloads a customer file as an attachment, audited under the operator; refuses the rest', async () => {
    const r = await lab.request('operator-olga', `/incidents/${a}/files/file-1`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    // No quote, CR or LF of the name reaches the header: no second header, no other file name.
    expect(r.headers['content-disposition']).toBe(`attachment; filename="_evil__X-Injected__1.html"; filename*=UTF-8''%22evil%0D%0AX-Injected%3A%201.html`);
    expect(r.headers['x-injected']).toBeUndefined();
    expect(r.body).toBe('<script>alert("file")</script>');
    expect((await lab.controller.store.audit.list({ subject: a })).some((e) => e.actor === 'olga' && e.action === 'incident.file_read')).toBe(true);
    expect((await lab.request('operator-vic', `/incidents/${a}/files/file-1`)).status).toBe(403);
    const unknown = await lab.request('operator-olga', `/incidents/${a}/files/file-nope`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('fileId: incident');
  });

  it('records an answer on behalf for the abuse desk, in the operator name; refuses forged, bad and oversize forms', async () => {
    const pair = csrfOf(await page('operator-olga', a));
    const path = `/incidents/${a}/answer`;
    for (const who of ['operator-vic', 'operator-tess']) {
      const forged = await post(who, path, { answer: 'ack', note: '' }, pair);
      expect(forged.status).toBe(403);
      expect(forged.body).toMatch(/DeskService\/AnswerIncident needs role abuse_operator or above/);
    }
    expect((await post('operator-olga', path, { answer: 'ack' }, undefined)).status).toBe(403);
    const crossSite = await post('operator-olga', path, { answer: 'ack' }, pair, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.body).toMatch(/did not come from the desk&#39;s own page/);
    const cases: [Record<string, string>, RegExp][] = [
      [{ answer: 'maybe' }, /answer: must be one of ack, fixed, false_positive, plan/],
      [{ answer: 'fixed', note: ' ' }, /note: a fixed recorded by an operator needs what the customer said/],
      [{ answer: 'plan', planDueAt: 'next week', note: 'they will patch' }, /planDueAt: not a time: &quot;next week&quot;/],
      [{ answer: 'plan', note: 'they will patch' }, /planDueAt: a plan needs its due date/],
      [{ answer: 'fixed', note: 'x'.repeat(20_001) }, /note: at most 20000 characters, got 20001/],
    ];
    for (const [form, message] of cases) {
      const r = await post('operator-olga', path, form, pair);
      expect(r.status, JSON.stringify(form).slice(0, 60)).toBe(400);
      expect(r.body).toMatch(message);
    }
    expect(await state(a)).toBe('notified');
    const ack = await post('operator-olga', path, { answer: 'ack', note: '' }, pair);
    expect(ack.status).toBe(303);
    expect(ack.headers.location).toBe(`/incidents/${a}?done=answer`);
    expect(await state(a)).toBe('acknowledged');
    const due = new Date(drill.now().getTime() + 5 * 24 * HOUR).toISOString().slice(0, 16);
    expect((await post('operator-olga', path, { answer: 'plan', planDueAt: due, note: 'the customer will move the mail server by Friday' }, pair)).status).toBe(303);
    expect(await state(a)).toBe('plan_accepted');
    const after = await page('operator-vic', a);
    expect(after.body).toMatch(/id="next-due"><time datetime="[^"]+">[^<]+<\/time> <span class="due">\(due in 5 d, incident clock\)/);
    expect(after.body).toContain('answer (plan)');
    expect(after.body).toContain('by operator, customer via olga');
    const events = await lab.controller.store.events.list(a);
    expect(events.filter((e) => e.actor === 'customer via olga').map((e) => e.type)).toEqual(['customer_ack', 'customer_plan']);
  });

  it('enforces for the abuse desk: needs approval in words; a throttle at once; forged, bad and cross-site forms refused', async () => {
    const pair = csrfOf(await page('operator-olga', a));
    const path = `/incidents/${a}/enforce`;
    for (const who of ['operator-vic', 'operator-tess']) {
      const forged = await post(who, path, { action: 'throttle', rate: '1', reason: 'forged' }, pair);
      expect(forged.status).toBe(403);
      expect(forged.body).toMatch(/DeskService\/Enforce needs role abuse_operator or above/);
    }
    expect((await post('operator-olga', path, { action: 'throttle', rate: '1', reason: 'no pair' }, undefined)).status).toBe(403);
    expect((await post('operator-olga', path, { action: 'throttle', rate: '1', reason: 'x' }, pair, { origin: 'https://evil.example' })).status).toBe(403);
    const cases: [Record<string, string>, RegExp][] = [
      [{ action: 'reboot', reason: 'x' }, /action: must be one of smtp_block, throttle, isolate, nic_down/],
      [{ action: 'throttle', rate: 'fast', reason: 'x' }, /rate: a throttle needs a rate in Mbit\/s, above 0 and at most 100000, got &quot;fast&quot;/],
      [{ action: 'throttle', rate: '0.001', reason: 'x' }, /action.throttle.rateBps: must be at least 8000 bits per second/],
      [{ action: 'throttle', rate: '1', reason: ' ' }, /reason: every enforcement needs a reason/],
      [{ action: 'throttle', rate: '1', reason: 'r'.repeat(2001) }, /reason: at most 2000 characters, got 2001/],
    ];
    for (const [form, message] of cases) {
      const r = await post('operator-olga', path, form, pair);
      expect(r.status, JSON.stringify(form).slice(0, 60)).toBe(400);
      expect(r.body).toMatch(message);
    }
    expect((await lab.controller.store.desired.get('web-01')).enforcements).toEqual([]);
    // A cut on an untrusted complaint is the four-eyes rule's: it comes back as an approval to grant.
    const cut = await post('operator-olga', path, { action: 'isolate', reason: 'phishing kit still up' }, pair);
    expect(cut.status).toBe(303);
    expect(cut.headers.location).toMatch(new RegExp(`^/incidents/${a}\\?done=enforce&approval=apr-[0-9a-f]{8}$`));
    const asked = await lab.request('operator-olga', cut.headers.location as string);
    expect(asked.body).toMatch(/id="done">Enforce: needs approval\. Nothing is enforced until a second operator grants approval apr-[0-9a-f]{8} on the <a href="\/approvals">Approvals<\/a> page\./);
    expect((await lab.controller.store.desired.get('web-01')).enforcements).toEqual([]);
    const throttle = await post('operator-olga', path, { action: 'throttle', rate: '2.5', reason: 'outbound flood' }, pair);
    expect(throttle.status).toBe(303);
    expect(throttle.headers.location).toBe(`/incidents/${a}?done=enforce`);
    expect((await lab.controller.store.desired.get('web-01')).enforcements.map((e) => e.action)).toEqual([{ kind: 'throttle', rateBps: 2_500_000 }]);
    const done = await lab.request('operator-olga', throttle.headers.location as string);
    expect(done.body).toContain('id="done">Enforce: done.');
    // web-01 has no agent connected: the page says so, in words.
    expect(done.body).toMatch(/id="dispatch">Agent unreachable: it is not connected, so generation \d+ waits for it \(it last reported 0\)\.<\/p>/);
    expect(done.body).toMatch(/<ul class="in-force"><li>traffic limited to 2\.5 Mbit\/s: this incident \(by olga: outbound flood\)<\/li><\/ul>/);
    expect((await lab.controller.store.audit.list({ subject: 'web-01' })).some((e) => e.actor === 'olga' && e.action === 'host.desired_state')).toBe(true);
  });

  it('holds a cut pending the BMC, shows the failed check, and lets the abuse desk override it with a reason', async () => {
    // b's trusted complaint goes unanswered past its deadline: the ladder blocks SMTP on its own,
    // and the relay refuses the mail that says so: its delivery shows as given up.
    sink.mode = { reply: 550 };
    drill.advance(25 * HOUR);
    await waitFor('the deadline to escalate b', async () => ['enforcing', 'enforced'].includes(await state(b)), 10_000);
    await waitFor('a mail given up', async () => (await lab.controller.store.outbox.mailsOfIncident(b, 50)).some((m) => m.status === 'dead'), 10_000);
    sink.mode = { accept: true };
    const pair = csrfOf(await page('operator-olga', b));
    const cut = await post('operator-olga', `/incidents/${b}/enforce`, { action: 'isolate', reason: 'still sending after the block' }, pair);
    expect(cut.status).toBe(303);
    expect(cut.headers.location).toBe(`/incidents/${b}?done=enforce`);
    const held = await lab.request('operator-olga', cut.headers.location as string);
    expect(held.body).toContain('id="done">Enforce: held pending BMC. The cut (isolate) waits until the host&#39;s BMC answers a check');
    expect(held.body).toMatch(/id="incident-hold">held pending BMC: the cut \(/);
    // ipmitool against the closed port: a real check, recorded as not answering.
    await waitFor('the BMC check to be recorded', async () => (await lab.controller.store.bmcs.latest('web-02')) !== undefined, 15_000);
    const checked = await page('operator-olga', b);
    expect(section(checked.body, /<table class="bmc-checks">[\s\S]*?<\/table>/)).toMatch(/<tr data-reachable="no"><td><time[^>]*>[^<]+<\/time> <span class="age">\(\d+ s ago, incident clock\)<\/span><\/td><td><strong>did not answer<\/strong><\/td>/);
    expect(checked.body).toContain('id="form-override_bmc"');
    expect((await page('operator-vic', b)).body).not.toContain('id="form-override_bmc"');
    const forged = await post('operator-vic', `/incidents/${b}/decide`, { decision: 'override_bmc', reason: 'forged' }, pair);
    expect(forged.status).toBe(403);
    const bare = await post('operator-olga', `/incidents/${b}/decide`, { decision: 'override_bmc', reason: '' }, pair);
    expect(bare.status).toBe(400);
    expect(bare.body).toMatch(/reason: an override of the BMC check needs a reason/);
    expect((await lab.controller.store.incidents.get(b))!.hold).toBe('bmc_unreachable');
    const ok = await post('operator-olga', `/incidents/${b}/decide`, { decision: 'override_bmc', reason: 'console reached by phone with the DC' }, pair);
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe(`/incidents/${b}?done=override_bmc`);
    expect((await lab.controller.store.incidents.get(b))!.hold).toBeUndefined();
    expect((await lab.controller.store.desired.get('web-02')).enforcements.map((e) => e.action.kind).sort()).toEqual(['isolate', 'smtp_block']);
    const after = await lab.request('operator-olga', ok.headers.location as string);
    expect(after.body).toContain('id="done">Override the BMC check: done.');
    const dead = section(after.body, /<tr data-mail="\d+" data-status="dead">[\s\S]*?<\/tr>/);
    expect(dead).toContain('<strong>given up</strong> after 1 attempt: the customer did not get it');
    expect(dead).toMatch(/<td class="last-error">[^<]*550/);
    expect((await lab.controller.store.events.list(b)).some((e) => e.type === 'operator_override_bmc' && e.actor === 'olga')).toBe(true);
  }, 60_000);
});
