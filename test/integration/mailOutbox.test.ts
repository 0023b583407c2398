import { afterEach, describe, expect, it } from 'vitest';
import { MailSender, outboxMessageId } from '../../controller/mail/MailSender.js';
import { NEVER } from '../../controller/mail/OutboxSource.js';
import { OutboxWorker } from '../../controller/mail/OutboxWorker.js';
import { DESK, recordingLogger, samplePayload, T0 } from '../unit/mail/fixtures.js';
import { MemoryOutbox } from '../unit/mail/MemoryOutbox.js';
import { decodedBody, multipartParts, parseMime } from '../unit/mail/parseMime.js';
import { freePort, SmtpSink } from '../unit/mail/smtpSink.js';
import { waitFor } from '../helpers/waitFor.js';
import { CustomerLinks, PAGE_PREFIX } from '../../controller/customer/CustomerLinks.js';
import { arf, MailController, PUBLIC_URL } from '../unit/mail/mailController.js';
import { toComplaintRecord } from '../../controller/desk/incidentDesk.js';

const MIN = 60_000;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The outbox worker wired as the controller would, against a real SMTP server on `port`. */
function wire(port: number, pollIntervalMs = 20) {
  let now = T0;
  const outbox = new MemoryOutbox();
  const sender = new MailSender({ host: '127.0.0.1', port, secure: false, from: DESK.from, replyTo: DESK.replyTo, connectionTimeoutMs: 2_000 });
  const { log, lines } = recordingLogger();
  const worker = new OutboxWorker({ source: outbox, transport: sender, desk: DESK, clock: { now: () => now }, log, config: { pollIntervalMs } });
  cleanups.push(() => worker.stop(), () => sender.close());
  return { outbox, worker, lines, advance: (ms: number) => void (now = new Date(now.getTime() + ms)) };
}

async function startSink(port?: number): Promise<SmtpSink> {
  const sink = await SmtpSink.start(port);
  cleanups.push(() => sink.close());
  return sink;
}

describe('OutboxWorker with a real SMTP server', () => {
  it('delivers a queued notice: the row is done, the server has it with the row Message-ID and the complaint intact', async () => {
    const sink = await startSink();
    const w = wire(sink.port);
    const id = w.outbox.add(samplePayload(), T0);
    w.worker.start();
    await waitFor('the row to be done', () => w.outbox.row(id).done);
    expect(sink.received).toHaveLength(1);
    const message = parseMime(sink.received[0]!.raw);
    expect(message.headers.get('message-id')).toBe(outboxMessageId(id, w.outbox.row(id).ref));
    expect(message.headers.get('x-cordon-incident')).toBe('inc-20260301-a1b2c3d4');
    expect(decodedBody(multipartParts(message)[1]!).equals(Buffer.from(samplePayload().complaint!.raw, 'utf8'))).toBe(true);
  });

  it('server down: the mail waits 1 min, then goes out once the server is up, exactly once', async () => {
    const port = await freePort();
    const w = wire(port, 60_000);
    const id = w.outbox.add(samplePayload(), T0);
    expect(await w.worker.runOnce()).toBe(1);
    expect(w.outbox.row(id)).toMatchObject({ done: false, attempts: 1, retryAt: new Date(T0.getTime() + MIN) });
    expect(w.lines.find((l) => l.msg === 'mail not delivered; will retry')).toBeDefined();

    const sink = await startSink(port);
    expect(await w.worker.runOnce()).toBe(0); // up, but not due before the minute is over
    w.advance(MIN);
    expect(await w.worker.runOnce()).toBe(1);
    expect(w.outbox.row(id).done).toBe(true);
    expect(sink.received).toHaveLength(1);
    w.advance(60 * MIN);
    expect(await w.worker.runOnce()).toBe(0);
    expect(sink.dataCount).toBe(1);
  });

  it('a 550 refusal is not retried', async () => {
    const sink = await startSink();
    sink.mode = { reply: 550 };
    const w = wire(sink.port);
    const id = w.outbox.add(samplePayload(), T0);
    await w.worker.runOnce();
    expect(w.outbox.row(id)).toMatchObject({ done: false, retryAt: NEVER });
    expect(w.outbox.row(id).errors[0]).toMatch(/^not retried \(refused\)/);
    expect(w.lines.find((l) => l.level === 50)).toMatchObject({ outboxId: id, kind: 'refused' });
    sink.mode = { accept: true };
    w.advance(24 * 60 * MIN);
    await w.worker.runOnce();
    expect(sink.dataCount).toBe(1);
    expect(sink.received).toHaveLength(0);
  });

  it('stop() during a send waits for the server to answer, and the row ends done', async () => {
    const sink = await startSink();
    let release!: () => void;
    sink.mode = { hold: new Promise<void>((r) => (release = r)) };
    const w = wire(sink.port);
    const id = w.outbox.add(samplePayload(), T0);
    w.worker.start();
    await waitFor('the DATA to reach the server', () => sink.dataCount === 1);
    let stopped = false;
    const stopping = w.worker.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false);
    sink.mode = { accept: true };
    release();
    await stopping;
    expect(w.outbox.row(id).done).toBe(true);
    expect(sink.received).toHaveLength(1);
  });
});

