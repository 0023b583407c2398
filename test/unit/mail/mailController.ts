import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { ManualClock } from '../../../controller/clock.js';
import type { CustomerLinkSettings } from '../../../controller/customer/CustomerLinks.js';
import type { Incident } from '../../../controller/incidents/model.js';
import type { RegisteredReporter } from '../../../controller/intake/trust/RegisteredReporter.js';
import { MailSender } from '../../../controller/mail/MailSender.js';
import { runController, type Controller, type ControllerSettings } from '../../../controller/runController.js';
import { openTestStore } from '../../helpers/testStore.js';
import { controllerSettings } from '../../helpers/controllerHarness.js';
import { TestPki } from '../../helpers/pki.js';
import { waitFor } from '../../helpers/waitFor.js';
import { DESK } from './fixtures.js';
import { SmtpSink } from './smtpSink.js';
import { arfReport } from '../../helpers/arfReport.js';

export const PUBLIC_URL = 'https://abuse.hoster.example';
export const STATEMENT = { contractClause: 'clause 7.2 of the Hoster terms (network abuse)', redress: 'You may also turn to the Example Dispute Board.' };

/** One mail as the receiving server got it, parsed. */
export interface Delivered {
  to: string[];
  subject: string;
  text: string;
  headers: Map<string, unknown>;
  attachments: { filename: string; content: string }[];
  raw: string;
}

/**
 * The whole controller (a real SQLite file, or a PostgreSQL database in
 * the `postgresql` test project; real SMTP to a real receiving server;
 * the incident clock moved by hand) with a customer `acme` owning
 * web-01 (203.0.113.0/29) and the customer page's links on.
 */
export class MailController {
  readonly clock = new ManualClock(new Date('2026-11-02T09:00:00Z'));
  readonly links: CustomerLinkSettings = { secret: randomBytes(32), publicUrl: PUBLIC_URL, ttlDays: 30 };
  controller!: Controller;
  sink!: SmtpSink;
  private pki!: TestPki;
  private work!: string;
  private sender!: MailSender;

  static async start(opts: { reporters?: RegisteredReporter[]; settings?: Partial<ControllerSettings> } = {}): Promise<MailController> {
    const m = new MailController();
    m.pki = new TestPki();
    m.work = mkdtempSync(join(tmpdir(), 'cordon-mail-'));
    const store = await openTestStore(join(m.work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME Hosting Customer', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.0/29'], managementAddress: '10.255.0.1' });
    await store.hosts.add({ id: 'web-02', customerId: 'acme', publicPrefixes: ['203.0.113.8/29'], managementAddress: '10.255.0.2' });
    for (const r of opts.reporters ?? []) await store.reporters.add(r, 'config', 'test', m.clock.now());
    m.sink = await SmtpSink.start();
    m.sender = new MailSender({ host: '127.0.0.1', port: m.sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo, connectionTimeoutMs: 2_000 });
    m.controller = await runController(
      controllerSettings(m.pki, store, {
        clock: m.clock,
        mail: { transport: m.sender, desk: { ...DESK, statement: STATEMENT }, maxAttempts: 3 },
        customerLinks: m.links,
        ...opts.settings,
      }),
    );
    return m;
  }

  async stop(): Promise<void> {
    await this.controller?.stop(200);
    await this.controller?.store.close();
    this.sender?.close();
    await this.sink?.close();
    this.pki?.cleanup();
    if (this.work) rmSync(this.work, { recursive: true, force: true });
  }

  async incident(id: string): Promise<Incident> {
    return (await this.controller.store.incidents.get(id))!;
  }

  /** Every mail the receiving server accepted so far, parsed. */
  async delivered(): Promise<Delivered[]> {
    return Promise.all(
      this.sink.received.map(async (r) => {
        const p = await simpleParser(r.raw);
        return {
          to: r.rcptTo,
          subject: p.subject ?? '',
          text: p.text ?? '',
          headers: p.headers as Map<string, unknown>,
          attachments: p.attachments.map((a) => ({ filename: a.filename ?? '', content: a.content.toString('utf8') })),
          raw: r.raw.toString('utf8'),
        };
      }),
    );
  }

  /** Waits until a delivered mail matches, and returns it. */
  async mailWhere(what: string, match: (d: Delivered) => boolean, timeoutMs = 10_000): Promise<Delivered> {
    let found: Delivered | undefined;
    await waitFor(what, async () => (found = (await this.delivered()).find(match)) !== undefined, timeoutMs);
    return found!;
  }

  /** Waits for the incident's notice to go out and be recorded (notice_sent starts the clock). */
  async noticeDelivered(incidentId: string): Promise<Delivered> {
    const mail = await this.mailWhere(`the notice of ${incidentId}`, (d) => d.subject.includes(incidentId) && d.headers.get('x-cordon-template') === 'notice');
    await waitFor(`${incidentId} notified`, async () => (await this.incident(incidentId)).notifiedAt !== undefined);
    return mail;
  }

  /** Moves the incident clock and lets the deadline scheduler and the mail worker see it. */
  async advance(ms: number): Promise<void> {
    this.clock.set(new Date(this.clock.now().getTime() + ms));
    await this.controller.scheduler.kick();
    this.controller.outbox?.kick();
  }
}

/** An ARF (RFC 5965) spam report about `ip`, as a feedback loop sends it. */
export function arf(opts: { from: string; replyTo?: string; messageId: string; eventTime: string; ip: string }): string {
  return arfReport({ ...opts, from: `Abuse Reports <${opts.from}>` });
}
