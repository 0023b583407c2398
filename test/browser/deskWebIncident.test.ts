import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { arfReport } from '../helpers/arfReport.js';

/** A raw report that runs script and draws markup wherever it is rendered as HTML. */
const HOSTILE_RAW = [
  'Subject: <script>window.__pwned = 1</script>',
  'Content-Type: text/html',
  '',
  '<html><body><script>window.__pwned = 2</script><img src=x onerror="window.__pwned = 3"><h1 id="injected">HTML part</h1></body></html>',
  '',
].join('\r\n');

/**
 * The incident page in a real Chromium with the operators' client
 * certificates: the abuse operator answers on the customer's behalf and
 * enforces from the page, a viewer's page has no form, and a raw report full
 * of script opens as text that never runs.
 */
const missing = chromiumMissing();
if (missing) console.log(`skipping the browser tests: ${missing}`);

describe.skipIf(missing !== undefined)('the incident page in Chromium', () => {
  let lab: DeskWebLab;
  let id: string;
  const browserAs = (who: string) => launchChromium({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: lab.origin, ...lab.files(who) }] });

  beforeAll(async () => {
    lab = await DeskWebLab.start();
    const r = await lab.controller.service.submitComplaint(
      { ip: '203.0.113.1', category: 'spam', reporter: 'someone@individual.example', reporterKind: 'individual', eventTime: undefined, evidence: 'spam <img src=x onerror="window.__pwned = 4">', raw: HOSTILE_RAW },
      'olga',
    );
    id = r.incidentId!;
    await lab.controller.service.apply(id, { type: 'notice_sent' }, 'mail');
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('lets the abuse operator answer on the customer behalf, then enforce, from the page', async () => {
    const browser = await browserAs('operator-olga');
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.getByText('olga (abuse operator)').waitFor();
      expect(await page.locator('#incident-state').textContent()).toBe('notified');
      await page.locator('#form-answer input[name=answer][value=fixed]').check();
      await page.fill('#form-answer textarea[name=note]', 'The customer phoned: the open relay is closed.');
      await page.locator('#form-answer button[type=submit]').click();
      await page.waitForURL(`${lab.origin}/incidents/${id}?done=answer`);
      expect(await page.locator('#done').textContent()).toBe("Answer recorded on the customer's behalf.");
      expect(await page.locator('#incident-state').textContent()).toBe('customer_resolved');
      expect(await page.locator('.message pre').first().textContent()).toBe('The customer phoned: the open relay is closed.');

      // Nobody acts over the customer's answer: the page says so, in the lifecycle's words.
      const enforce = async () => {
        await page.selectOption('#form-enforce select[name=action]', 'throttle');
        await page.fill('#form-enforce input[name=rate]', '5');
        await page.fill('#form-enforce input[name=reason]', 'still sending while we verify');
        await page.locator('#form-enforce button[type=submit]').click();
      };
      await enforce();
      await page.locator('p.error').waitFor();
      expect(await page.locator('p.error').textContent()).toMatch(/is customer_resolved: the customer says it is fixed.*waits until that answer is decided/);
      // The operator decides the answer first, with the reason the customer is sent; then acts.
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.fill('#form-reject_dispute input[name=reason]', 'the relay still answers from outside');
      await page.locator('#form-reject_dispute button[type=submit]').click();
      await page.waitForURL(`${lab.origin}/incidents/${id}?done=reject_dispute`);
      expect(await page.locator('#incident-state').textContent()).toBe('acknowledged');
      await enforce();
      await page.waitForURL(`${lab.origin}/incidents/${id}?done=enforce`);
      expect(await page.locator('#done').textContent()).toMatch(/^Enforce: done\./);
      expect(await page.locator('ul.in-force li').first().textContent()).toBe('traffic limited to 5 Mbit/s: this incident (by olga: still sending while we verify)');
      expect(await page.locator('#dispatch').textContent()).toMatch(/^Agent unreachable: it is not connected/);
      expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    } finally {
      await browser.close();
    }
    const events = (await lab.controller.store.events.list(id)).map((e) => `${e.type} ${e.actor}`);
    expect(events).toContain('customer_fixed customer via olga');
    expect(events).toContain('operator_reject_dispute olga');
    expect(events).toContain('operator_enforce olga');
    expect((await lab.controller.store.desired.get('web-01')).enforcements.map((e) => e.action)).toEqual([{ kind: 'throttle', rateBps: 5_000_000 }]);
  });

  it('opens the raw report as text: its script never runs, its HTML never renders', async () => {
    const browser = await browserAs('operator-olga');
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.locator('a.raw').first().click();
      await page.waitForURL(/\/complaints\/[^/]+\/raw$/);
      expect(await page.locator('#injected').count()).toBe(0);
      expect(await page.locator('img').count()).toBe(0);
      expect(await page.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator('body').innerText()).toContain('<h1 id="injected">HTML part</h1>');
    } finally {
      await browser.close();
    }
  });

  it('marks a receipt time as such: the report states no event time, and the page does not say "about an event at"', async () => {
    // An ARF report without Arrival-Date (RFC 5965 makes it optional): its own Date stands in, marked.
    const raw = arfReport({ from: 'FBL <fbl@mailbox.example>', messageId: 'no-arrival@mailbox.example', eventTime: '2026-11-02T08:10:00Z', ip: '203.0.113.2' });
    const { results } = await lab.controller.service.ingestReport(Buffer.from(raw.replace(/^Arrival-Date: .*\r\n/m, '')), 'maildir');
    const { incidentId, complaintId } = results[0]!;
    const browser = await browserAs('operator-vic');
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${incidentId}`);
      const line = await page.locator(`#complaint-${complaintId} p`).first().innerText();
      expect(line).toContain('(receipt time: the report states no event time)');
      expect(line).not.toContain('about an event at');
    } finally {
      await browser.close();
    }
  });

  it("gives a viewer the page with not one form, button, raw link or download", async () => {
    const browser = await browserAs('operator-vic');
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.getByText('vic (viewer)').waitFor();
      expect(await page.locator('#incident-state').textContent()).toBe('enforcing');
      expect(await page.locator('form').count()).toBe(0);
      expect(await page.locator('button').count()).toBe(0);
      expect(await page.locator('a.raw, a.download').count()).toBe(0);
      expect(await page.locator('.verdict').count()).toBe(1);
    } finally {
      await browser.close();
    }
  });
});
