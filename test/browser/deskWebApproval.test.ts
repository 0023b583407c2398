import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeskClient } from '../../controller/cli/deskClient.js';
import type { EnforceResponse } from '../../proto/gen/cordon/v1/desk.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';

/**
 * Four eyes in a real Chromium with operators' client certificates: olga
 * asks DeskService to throttle two hosts (an approval), tries to grant it
 * herself in the browser and is refused in words; omar, a second abuse
 * operator, opens /approvals and grants it, and both hosts' desired state
 * carries the throttle.
 */
const missing = chromiumMissing();
if (missing) console.log(`skipping the browser tests: ${missing}`);

describe.skipIf(missing !== undefined)('a second operator grants an approval in Chromium', () => {
  let lab: DeskWebLab;
  let olga: DeskClient;
  const browserAs = (who: string) => launchChromium({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: lab.origin, ...lab.files(who) }] });

  beforeAll(async () => {
    lab = await DeskWebLab.start();
    lab.pki.operator('omar', 'abuse_operator');
    olga = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material('operator-olga') }, { timeoutMs: 5_000 });
  });
  afterAll(async () => {
    olga?.close();
    await lab?.stop();
  });

  it('refuses olga her own grant in words, and lets omar grant it: both hosts carry the action', async () => {
    const asked = await olga.call<unknown, EnforceResponse>('enforce', {
      incidentId: '',
      hostIds: ['web-01', 'web-02'],
      customerId: '',
      action: { action: { $case: 'throttle', value: { rateBps: 2_000_000n } } },
      reason: 'botnet C2 traffic',
    });
    const id = asked.approvalId;
    expect(id).toMatch(/^apr-/);

    const asOlga = await browserAs('operator-olga');
    try {
      const page = await asOlga.context.newPage();
      await page.goto(`${lab.origin}/approvals`);
      const row = page.locator(`tr[data-approval="${id}"]`);
      expect(await row.locator('.action').textContent()).toBe('traffic limited to 2 Mbit/s');
      expect(await row.locator('.hosts').textContent()).toBe('web-01, web-02');
      await page.locator(`#decide-${id} form.grant button`).click();
      await page.waitForLoadState();
      expect(await page.locator('p.error').textContent()).toBe(`by: olga requested approval ${id} and cannot approve it; a second operator must`);
    } finally {
      await asOlga.close();
    }
    expect((await lab.controller.store.approvals.get(id))!.status).toBe('pending');

    const asOmar = await browserAs('operator-omar');
    try {
      const page = await asOmar.context.newPage();
      await page.goto(`${lab.origin}/`);
      await page.getByRole('link', { name: 'Approvals' }).click();
      await page.waitForURL(`${lab.origin}/approvals`);
      await page.getByText('omar (abuse operator)').waitFor();
      await page.locator(`#decide-${id} form.grant button`).click();
      await page.waitForURL(`${lab.origin}/approvals?done=granted&id=${id}`);
      expect(await page.locator('#done').textContent()).toBe(`Approval ${id} granted: the action is in force on its hosts.`);
      const row = page.locator(`tr[data-approval="${id}"]`);
      expect(await row.locator('.status').textContent()).toBe('approved');
      expect(await row.locator('.approver').textContent()).toMatch(/^omar/);
    } finally {
      await asOmar.close();
    }
    const approval = (await lab.controller.store.approvals.get(id))!;
    expect(approval).toMatchObject({ status: 'approved', decidedBy: 'omar', requestedBy: 'olga' });
    for (const host of ['web-01', 'web-02']) {
      const desired = await lab.controller.store.desired.get(host);
      expect(desired.enforcements.map((e) => e.action)).toEqual([{ kind: 'throttle', rateBps: 2_000_000 }]);
    }
  });
});