describe('a real controller telling the customer', () => {
  let m: MailController;
  afterEach(async () => {
    await m?.stop();
  });
  const ingest = async (messageId: string, ip: string, eventTime: string) => {
    const { results } = await m.controller.service.ingestReport(Buffer.from(arf({ from: 'fbl@mailbox.example', messageId, eventTime, ip })), 'maildir');
    return results[0]!;
  };

  it('the delivered notice carries the page link; its token opens the incident, and the outbox holds only the link id', async () => {
    m = await MailController.start();
    const r = await ingest('n-1@mailbox.example', '203.0.113.2', '2026-11-02T08:10:00Z');
    expect(r.outcome).toBe('opened');
    const notice = await m.noticeDelivered(r.incidentId!);
    expect(notice.to).toEqual(['ops@acme.example']);
    const url = new RegExp(`^  (${PUBLIC_URL}${PAGE_PREFIX}([A-Za-z0-9_-]{43}))$`, 'm').exec(notice.text);
    expect(url, notice.text).not.toBeNull();
    expect(notice.text.indexOf('Answer on this page:')).toBeLessThan(notice.text.indexOf('reply to this mail'));
    // The reported address and the reporter's event time, not only our receipt time.
    expect(notice.text).toContain('203.0.113.2');
    expect(notice.text.replace(/\s+/g, ' ')).toContain('The reporter gives the time of the event as 2026-11-02T08:10:00Z.');
    const opened = await new CustomerLinks(m.controller.store, m.links).resolve(url![2]!, m.clock.now());
    expect(opened?.incident.id).toBe(r.incidentId);
    // What anyone reading the database sees: a link id, never the token or the URL.
    const rows = JSON.stringify(await m.controller.store.outbox.list());
    expect(rows).toContain(opened!.link.id);
    expect(rows).not.toContain(url![2]!);
    expect(rows).not.toContain(PAGE_PREFIX);
  });

  it('a report that states no event time: stored as a receipt time, shown so on the desk, and the notice does not call it the reporter\'s', async () => {
    m = await MailController.start();
    // RFC 5965 makes Arrival-Date optional: without it the report's own Date is all there is.
    const raw = arf({ from: 'fbl@mailbox.example', messageId: 'r-1@mailbox.example', eventTime: '2026-11-02T08:10:00Z', ip: '203.0.113.2' });
    const { results } = await m.controller.service.ingestReport(Buffer.from(raw.replace(/^Arrival-Date: .*\r\n/m, '')), 'maildir');
    const r = results[0]!;
    expect(r.outcome).toBe('opened');
    const stored = await m.controller.store.complaints.get(r.complaintId);
    expect(stored).toMatchObject({ eventTime: new Date('2026-11-02T08:10:00Z'), eventTimeSource: 'receipt' });
    expect(toComplaintRecord(stored!).eventTimeSource).toBe('receipt');
    const notice = (await m.noticeDelivered(r.incidentId!)).text.replace(/\s+/g, ' ');
    expect(notice).not.toContain('The reporter gives the time of the event');
    expect(notice).toContain('The report does not state when the event happened; the report itself is dated 2026-11-02T08:10:00Z.');
  });

  it('two complaints joining within an hour of the notice make one digest, an hour after it, listing both', async () => {
    m = await MailController.start();
    const first = await ingest('d-1@mailbox.example', '203.0.113.2', '2026-11-02T08:00:00Z');
    await m.noticeDelivered(first.incidentId!);
    await m.advance(10 * MIN);
    expect((await ingest('d-2@mailbox.example', '203.0.113.3', '2026-11-02T08:55:00Z')).outcome).toBe('merged');
    await m.advance(10 * MIN);
    expect((await ingest('d-3@mailbox.example', '203.0.113.4', '2026-11-02T09:05:00Z')).outcome).toBe('merged');
    await new Promise((r) => setTimeout(r, 300));
    const digests = async () => (await m.delivered()).filter((d) => d.headers.get('x-cordon-template') === 'complaint_digest');
    expect(await digests()).toHaveLength(0); // not within the hour after the notice
    await m.advance(45 * MIN);
    await m.mailWhere('the digest', (d) => d.headers.get('x-cordon-template') === 'complaint_digest');
    // A third right after it waits for the hour after this digest.
    expect((await ingest('d-4@mailbox.example', '203.0.113.5', '2026-11-02T09:40:00Z')).outcome).toBe('merged');
    await new Promise((r) => setTimeout(r, 300));
    const [digest, ...more] = await digests();
    expect(more).toHaveLength(0);
    const text = digest!.text.replace(/\s+/g, ' ');
    expect(text).toContain('2 more complaints about spam');
    expect(text).toContain('203.0.113.3: event 2026-11-02T08:55:00Z, received 2026-11-02T09:10:00Z');
    expect(text).toContain('203.0.113.4: event 2026-11-02T09:05:00Z, received 2026-11-02T09:20:00Z');
    expect(text).not.toContain('203.0.113.5');
    expect(digest!.attachments).toHaveLength(2);
    expect(digest!.text).toContain(`${PUBLIC_URL}${PAGE_PREFIX}`);
    const pending = (await m.controller.store.outbox.list({ status: 'pending' })).filter((row) => (row.payload as { template?: string }).template === 'complaint_digest');
    expect(pending).toHaveLength(1);
    expect(pending[0]!.dueAt.getTime()).toBeGreaterThanOrEqual(m.clock.now().getTime() + 59 * MIN);
  });

  it('a notice re-sent after a bounce lists every complaint, keeps the link, and counts the deadlines from now', async () => {
    m = await MailController.start();
    const first = await ingest('b-1@mailbox.example', '203.0.113.2', '2026-11-02T08:00:00Z');
    const notice = await m.noticeDelivered(first.incidentId!);
    await ingest('b-2@mailbox.example', '203.0.113.3', '2026-11-02T08:30:00Z');
    await m.advance(5 * 60 * MIN);
    await m.controller.service.apply(first.incidentId!, { type: 'notice_bounced', reason: '550 mailbox full' }, 'mail');
    await m.controller.service.queueMail(first.incidentId!, 'notice', 'olga', 'the customer fixed their mailbox');
    const again = await m.mailWhere('the re-sent notice', (d) => d.headers.get('x-cordon-template') === 'notice' && d.text.includes('could not be delivered'));
    const text = again.text.replace(/\s+/g, ' ');
    expect(text).toContain('Our earlier notice of this incident could not be delivered, so its deadlines did not run.');
    expect(text).toContain(`acknowledge by ${new Date(m.clock.now().getTime() + 24 * 60 * MIN).toISOString().replace('.000Z', 'Z')}`);
    expect(text).toContain('We received 2 complaints about spam');
    expect(text).toContain('203.0.113.3: event 2026-11-02T08:30:00Z');
    const link = (t: string) => new RegExp(`${PUBLIC_URL}${PAGE_PREFIX}\\S+`).exec(t)?.[0];
    expect(link(again.text)).toBe(link(notice.text));
  });

  it('a complaint that joins before the notice went out is listed in the notice itself', async () => {
    m = await MailController.start({ settings: { mail: undefined } });
    const first = await ingest('p-1@mailbox.example', '203.0.113.2', '2026-11-02T08:00:00Z');
    expect((await ingest('p-2@mailbox.example', '203.0.113.6', '2026-11-02T08:30:00Z')).outcome).toBe('merged');
    const rows = (await m.controller.store.outbox.list()).filter((row) => row.incidentId === first.incidentId && row.kind === 'mail');
    expect(rows.map((row) => (row.payload as { template: string }).template)).toEqual(['notice']);
    const payload = rows[0]!.payload as { complaint: { ip: string }; complaints: { ip: string }[] };
    expect([payload.complaint.ip, ...payload.complaints.map((c) => c.ip)]).toEqual(['203.0.113.2', '203.0.113.6']);
  });
});
