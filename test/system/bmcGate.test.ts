import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { IpmitoolDriver } from '../../controller/bmc/IpmitoolDriver.js';
import { runController, type Controller } from '../../controller/runController.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { Store } from '../../controller/store/Store.js';
import { IpmiSim } from '../helpers/ipmiSim.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ipmitool', 'ipmi_sim', 'openssl']);
explainSkip('bmcGate.test.ts', gate);

/**
 * The console guarantee with a real BMC: OpenIPMI's ipmi_sim per host,
 * Debian's ipmitool, the real controller (store, lifecycle, BMC worker).
 * A cut proceeds only after the BMC answered; a silent or misconfigured one
 * holds the cut for an operator; a console lost after the cut raises an alert.
 */
describe.skipIf(!gate.ok)('BMC checks around cuts', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const sims: IpmiSim[] = [];

  const malware = async (ip: string) => {
    const r = await controller.service.submitComplaint({ ip, category: 'malware', reporter: 'cert@cert.example', reporterKind: 'cert', eventTime: undefined, evidence: 'dropper', raw: 'report' }, 'olga');
    return r.incidentId!;
  };
  const incident = async (id: string) => (await controller.store.incidents.get(id))!;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-bmc-'));
    const store = await Store.open(join(work, 'cordon.db'));
    const good = await IpmiSim.start();
    const silent = await IpmiSim.start();
    const locked = await IpmiSim.start();
    const slow = await IpmiSim.start();
    sims.push(good, silent, locked, slow);
    await silent.kill(); // a BMC that no longer answers
    const hosts: [string, string, IpmiSim, string | undefined][] = [
      ['web-01', '203.0.113.1', good, undefined],
      ['web-02', '203.0.113.2', silent, undefined],
      ['web-03', '203.0.113.3', locked, locked.writeFile('wrong-password', 'not-the-password')],
      ['web-04', '203.0.113.4', slow, undefined],
    ];
    for (const [id, ip, sim, passwordFile] of hosts) {
      await store.hosts.add({ id, customerId: 'acme', publicPrefixes: [`${ip}/32`], managementAddress: '10.255.0.10' });
      const t = sim.target();
      await store.bmcs.set({ hostId: id, protocol: 'ipmi', address: t.address, port: t.port ?? 623, user: t.user, passwordFile: passwordFile ?? t.passwordFile, sol: false, cipherSuite: undefined });
    }
    controller = await runController(
      controllerSettings(pki, store, { bmcDriver: new IpmitoolDriver({ minIntervalMs: 200 }, { runner: new ExecRunner() }) }),
    );
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    for (const s of sims) await s.stop();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('isolates once the BMC answered, and says so in the enforcement notice', async () => {
    const id = await malware('203.0.113.1');
    await waitFor('the cut after a good check', async () => (await incident(id)).state === 'enforcing', 10_000);
    const i = await incident(id);
    expect(i.actions).toEqual([{ kind: 'isolate' }]);
    expect(i.bmcVerifiedAt).toBeInstanceOf(Date);
    expect((await controller.store.desired.get('web-01')).enforcements.map((e) => e.action.kind)).toEqual(['isolate']);
    const events = (await controller.store.events.list(id)).map((e) => e.type);
    expect(events).toEqual(expect.arrayContaining(['open', 'held', 'bmc_result']));

    // The agent confirms: the enforced mail carries when the console was verified.
    await controller.service.apply(id, { type: 'host_applied' }, 'agent web-01');
    const mail = (await controller.store.outbox.list({ limit: 100 })).find((m) => m.incidentId === id && (m.payload as { template?: string }).template === 'enforced');
    expect((mail!.payload as { bmcCheckedAt?: string }).bmcCheckedAt).toBe(i.bmcVerifiedAt!.toISOString());
  });

  it('raises an alert when the console stops answering after the cut', async () => {
    const [id] = (await controller.store.incidents.list({ hostId: 'web-01' })).map((i) => i.id);
    await sims[0]!.kill();
    const check = await controller.bmc!.checkHost('web-01');
    expect(check).toMatchObject({ reachable: false, errorKind: 'timeout' });
    // The after-check queued by host_applied also ran against the dead simulator.
    await waitFor('the alert on the incident', async () => (await controller.store.events.list(id!)).some((e) => e.type === 'alert'), 15_000);
  });

  it('holds the cut when the BMC is silent, until an operator overrides', async () => {
    const id = await malware('203.0.113.2');
    await waitFor('the failed check', async () => (await controller.store.bmcs.latest('web-02'))?.reachable === false, 15_000);
    expect(await incident(id)).toMatchObject({ state: 'escalated', hold: 'bmc_unreachable', actions: [] });
    expect((await controller.store.desired.get('web-02')).generation).toBe(0);
    await controller.service.apply(id, { type: 'operator_override_bmc', operator: 'omar', reason: 'customer confirmed iDRAC access by phone' }, 'omar');
    expect(await incident(id)).toMatchObject({ state: 'enforcing', actions: [{ kind: 'isolate' }] });
  });

  it('holds the cut on a wrong BMC password, and says why', async () => {
    const id = await malware('203.0.113.3');
    await waitFor('the failed check', async () => (await controller.store.bmcs.latest('web-03')) !== undefined, 10_000);
    expect(await controller.store.bmcs.latest('web-03')).toMatchObject({ reachable: false, error: expect.stringMatching(/auth|password|HMAC|RAKP/i) });
    expect(await incident(id)).toMatchObject({ state: 'escalated', hold: 'bmc_unreachable' });
    // SMTP block and throttle never wait for the BMC.
    const spam = await controller.service.submitComplaint({ ip: '203.0.113.3', category: 'ddos', reporter: 'up', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: 'x' }, 'olga');
    expect(await incident(spam.incidentId!)).toMatchObject({ state: 'enforcing', actions: [{ kind: 'throttle', rateBps: 10_000_000 }] });
  });

  it('holds the cut when the BMC hangs (timeout)', async () => {
    sims[3]!.pause(); // SIGSTOP: the process is there but answers nothing
    try {
      const id = await malware('203.0.113.4');
      await waitFor('the timed-out check', async () => (await controller.store.bmcs.latest('web-04')) !== undefined, 15_000);
      expect(await controller.store.bmcs.latest('web-04')).toMatchObject({ reachable: false });
      expect(await incident(id)).toMatchObject({ state: 'escalated', hold: 'bmc_unreachable', actions: [] });
    } finally {
      sims[3]!.resume();
    }
  });

  it('answers `cordonctl host bmc-check` with the result and the exit status', async () => {
    pki.operator('tess', 'technician');
    // Asynchronous: the controller runs in this process and must keep answering.
    const ctl = (host: string) =>
      new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(DIST, 'controller/cli/cordonctl.cjs'), '--controller', `127.0.0.1:${controller.server.port}`, '--server-name', 'localhost', '--pki', pki.dir, '--operator', 'tess', 'host', 'bmc-check', host, '--json'],
          { timeout: 30_000 },
          (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const bad = await ctl('web-03');
    expect(bad.status).toBe(1);
    const result = JSON.parse(bad.stdout) as { hostId: string; reachable?: boolean; errorKind: string };
    expect(result).toMatchObject({ hostId: 'web-03', errorKind: 'auth' });
    expect(result.reachable).toBeFalsy(); // proto3 JSON leaves false out
    const unknown = await ctl('web-99');
    expect(unknown.stderr).toMatch(/no host web-99/);
  });
});
