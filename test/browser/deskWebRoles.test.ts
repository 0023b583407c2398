import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { IpmitoolDriver } from '../../controller/bmc/IpmitoolDriver.js';
import { DeskClient } from '../../controller/cli/deskClient.js';
import type { EnforceResponse, HostDetail, IncidentDetail, ListApprovalsResponse } from '../../proto/gen/cordon/v1/desk.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { freePort } from '../helpers/freePort.js';
import { TestPki } from '../helpers/pki.js';

/**
 * Each role in a real Chromium with its own client certificate: the admin
 * sees and uses every form the pages offer (decide an incident, grant and
 * reject approvals); a technician and a viewer see the pages but no
 * incident or approval form, and a POST forged from inside their own page
 * (same origin, the browser's cookies, a CSRF field) is refused with 403
 * and changes nothing, as DeskService over gRPC confirms. A technician
 * (and only they of the two) checks a host's BMC from its page, a real
 * ipmitool check of a closed port. A browser with another CA's certificate
 * gets no page at all.
 *
 * Forms other people may add for a role (answer on behalf, enforce, BMC
 * override) are not counted as such: the assertions name the forms a role
 * must or must not have.
 */
const missing = chromiumMissing();
if (missing) console.log(`skipping the browser tests: ${missing}`);

/** The incident and approval forms a role without DecideIncident / Approve / RejectApproval must never see. */
const DECIDING_FORMS = 'form[action$="/decide"], form[action^="/approvals/"]';

