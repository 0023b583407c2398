import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsSettings } from '../../controller/alerts/alertsSettings.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { CrowdsecLab } from '../helpers/crowdsecLab.js';
import { removeStaleNamespaces } from '../helpers/netns.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'crowdsec', 'cscli']);
explainSkip('alertsCrowdsec.test.ts', gate);

const TOKEN = 'e2e'.repeat(12);
const OFFENDER = '203.0.113.7';

/**
 * Issue 17 end to end: Debian's crowdsec, offline in a namespace, reads
 * sshd auth failures from one of our servers' addresses, raises its real
 * ssh-bf alert, and its http plugin posts it to a real controller's alerts
 * listener, which files it as a brute_force complaint from own monitoring.
 */
describe.skipIf(!gate.ok)('a real CrowdSec ssh-bf alert becomes a complaint', { timeout: 90_000 }, () => {
  let work: string;
  let pki: TestPki;
  let lab: CrowdsecLab;
  let controller: Controller | undefined;

  beforeAll(async () => {
    removeStaleNamespaces();
    work = mkdtempSync(join(tmpdir(), 'cordon-cs-e2e-'));
    pki = new TestPki();
    lab = new CrowdsecLab(mkdtempSync(join(tmpdir(), 'cordon-cs-')));
    try {
      lab.createNetwork();
      const tokenFile = join(work, 'crowdsec.token');
      writeFileSync(tokenFile, TOKEN);
      chmodSync(tokenFile, 0o600);
      const store = await Store.open(join(work, 'cordon.db'));
      await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
      await store.hosts.add({ id: 'web-07', customerId: 'acme', publicPrefixes: [`${OFFENDER}/32`], managementAddress: '10.255.0.7' });
      // Plain HTTP on the lab's private veth: the plugin checks certificates against the system store, where the test CA is not.
      const alerts = alertsSettings({ listen: `${lab.hostAddr}:0`, tls: false, sources: [{ id: 'edge-crowdsec', kind: 'crowdsec', tokenFile }] }, pki.controller());
      controller = await runController(controllerSettings(pki, store, { alerts }));
      await lab.start(lab.configure(`http://${lab.hostAddr}:${controller.alerts!.port}/alerts/crowdsec`, TOKEN));
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  }, 60_000);

  afterAll(async () => {
    await lab?.destroy();
    await controller?.stop();
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
    if (lab) rmSync(lab.dir, { recursive: true, force: true });
  });

  it('files the ssh-bf alert against the offending address, with CrowdSec\'s evidence', async () => {
    lab.failedLogins(OFFENDER, 8);
    const filed = await waitFor('the ssh-bf complaint', async () => (await controller!.store.complaints.listByStatus('linked')).find((c) => c.raw.includes('"crowdsecurity/ssh-bf"')), 30_000, 200);
    expect(filed).toMatchObject({ ip: OFFENDER, category: 'brute_force', reporter: 'crowdsec:edge-crowdsec', reporterKind: 'own_monitoring', trusted: true });
    expect(filed.evidence).toMatch(/raised scenario crowdsecurity\/ssh-bf against Ip 203\.0\.113\.7: 6 event\(s\) from /);
    expect(filed.evidence).toContain('log_type=ssh_failed-auth');
    expect(filed.evidence).toContain('Its decisions: ban 4h on Ip 203.0.113.7 (crowdsec).');
    const incidents = (await controller!.store.incidents.list({})).filter((i) => i.hostId === 'web-07');
    expect(incidents).toEqual([expect.objectContaining({ category: 'brute_force' })]);
    expect(lab.output).toContain("performed 'crowdsecurity/ssh-bf'");
  });
});
