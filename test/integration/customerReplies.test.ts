import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DrillClock } from '../../controller/clock.js';
import { MailSender } from '../../controller/mail/MailSender.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { cordonctl } from '../helpers/cordonctl.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';
import { DESK } from '../unit/mail/fixtures.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';

const HOUR = 3_600_000;

/** The header block of a delivered mail, unfolded where it matters to us. */
function headersOf(raw: Buffer): string {
  const text = raw.toString('utf8');
  return text.slice(0, text.search(/\r?\n\r?\n/));
}
const header = (raw: Buffer, name: string) => new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'mi').exec(headersOf(raw))?.[1]?.replace(/\r?\n[ \t]+/g, ' ');

/** The customer answering the delivered notice from their mail client. */
function replyTo(notice: Buffer, id: string): string {
  return [
    'From: ACME Operations <ops@acme.example>',
    'To: abuse@hoster.example',
    `Subject: Re: ${header(notice, 'Subject')}`,
    `Message-ID: <${id}@acme.example>`,
    `In-Reply-To: ${header(notice, 'Message-ID')}`,
    `References: ${header(notice, 'Message-ID')}`,
    'Date: Tue, 3 Mar 2026 09:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'We found a hacked WordPress on 203.0.113.10 and removed it. Sorry!',
    '',
  ].join('\r\n');
}

/** A Postfix bounce of the delivered notice: RFC 3464 report with its headers returned. */
function bounceOf(notice: Buffer, recipient: string): string {
  return [
    'From: MAILER-DAEMON@relay.hoster.example (Mail Delivery System)',
    'To: abuse@hoster.example',
    'Subject: Undelivered Mail Returned to Sender',
    'Auto-Submitted: auto-replied',
    'Message-Id: <20260303.BOUNCE1@relay.hoster.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"',
    '',
    '--B1',
    'Content-Type: text/plain',
    '',
    `<${recipient}>: host mx.acme.example said: 550 5.1.1 User unknown`,
    '--B1',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; relay.hoster.example',
    '',
    `Final-Recipient: rfc822; ${recipient}`,
    'Action: failed',
    'Status: 5.1.1',
    'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
    '',
    '--B1',
    'Content-Type: text/rfc822-headers',
    '',
    headersOf(notice),
    '',
    '--B1--',
    '',
  ].join('\r\n');
}

/**
 * Replies by mail on the real controller: a notice goes out over SMTP to a
 * real receiver; what comes back to the abuse mailbox is relayed with the
 * built `cordonctl ingest` and threaded onto the incident — never a
 * complaint, never an answer; a bounce pauses the deadlines until a notice
 * is delivered again.
 */