describe.skipIf(missing !== undefined)('the desk by role in Chromium', () => {
  let lab: DeskWebLab;
  const clients: DeskClient[] = [];
  const grpcAs = (name: string) => {
    const c = new DeskClient({ address: `127.0.0.1:${lab.controller.server.port}`, serverName: 'localhost', tls: lab.pki.material(`operator-${name}`) }, { timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };
  const browserAs = (files: { certPath: string; keyPath: string }) => launchChromium({ ignoreHTTPSErrors: true, clientCertificates: [{ origin: lab.origin, ...files }] });
  const ask = async (hosts: string[]): Promise<string> =>
    (
      await grpcAs('olga').call<unknown, EnforceResponse>('enforce', {
        incidentId: '', hostIds: hosts, customerId: '', action: { action: { $case: 'throttle', value: { rateBps: 2_000_000n } } }, reason: 'botnet C2 traffic',
      })
    ).approvalId;
  /** State as DeskService reports it, over gRPC: what an operator's CLI would see. */
  const stateOf = async (id: string) => (await grpcAs('vic').call<unknown, IncidentDetail>('getIncident', { id })).incident!.state;
  const approvalOf = async (id: string) => (await grpcAs('vic').call<unknown, ListApprovalsResponse>('listApprovals', {})).approvals.find((a) => a.id === id)!;

  /** A POST made by script inside `page` (same origin, the browser's cookies), with `csrf` as the form field; resolves with the status. */
  const forge = (page: Page, path: string, form: Record<string, string>) =>
    page.evaluate(
      async ({ path, form }) => (await fetch(path, { method: 'POST', body: new URLSearchParams(form), redirect: 'manual' })).status,
      { path, form },
    );

  let resolved: string;
  let stolenCsrf: string;

  beforeAll(async () => {
    lab = await DeskWebLab.start({
      settings: () => ({ bmcDriver: new IpmitoolDriver({ timeoutSeconds: 1, retries: 1, attempts: 1, minIntervalMs: 0 }, { runner: new ExecRunner() }) }),
    });
    // web-02's BMC is a closed UDP port on this machine: ipmitool tries it for real and it does not answer.
    const password = join(lab.work, 'bmc-web-02.pw');
    writeFileSync(password, 'secret\n', { mode: 0o600 });
    await lab.controller.store.bmcs.set({ hostId: 'web-02', protocol: 'ipmi', address: '127.0.0.1', port: await freePort(), user: 'cordon', passwordFile: password, sol: false, cipherSuite: undefined });
    resolved = await lab.resolved('203.0.113.1');
    // A CSRF field as an abuse operator's page carries it: what a lower role would paste into a forged form.
    stolenCsrf = /name="csrf" value="([^"]+)"/.exec((await lab.request('operator-olga', `/incidents/${resolved}`)).body)![1]!;
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await lab?.stop();
  });

  for (const who of ['tess', 'vic'] as const) {
    it(`gives ${who === 'tess' ? 'a technician' : 'a viewer'} the pages without deciding forms, and refuses a forged decision, grant and rejection from the page: nothing changes`, async () => {
      const approval = await ask(['web-02', 'web-03']);
      const browser = await browserAs(lab.files(`operator-${who}`));
      try {
        const page = await browser.context.newPage();
        for (const path of ['/', `/incidents/${resolved}`, '/approvals', '/hosts', '/hosts/web-02']) {
          const r = await page.goto(`${lab.origin}${path}`);
          expect(r?.status(), path).toBe(200);
          expect(await page.locator(DECIDING_FORMS).count(), path).toBe(0);
        }
        // The host page's one action is the technician's, never the viewer's.
        expect(await page.locator('#form-check-bmc').count()).toBe(who === 'tess' ? 1 : 0);
        await page.goto(`${lab.origin}/incidents/${resolved}`);
        // The page's own field when it has one (it may, for a form this role is allowed), else the one taken from another operator.
        const csrf = (await page.locator('input[name="csrf"]').first().getAttribute('value', { timeout: 100 }).catch(() => null)) ?? stolenCsrf;
        expect(await forge(page, `/incidents/${resolved}/decide`, { csrf, decision: 'verify', reason: 'forged' })).toBe(403);
        expect(await forge(page, `/incidents/${resolved}/decide`, { csrf, decision: 'dismiss', reason: 'forged' })).toBe(403);
        await page.goto(`${lab.origin}/approvals`);
        expect(await forge(page, `/approvals/${approval}/grant`, { csrf })).toBe(403);
        expect(await forge(page, `/approvals/${approval}/reject`, { csrf, reason: 'forged' })).toBe(403);
        // The refusal is in words on the page a browser would show.
        const body = await page.evaluate(async (p) => (await fetch(p, { method: 'POST', body: new URLSearchParams({ reason: 'x' }) })).text(), `/approvals/${approval}/grant`);
        expect(body).toContain(`DeskService/Approve needs role abuse_operator or above; ${who} is ${who === 'tess' ? 'technician' : 'viewer'}`);
      } finally {
        await browser.close();
      }
      expect(await stateOf(resolved)).toBe('customer_resolved');
      expect(await approvalOf(approval)).toMatchObject({ state: 'pending', approvedBy: '' });
      expect((await lab.controller.store.desired.get('web-02')).enforcements).toEqual([]);
    });
  }

  it('lets a technician check a host\'s BMC from its page, with no deciding form anywhere', async () => {
    const browser = await browserAs(lab.files('operator-tess'));
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/hosts/web-02`);
      expect(await page.locator('#bmc-check').textContent()).toBe('never checked');
      await page.getByRole('button', { name: 'Check the BMC now' }).click();
      await page.waitForURL(`${lab.origin}/hosts/web-02?checked=1`);
      expect(await page.locator('#done').textContent()).toBe('BMC checked just now: see Last BMC check.');
      expect(await page.locator('#bmc-check').textContent()).toMatch(/^unreachable; Serial-over-LAN not checked \(not required for this host\); took \d+ ms; .+mc info: no answer from the BMC/);
      expect(await page.locator(DECIDING_FORMS).count()).toBe(0);
      await page.goto(`${lab.origin}/incidents/${resolved}`);
      expect(await page.locator(DECIDING_FORMS).count()).toBe(0);
    } finally {
      await browser.close();
    }
    // Recorded, as GetHost over gRPC reports it, and audited under the technician's name.
    expect((await grpcAs('vic').call<unknown, HostDetail>('getHost', { id: 'web-02' })).lastBmcCheck).toMatchObject({ reachable: false });
    expect((await lab.controller.store.audit.list({ subject: 'web-02' })).filter((a) => a.action === 'bmc.check').map((a) => a.actor)).toEqual(['tess']);
  });

  it('lets an admin see every deciding form and use them: verify an incident, grant one approval and reject another with a reason', async () => {
    const toGrant = await ask(['web-04', 'web-05']);
    const toReject = await ask(['web-01', 'web-05']);
    const browser = await browserAs(lab.files('operator-ada'));
    try {
      const page = await browser.context.newPage();
      await page.goto(`${lab.origin}/incidents/${resolved}`);
      await page.getByText('ada (admin)').waitFor();
      for (const form of ['#form-verify', '#form-reject_dispute', '#form-dismiss', '#form-release']) expect(await page.locator(form).count(), form).toBe(1);
      await page.locator('#form-verify input[name="reason"]').fill('customer patched the mail server');
      await page.locator('#form-verify button').click();
      await page.waitForURL(new RegExp(`/incidents/${resolved}\\?`));

      await page.goto(`${lab.origin}/approvals`);
      for (const id of [toGrant, toReject]) {
        expect(await page.locator(`#decide-${id} form.grant`).count()).toBe(1);
        expect(await page.locator(`#decide-${id} form.reject`).count()).toBe(1);
      }
      await page.locator(`#decide-${toGrant} form.grant button`).click();
      await page.waitForURL(`${lab.origin}/approvals?done=granted&id=${toGrant}`);
      await page.locator(`#decide-${toReject} form.reject input[name="reason"]`).fill('one host is enough');
      await page.locator(`#decide-${toReject} form.reject button`).click();
      await page.waitForURL(`${lab.origin}/approvals?done=rejected&id=${toReject}`);
      expect(await page.locator(`tr[data-approval="${toReject}"] .decision-reason`).textContent()).toBe('rejected: one host is enough');
    } finally {
      await browser.close();
    }
    expect(await stateOf(resolved)).toBe('closed');
    expect(await approvalOf(toGrant)).toMatchObject({ state: 'approved', approvedBy: 'ada' });
    expect(await approvalOf(toReject)).toMatchObject({ state: 'rejected', approvedBy: 'ada', decisionReason: 'one host is enough' });
    expect((await lab.controller.store.desired.get('web-04')).enforcements.map((e) => e.action)).toEqual([{ kind: 'throttle', rateBps: 2_000_000 }]);
  });

  it('gives a browser holding another CA\'s operator certificate no page at all', async () => {
    const foreign = new TestPki();
    try {
      foreign.operator('mallory', 'admin');
      const browser = await browserAs({ certPath: `${foreign.dir}/operator-mallory.crt`, keyPath: `${foreign.dir}/operator-mallory.key` });
      try {
        const page = await browser.context.newPage();
        await expect(page.goto(`${lab.origin}/approvals`)).rejects.toThrow(/net::ERR_/);
      } finally {
        await browser.close();
      }
    } finally {
      foreign.cleanup();
    }
  });
});
