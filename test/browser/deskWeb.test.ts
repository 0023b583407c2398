import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';

/**
 * The desk in a real Chromium (Debian's, driven by playwright-core) with the
 * operator's client certificate from cordon-pki: the abuse operator works the
 * queue, a viewer only looks, a browser without a certificate gets no page,
 * and a change made through the service shows in an open page within a
 * second, without a reload.
 */
const missing = chromiumMissing();
if (missing) console.log(`skipping the browser tests: ${missing}`);

describe.skipIf(missing !== undefined)('the desk in Chromium', () => {
  let lab: DeskWebLab;
  /** A browser holding `who`'s certificate for the desk's origin (the Cordon CA is not in Chromium's store, hence ignoreHTTPSErrors). */
  const browserAs = (who: string) => launchChromium({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: lab.origin, ...lab.files(who) }] });

  beforeAll(async () => {
    lab = await DeskWebLab.start();
  });
  afterAll(async () => {
    await lab?.stop();
  });

  it('lets the abuse operator open the queue, open an incident and verify it', async () => {
    const id = await lab.resolved('203.0.113.1');
    const browser = await browserAs('operator-olga');
    try {
      const page = await browser.context.newPage();
      const res = await page.goto(`${lab.origin}/`);
      expect(res!.status()).toBe(200);
      await page.getByText('olga (abuse operator)').waitFor();
      const row = page.locator(`tr[data-incident="${id}"]`);
      expect(await row.locator('.why').textContent()).toBe('customer resolved');
      await row.getByRole('link', { name: id }).click();
      await page.waitForURL(`${lab.origin}/incidents/${id}`);
      expect(await page.locator('#incident-state').textContent()).toBe('customer_resolved');
      await page.fill('#form-verify input[name=reason]', 'checked: the relay is closed');
      await page.locator('#form-verify button[type=submit]').click();
      await page.waitForURL(`${lab.origin}/incidents/${id}?done=verify`);
      expect(await page.locator('#done').textContent()).toBe('Verify: done.');
      expect(await page.locator('#incident-state').textContent()).toBe('closed');
    } finally {
      await browser.close();
    }
    expect((await lab.controller.store.incidents.get(id))!.state).toBe('closed');
    const audit = await lab.controller.store.audit.list({ subject: id });
    expect(audit.some((a) => a.actor === 'olga')).toBe(true);
  });

  it('shows a change made through the service in the open page within a second, without reload', async () => {
    const id = await lab.open('203.0.113.2');
    const browser = await browserAs('operator-olga');
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.getByText('live', { exact: true }).waitFor();
      // A mark on the window: a reload or navigation would lose it.
      await page.evaluate(() => ((globalThis as unknown as { mark: number }).mark = 42));
      await page.fill('#form-dismiss input[name=reason]', 'typing while the page updates');
      expect(await page.locator('#incident-state').textContent()).toBe('notified');
      const started = Date.now();
      await lab.controller.service.apply(id, { type: 'customer_fixed' }, 'customer');
      await page.locator('#incident-state', { hasText: 'customer_resolved' }).waitFor({ timeout: 1000 });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(await page.evaluate(() => (globalThis as unknown as { mark?: number }).mark)).toBe(42);
      // The forms are outside the part that updates: what the operator typed stays.
      expect(await page.inputValue('#form-dismiss input[name=reason]')).toBe('typing while the page updates');

      // The queue too: a new incident waiting for a person appears in an open queue.
      await page.goto(`${lab.origin}/`);
      await page.getByText('live', { exact: true }).waitFor();
      const other = await lab.open('203.0.113.3');
      const t = Date.now();
      await lab.controller.service.apply(other, { type: 'customer_false_positive' }, 'customer');
      await page.locator(`tr[data-incident="${other}"]`).waitFor({ timeout: 1000 });
      expect(Date.now() - t).toBeLessThan(1000);
    } finally {
      await browser.close();
    }
  });

  it('gives a viewer the pages without a single form', async () => {
    const id = await lab.resolved('203.0.113.4');
    const browser = await browserAs('operator-vic');
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.getByText('vic (viewer)').waitFor();
      expect(await page.locator('#incident-state').textContent()).toBe('customer_resolved');
      expect(await page.locator('form').count()).toBe(0);
      expect(await page.locator('button').count()).toBe(0);
    } finally {
      await browser.close();
    }
  });

  it('works without JavaScript: the forms post and the page comes back (just no live update)', async () => {
    const id = await lab.open('203.0.113.5');
    const browser = await launchChromium({ javaScriptEnabled: false, ignoreHTTPSErrors: true, clientCertificates: [{ origin: lab.origin, ...lab.files('operator-olga') }] });
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${id}`);
      await page.fill('#form-dismiss input[name=reason]', 'the reporter mistyped the address');
      await page.locator('#form-dismiss button[type=submit]').click();
      await page.waitForURL(`${lab.origin}/incidents/${id}?done=dismiss`);
      expect(await page.locator('#incident-state').textContent()).toBe('dismissed');
      expect(await page.locator('#live-status').textContent()).toBe('');
    } finally {
      await browser.close();
    }
  });

  it('gives a browser without a certificate no page at all', async () => {
    const browser = await launchChromium({ ignoreHTTPSErrors: true });
    try {
      const page = await browser.context.newPage();
      await expect(page.goto(`${lab.origin}/`)).rejects.toThrow(/net::ERR_/);
    } finally {
      await browser.close();
    }
  });
});