describe('customer replies, auto-replies and bounces by mail', () => {
  let pki: TestPki;
  let work: string;
  let sink: SmtpSink;
  let controller: Controller;
  const clock = new DrillClock();
  const ctl = cordonctl(() => controller.server.port, () => pki.dir);

  const complaints = async () => (await controller.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM complaints'))!.n;
  const mailsOf = (incidentId: string) => sink.received.map((m) => m.raw).filter((raw) => header(raw, 'X-Cordon-Incident') === incidentId);
  const events = async (id: string) => (await controller.store.events.list(id)).map((e) => e.type);

  /** Opens an incident on `ip` and waits until its notice was delivered; returns the incident id and the delivered bytes. */
  async function noticed(ip: string): Promise<{ incidentId: string; notice: Buffer }> {
    const before = sink.received.length;
    const r = await controller.service.submitComplaint(
      { ip, category: 'spam', reporter: 'fbl@mailbox.example', reporterKind: 'upstream', eventTime: undefined, evidence: 'spam run', raw: `spam from ${ip}` },
      'olga',
    );
    const incidentId = r.incidentId!;
    await waitFor('the notice to be delivered and recorded', async () => sink.received.length > before && (await controller.store.incidents.get(incidentId))?.state === 'notified');
    const notice = sink.received.at(-1)!.raw;
    expect(header(notice, 'X-Cordon-Incident')).toBe(incidentId);
    return { incidentId, notice };
  }

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-replies-'));
    sink = await SmtpSink.start();
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    await store.hosts.add({ id: 'web-02', customerId: 'acme', publicPrefixes: ['203.0.113.11/32'], managementAddress: '10.255.0.11' });
    controller = await runController(
      controllerSettings(pki, store, {
        clock,
        mail: { transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo }), desk: DESK, maxAttempts: 3 },
      }),
    );
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    await sink?.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let replied: string;

  it('the notice carries an unguessable Message-ID', async () => {
    const { incidentId, notice } = await noticed('203.0.113.10');
    replied = incidentId;
    expect(header(notice, 'Message-ID')).toMatch(/^<outbox-\d+\.[0-9a-f]{32}@cordon>$/);
  });

  it('a reply built from the delivered notice, ingested twice from a maildir, threads once: no complaint, no answer', async () => {
    const notice = sink.received.at(-1)!.raw;
    const md = join(work, 'Maildir');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(join(md, d), { recursive: true });
    writeFileSync(join(md, 'new', '1772528400.1.mx'), replyTo(notice, 'r1'));
    writeFileSync(join(md, 'new', '1772528400.2.mx'), replyTo(notice, 'r1')); // the same mail delivered twice
    const complaintsBefore = await complaints();

    const r = await ctl('olga', 'ingest', '--maildir', md);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`1772528400.1.mx: threaded: reply threaded onto ${replied} (not a complaint)`);
    expect(r.out).toContain(`1772528400.2.mx: threaded: reply already threaded onto ${replied}`);
    expect(readdirSync(join(md, 'new'))).toEqual([]);

    expect(await complaints()).toBe(complaintsBefore);
    expect((await controller.store.incidents.get(replied))!.state).toBe('notified');
    const messages = await controller.store.customerMessages.listByIncident(replied);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ channel: 'mail', kind: 'reply', answer: undefined, actor: 'ops@acme.example', messageId: '<r1@acme.example>', rawSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(messages[0]!.body).toBe('We found a hacked WordPress on 203.0.113.10 and removed it. Sorry!');
    expect((await events(replied)).filter((t) => t === 'customer_mail')).toHaveLength(1);
    expect((await controller.store.audit.list({ subject: replied })).map((a) => a.action)).toContain('incident.customer_mail');
  });

  it('a bounce stops the clock of its incident; the replied one, whose reply is no answer, escalates', async () => {
    const { incidentId: bounced, notice } = await noticed('203.0.113.11');
    const file = join(work, 'bounce.eml');
    writeFileSync(file, bounceOf(notice, 'ops@acme.example'));
    const complaintsBefore = await complaints();

    const r = await ctl('olga', 'ingest', file);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^threaded: bounce of the notice threaded onto ${bounced} \\(not a complaint\\): 5\\.1\\.1 for ops@acme\\.example`));
    expect(await complaints()).toBe(complaintsBefore);
    expect((await controller.store.incidents.get(bounced))!.noticeUndeliveredAt).toBeInstanceOf(Date);
    expect(await events(bounced)).toEqual(expect.arrayContaining(['notice_bounced', 'alert']));
    expect((await controller.store.customerMessages.listByIncident(bounced))[0]).toMatchObject({ kind: 'bounce', channel: 'mail', body: '550 5.1.1 User unknown' });

    // A bounce of the replied incident's notice: the customer wrote since, so it is recorded but pauses nothing.
    const other = mailsOf(replied)[0]!;
    writeFileSync(file, bounceOf(other, 'ops@acme.example').replace('BOUNCE1', 'BOUNCE2'));
    expect((await ctl('olga', 'ingest', file)).out).toMatch(/the customer has answered or written since the notice/);
    expect((await controller.store.incidents.get(replied))!.noticeUndeliveredAt).toBeUndefined();

    clock.advance(25 * HOUR);
    await waitFor('the replied incident to escalate at its ack deadline', async () => (await events(replied)).includes('deadline'));
    // Nothing fires for the bounced one: give the scheduler a moment to prove it.
    await new Promise((res) => setTimeout(res, 300));
    expect((await controller.store.incidents.get(bounced))!.state).toBe('notified');
    expect(await events(bounced)).not.toContain('deadline');
    expect((await controller.store.incidents.get(replied))!.state).not.toMatch(/^(notified|acknowledged)$/);
  });

  it('a re-sent notice that is delivered restarts the clock', async () => {
    const bounced = (await controller.store.incidents.list({ hostId: 'web-02' }))[0]!.id;
    const before = sink.received.length;
    await controller.service.queueMail(bounced, 'notice', 'olga', 'resend after the bounce');
    await waitFor('the re-sent notice to be delivered and recorded', async () => sink.received.length > before && (await controller.store.incidents.get(bounced))?.noticeUndeliveredAt === undefined);
    const i = (await controller.store.incidents.get(bounced))!;
    expect(i.ackDueAt!.getTime()).toBeGreaterThan(clock.now().getTime() + 23 * HOUR);
    const notices = mailsOf(bounced);
    expect(notices.length).toBeGreaterThanOrEqual(2);
    expect(header(notices.at(-1)!, 'Message-ID')).not.toBe(header(notices[0]!, 'Message-ID'));

    clock.advance(25 * HOUR);
    await waitFor('the bounced incident to escalate once its restarted deadline passed', async () => (await events(bounced)).includes('deadline'));
  });

  it('a bounce naming a guessed Message-ID is no bounce: read as a report, the deadlines untouched', async () => {
    const bounced = (await controller.store.incidents.list({ hostId: 'web-02' }))[0]!;
    const notice = mailsOf(bounced.id).at(-1)!;
    const forged = bounceOf(notice, 'ops@acme.example').replace(/<outbox-(\d+)\.[0-9a-f]{32}@cordon>/, '<outbox-$1@cordon>').replace('BOUNCE1', 'FORGED');
    const file = join(work, 'forged.eml');
    writeFileSync(file, forged);
    const r = await ctl('olga', 'ingest', file);
    expect(r.out).not.toMatch(/threaded/);
    expect((await controller.store.incidents.get(bounced.id))!.noticeUndeliveredAt).toBeUndefined();
    expect((await controller.store.customerMessages.listByIncident(bounced.id)).filter((m) => m.kind === 'bounce')).toHaveLength(1);
  });
});
