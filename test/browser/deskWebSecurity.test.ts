import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';
import { testManagedSecurity } from '../helpers/managedSecurity.js';

/**
 * Managed security on the desk's host page, in a real Chromium with the
 * operator's certificate: what web-01's agent reported over its real stream
 * (a ban, a new listening socket whose process name is hostile text) shows
 * read-only on the host page; a host that did not take it says so.
 */
const missing = chromiumMissing();
if (missing) console.log(`skipping the browser tests: ${missing}`);

describe.skipIf(missing !== undefined)("the desk's host page: managed security", () => {
  let lab: DeskWebLab;
  let agent: RawAgent;
  const browserAs = (who: string) => launchChromium({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: lab.origin, ...lab.files(who) }] });
  const socket = (port: number, process: string) => ({ protocol: 'tcp', address: '0.0.0.0', port, process, pid: 4242 });

  beforeAll(async () => {
    lab = await DeskWebLab.start({
      settings: () => ({
        managedSecurity: testManagedSecurity({ hosts: ['web-01'], services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 6, burst: 4 }], resyncSeconds: 60, listenerCheckSeconds: 30 }),
      }),
    });
    agent = await connectRawAgent(lab.pki.material('agent-web-01'), lab.controller.server.port, 'web-01');
    const now = Date.now();
    // The first list is the baseline; the second names one socket more.
    await agent.send({ body: { $case: 'listeners', value: { sockets: [socket(22, 'sshd')], observedAt: new Date(now) } } });
    await agent.send({ body: { $case: 'listeners', value: { sockets: [socket(22, 'sshd'), socket(4444, '<img src=x onerror=alert(1)>')], observedAt: new Date(now) } } });
    await agent.send({
      body: {
        $case: 'ban',
        value: { banId: `${now}-198.51.100.23`, address: '198.51.100.23', change: 'banned', services: ['ssh'], bannedAt: new Date(now), expiresAt: new Date(now + 600_000), offence: 1, seconds: 600, seq: 0n },
      },
    });
    const audit = async () => (await lab.controller.store.audit.list({ subject: 'web-01' })).map((e) => e.action);
    await waitFor('the ban and the new socket recorded', async () => (await audit()).includes('guard.banned') && (await audit()).includes('sockets.new')).catch(async (err) => {
      throw new Error(`${(err as Error).message}; audit: ${(await audit()).join(', ')}`);
    });
  });
  afterAll(async () => {
    agent?.close();
    await lab?.stop();
  });

  it('shows a viewer the bans in force and the sockets not accepted, as text and with no form; a host that did not take it says so', async () => {
    const browser = await browserAs('operator-vic');
    try {
      const page = await browser.context.newPage();
      let alerted = false;
      page.on('dialog', (d) => {
        alerted = true;
        void d.dismiss();
      });
      expect((await page.goto(`${lab.origin}/hosts/web-01`))!.status()).toBe(200);
      const section = page.locator('#managed-security');
      const ban = section.locator('table.bans tr[data-ban]');
      expect(await ban.count()).toBe(1);
      expect(await ban.textContent()).toMatch(/198\.51\.100\.23\s*ssh.*1 \(600 s\)/s);
      const fresh = section.locator('table.sockets tr[data-socket]');
      expect(await fresh.count()).toBe(1);
      expect(await fresh.getAttribute('data-socket')).toBe('tcp 0.0.0.0:4444');
      expect(await fresh.locator('td').nth(2).textContent()).toBe('<img src=x onerror=alert(1)> (pid 4242)');
      expect(await section.locator('img').count()).toBe(0);
      expect(await section.locator('form, button').count()).toBe(0);
      expect(alerted).toBe(false);

      await page.goto(`${lab.origin}/hosts/web-02`);
      expect(await page.locator('#managed-security').textContent()).toContain('Not taken for this host');
    } finally {
      await browser.close();
    }
  });
});
