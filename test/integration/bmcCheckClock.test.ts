import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BmcCheck, BmcDriver, BmcTarget } from '../../controller/bmc/BmcDriver.js';
import { ManualClock } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * A BMC driver stamps its checks with the wall clock, as the real one does.
 * When the incident clock runs elsewhere (a drill two days ahead, a test),
 * the check must still count as fresh: the worker stamps it on the incident
 * clock. Before that, a held cut waited for a "2,880-minute-old" check
 * forever and re-checked the BMC every second. (Real ipmitool against
 * ipmi_sim is covered in test/system/bmcGate.test.ts; the point here is only
 * whose clock stamps the result.)
 */
describe('BMC checks on the incident clock', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const checks: BmcTarget[] = [];
  const wallStampingDriver: BmcDriver = {
    async check(target: BmcTarget): Promise<BmcCheck> {
      checks.push(target);
      return { hostId: target.hostId, reachable: true, sol: 'not_required', checkedAt: new Date(), durationMs: 3, attempts: 1 };
    },
  };

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-bmcclock-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    await store.bmcs.set({ hostId: 'web-01', protocol: 'ipmi', address: '10.255.1.10', port: 623, user: 'cordon', passwordFile: '/dev/null', sol: false, cipherSuite: undefined });
    const clock = new ManualClock(new Date(Date.now() + 2 * 86_400_000));
    controller = await runController(controllerSettings(pki, store, { clock, bmcDriver: wallStampingDriver }));
  });
  afterAll(async () => {
    await controller?.stop(200);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('lets a cut held for the BMC proceed once the BMC answers, with one check', async () => {
    const r = await controller.service.submitComplaint(
      { ip: '203.0.113.10', category: 'malware', reporter: 'cert@cert.example', reporterKind: 'cert', eventTime: undefined, evidence: 'malware download', raw: 'report' },
      'olga',
    );
    await waitFor('the isolate to be decided', async () => (await controller.store.incidents.get(r.incidentId!))!.actions.some((a) => a.kind === 'isolate'), 10_000);
    const incident = (await controller.store.incidents.get(r.incidentId!))!;
    expect(incident.hold).toBeUndefined();
    expect(incident.bmcVerifiedAt!.getTime()).toBeGreaterThan(Date.now() + 86_400_000);
    expect(checks).toHaveLength(1);
  });
});
