import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../controller/clock.js';
import { CustomerLinks } from '../../controller/customer/CustomerLinks.js';
import { MailSender } from '../../controller/mail/MailSender.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { randomBytes } from 'node:crypto';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { freePort } from '../helpers/freePort.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';
import { DESK } from '../unit/mail/fixtures.js';
import { arfReport } from '../helpers/arfReport.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';

/**
 * The customer's side end to end, in a real Chromium (Debian's, driven by
 * playwright-core): the controller mails the notice to a real SMTP server,
 * the customer opens the link from it, answers on the page (with and without
 * JavaScript), and the operator's record shows exactly what they did.
 */
const missing = chromiumMissing();
if (missing) console.log(`skipping the browser tests: ${missing}`);

const T0 = new Date('2026-11-02T09:00:00Z');

describe.skipIf(missing !== undefined)('the customer page in Chromium', () => {
  let pki: TestPki;
  let work: string;
  let sink: SmtpSink;
  let controller: Controller;
  let links: CustomerLinks;
  let publicUrl: string;
  const clock = new ManualClock(T0);
  const secret = randomBytes(32);

  /** A complaint about `ip` opens an incident; its notice reaches the SMTP server; the link comes from that mail. */
  const noticeLink = async (ip: string, open?: () => Promise<string>): Promise<{ id: string; url: string }> => {
    const submit = async () =>
      (await controller.service.submitComplaint(
        { ip, category: 'spam', reporter: 'Mail Watch', reporterKind: 'individual', eventTime: new Date(T0.getTime() - 3_600_000), evidence: `spam from ${ip}`, raw: `report about ${ip}` },
        'olga',
      )).incidentId!;
    const id = await (open ?? submit)();
    const mail = await waitFor(`the notice of ${id}`, async () => {
      for (const m of sink.received) {
        const parsed = await simpleParser(m.raw);
        if (parsed.headers.get('x-cordon-incident') === id) return parsed;
      }
      return undefined;
    });
    await waitFor(`${id} notified`, async () => (await controller.store.incidents.get(id))!.state === 'notified');
    const escaped = publicUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const inMail = new RegExp(`${escaped}/c/[A-Za-z0-9_-]{43}`).exec(mail.text ?? '')?.[0];
    // The link the customer gets: from the delivered notice's text, nowhere else.
    if (!inMail) throw new Error(`the notice of ${id} carries no page link:\n${mail.text ?? ''}`);
    const url = inMail;
    return { id, url };
  };
  const submitAndWait = async (page: Page, form: string, afterText: string) => {
    await page.locator(`#form-${form} button[type=submit]`).click();
    await page.getByText(afterText).first().waitFor({ timeout: 10_000 }).catch(async (err: unknown) => {
      // The page the browser got instead says why (a 403 or 409 page names it).
      throw new Error(`${String(err)}\n${page.url()}: ${(await page.textContent('body'))?.trim()}`);
    });
  };
  const events = async (id: string) => (await controller.store.events.list(id)).filter((e) => e.type.startsWith('customer_'));

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-browser-'));
    sink = await SmtpSink.start();
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    for (let n = 1; n <= 5; n++) await store.hosts.add({ id: `web-0${n}`, customerId: 'acme', publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` });
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    controller = await runController(
      controllerSettings(pki, store, {
        clock,
        mail: { transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo, connectionTimeoutMs: 2_000 }), desk: DESK, maxAttempts: 3 },
        customerLinks: { secret, publicUrl, ttlDays: 30 },
        customerWeb: { listen: `127.0.0.1:${port}`, tls: undefined, publicUrl, trustProxy: [], badTokensPerMinute: 10, maxFiles: 3, maxFileBytes: 1024 * 1024 },
      }),
    );
    links = new CustomerLinks(store, { secret, publicUrl, ttlDays: 30 });
  });
  afterAll(async () => {
    await controller?.stop(200);
    await controller?.store.close();
    await sink?.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('acknowledges then reports fixed; contests with a file; gives a plan in the browser time zone', async () => {
    const a = await noticeLink('203.0.113.1');
    const b = await noticeLink('203.0.113.2');
    const c = await noticeLink('203.0.113.3');
    const browser = await launchChromium({ timezoneId: 'Europe/Berlin' });
    try {
      const page = await browser.context.newPage();
      const res = await page.goto(a.url);
      expect(res!.status()).toBe(200);
      expect(await page.title()).toBe(`Incident ${a.id}`);
      // The script ran under the CSP: times also in the browser's zone.
      await page.getByText('(your time: 2026-11-03 10:00 UTC+01:00)').first().waitFor();
      await submitAndWait(page, 'ack', 'You acknowledged it.');
      expect(page.url()).toBe(a.url);
      await page.fill('#text-fixed', 'Removed the compromised WordPress plugin and rotated passwords.');
      await submitAndWait(page, 'fixed', 'Waiting for a person of the abuse desk.');
      expect(await page.content()).toContain('Removed the compromised WordPress plugin');
      // The desk does not accept the fix: the page says so with the reason given, and offers the answers again.
      await controller.service.apply(a.id, { type: 'operator_reject_dispute', operator: 'olga', reason: 'Our trap still got <i>spam</i> from it at 09:12.' }, 'olga');
      await page.goto(a.url);
      await page.getByText('The abuse desk did not accept your answer; the complaint stands.').waitFor();
      expect(await page.locator('.decision pre').textContent()).toBe('Our trap still got <i>spam</i> from it at 09:12.');
      expect(await page.locator('.decision i').count()).toBe(0);
      await page.fill('#text-fixed', 'Also removed the second plugin it had dropped.');
      await submitAndWait(page, 'fixed', 'Waiting for a person of the abuse desk.');

      await page.goto(b.url);
      await page.fill('#text-false_positive', 'That address is our outbound relay for a mailing list people subscribed to.');
      await page.setInputFiles('#files', { name: 'opt-in-log.txt', mimeType: 'text/plain', buffer: Buffer.from('2026-10-01 alice@example.org confirmed\n') });
      await submitAndWait(page, 'false_positive', 'You said it is a false positive.');
      await page.getByRole('link', { name: 'opt-in-log.txt' }).waitFor();

      await page.goto(c.url);
      expect(await page.inputValue('#form-plan input[name=tz]')).toBe('+01:00');
      await page.fill('#text-plan', 'Move the mail service behind our relay.');
      await page.fill('#due', '2026-11-10');
      await submitAndWait(page, 'plan', 'Your plan is recorded.');
    } finally {
      await browser.close();
    }

    // What the operator sees: the same events as `incident answer`, by the customer, from the page.
    const incident = async (id: string) => (await controller.store.incidents.get(id))!;
    expect((await incident(a.id)).state).toBe('customer_resolved');
    expect((await events(a.id)).map((e) => e.type)).toEqual(['customer_ack', 'customer_fixed', 'customer_fixed']);
    for (const e of await events(a.id)) {
      expect(e.actor).toBe('customer');
      expect(e.detail).toMatchObject({ channel: 'page', sourceAddress: '127.0.0.1', userAgent: expect.stringMatching(/Chrome/) });
    }
    // The incident clock stands still in this test, so both carry the same time: compare as a set.
    expect((await controller.store.customerMessages.listByIncident(a.id)).map((m) => [m.answer, m.body]).sort()).toEqual([
      ['ack', ''],
      ['fixed', 'Also removed the second plugin it had dropped.'],
      ['fixed', 'Removed the compromised WordPress plugin and rotated passwords.'],
    ]);
    expect((await incident(b.id)).state).toBe('disputed');
    const files = await controller.store.customerMessages.listFiles(b.id);
    expect(files.map((f) => [f.filename, f.size])).toEqual([['opt-in-log.txt', 39]]);
    expect((await incident(c.id)).state).toBe('plan_accepted');
    // 2026-11-10 in Berlin (UTC+1) ends at 22:59 UTC.
    expect((await incident(c.id)).resolveDueAt).toEqual(new Date('2026-11-10T22:59:00Z'));
    expect((await controller.store.customerMessages.listByIncident(c.id))[0]).toMatchObject({ answer: 'plan', planDueAt: new Date('2026-11-10T22:59:00Z') });
  });

  it('a report that states no event time: the page says so and gives the report\'s own date, not an event time', async () => {
    // An ARF report without Arrival-Date (RFC 5965 makes it optional): its Date is all it says of time.
    const raw = arfReport({ from: 'FBL <fbl@mailbox.example>', messageId: 'no-arrival@mailbox.example', eventTime: '2026-11-02T08:10:00Z', ip: '203.0.113.5' });
    const d = await noticeLink('203.0.113.5', async () => (await controller.service.ingestReport(Buffer.from(raw.replace(/^Arrival-Date: .*\r\n/m, '')), 'maildir')).results[0]!.incidentId!);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(d.url);
      const when = page.locator('tr', { has: page.locator('th', { hasText: 'When it happened' }) }).locator('td');
      // The page's script may add the reader's local time after the UTC one.
      expect((await when.innerText()).trim()).toMatch(/^not stated in the report \(the report is dated 2026-11-02 08:10 UTC\b/);
    } finally {
      await browser.close();
    }
  });

  it('works without JavaScript, and a tampered link shows the 404 page', async () => {
    const d = await noticeLink('203.0.113.4');
    const browser = await launchChromium({ javaScriptEnabled: false });
    try {
      const page = await browser.context.newPage();
      await page.goto(d.url);
      expect(await page.content()).not.toContain('your time:');
      await submitAndWait(page, 'ack', 'You acknowledged it.');
      await page.fill('#text-plan', 'Patch on the weekend.');
      await page.fill('#due', '2026-11-08');
      await submitAndWait(page, 'plan', 'Your plan is recorded.');

      const token = d.url.split('/c/')[1]!;
      const tampered = `${publicUrl}/c/${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
      const res = await page.goto(tampered);
      expect(res!.status()).toBe(404);
      await page.getByText('This link does not open a page').waitFor();
      expect(await page.content()).not.toContain(d.id);
    } finally {
      await browser.close();
    }
    expect((await events(d.id)).map((e) => e.type)).toEqual(['customer_ack', 'customer_plan']);
    // No script, no tz: the date is the end of that day in UTC.
    expect((await controller.store.incidents.get(d.id))!.resolveDueAt).toEqual(new Date('2026-11-08T23:59:00Z'));
  });
});
