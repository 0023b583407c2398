import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertsSettings } from '../../controller/alerts/alertsSettings.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import { COMPLAINT_STATUSES } from '../../controller/store/ComplaintsRepo.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { FastnetmonLab } from '../helpers/fastnetmonLab.js';
import { removeStaleNamespaces } from '../helpers/netns.js';
import { TestPki } from '../helpers/pki.js';
import { recordingLog } from '../helpers/recordingLog.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';

const gate = systemTestGate(['ip', 'fastnetmon', 'curl']);
explainSkip('alertsFastnetmon.test.ts', gate);

const TOKEN = 'fnm'.repeat(12);

/**
 * Issue 17 end to end: Debian's fastnetmon, offline in a namespace, sniffs
 * (pcap) the link between "our" servers and "the internet", sees a bounded
 * UDP flood sent BY one of our servers, bans it and runs the repository's
 * notify script, which posts the notice to a real controller's alerts
 * listener; the controller files a ddos complaint from own monitoring.
 * Traffic under the threshold, a flood AT our server (incoming) and a
 * notice with a wrong token file nothing.
 */
describe.skipIf(!gate.ok)('a real FastNetMon outgoing ban becomes a complaint', { timeout: 120_000 }, () => {
  let work: string;
  let pki: TestPki;
  let lab: FastnetmonLab;
  let controller: Controller | undefined;
  const { log, lines } = recordingLog('info');
  let sender: string;
  let quiet: string;
  let victim: string;
  const allComplaints = async () => (await Promise.all(COMPLAINT_STATUSES.map((s) => controller!.store.complaints.listByStatus(s)))).flat();

  beforeAll(async () => {
    removeStaleNamespaces();
    work = mkdtempSync(join(tmpdir(), 'cordon-fnm-e2e-'));
    pki = new TestPki();
    lab = new FastnetmonLab(mkdtempSync(join(tmpdir(), 'cordon-fnm-')));
    [sender, quiet, victim] = lab.servers;
    try {
      lab.createNetwork();
      const tokenFile = join(work, 'fastnetmon.token');
      writeFileSync(tokenFile, TOKEN);
      chmodSync(tokenFile, 0o600);
      const store = await Store.open(join(work, 'cordon.db'));
      await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
      for (const [i, a] of lab.servers.entries()) await store.hosts.add({ id: `web-1${i}`, customerId: 'acme', publicPrefixes: [`${a}/32`], managementAddress: `10.255.0.1${i}` });
      const alerts = alertsSettings({ listen: `${lab.hostAddr}:0`, tls: false, sources: [{ id: 'edge-fnm', kind: 'fastnetmon', tokenFile }] }, pki.controller());
      controller = await runController(controllerSettings(pki, store, { alerts, log }));
      await lab.start(lab.configure(`http://${lab.hostAddr}:${controller.alerts!.port}/alerts/fastnetmon`, tokenFile));
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

  it('files nothing for outgoing traffic under the threshold', async () => {
    // A fifth of threshold_pps for 4 s: FastNetMon averages over 1 s and checks every second.
    const sent = await lab.flood(quiet, lab.outside, lab.thresholdPps / 5, 4);
    expect(sent).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(lab.logText()).not.toMatch(new RegExp(`Attack with direction: \\w+ IP: ${quiet.replaceAll('.', '\\.')}`));
    expect(await allComplaints()).toEqual([]);
  });

  it('files nothing when our server is the victim (direction incoming), though FastNetMon bans and notifies', async () => {
    await lab.flood(lab.outside, victim, 5_000, 4);
    await waitFor('FastNetMon to notify the incoming attack', () => lines.find((l) => l.msg.startsWith('fastnetmon notice not filed: direction incoming') && l.ip === victim), 20_000, 200);
    expect(lab.logText()).toMatch(new RegExp(`Attack with direction: incoming IP: ${victim.replaceAll('.', '\\.')}`));
    expect(await allComplaints()).toEqual([]);
  });

  it('refuses a notice carrying a wrong token (401) and files nothing', async () => {
    const wrongToken = join(work, 'wrong.token');
    writeFileSync(wrongToken, 'x'.repeat(36));
    const wrongConf = join(work, 'wrong-notify.conf');
    writeFileSync(wrongConf, `CORDON_ALERTS_URL=http://${lab.hostAddr}:${controller!.alerts!.port}/alerts/fastnetmon\nCORDON_ALERTS_TOKEN_FILE=${wrongToken}\nCORDON_ALERTS_CACERT=\n`);
    const forged = await lab.runNotify(wrongConf, [sender, 'outgoing', '90000', 'ban'], `IP: ${sender}\nAttack type: udp_flood\nAttack direction: outgoing\n`);
    expect(forged.status).toBe(22); // curl --fail-with-body: HTTP status >= 400
    expect(forged.stderr).toContain('The requested URL returned error: 401');
    expect(forged.stderr).toContain(`posting ban of ${sender} (outgoing)`);
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'alert refused: a token no source has', route: 'fastnetmon' }));
    expect(await allComplaints()).toEqual([]);
  });

  it('files the outgoing UDP flood as a ddos complaint from fastnetmon:edge-fnm against the sending server', async () => {
    const started = Date.now();
    const flood = lab.flood(sender, lab.outside, 5_000, 4);
    const filed = await waitFor('the ddos complaint', async () => (await controller!.store.complaints.listByStatus('linked')).find((c) => c.ip === sender), 20_000, 100);
    // Detection delay: FastNetMon's 1 s averaging and 1 s check period, the script, the controller.
    process.stderr.write(`alertsFastnetmon: flood start to stored complaint in ${Date.now() - started} ms\n`);
    expect(await flood).toBeGreaterThan(0);
    expect(filed).toMatchObject({ ip: sender, category: 'ddos', reporter: 'fastnetmon:edge-fnm', reporterKind: 'own_monitoring', trusted: true });
    expect(filed.evidence).toMatch(new RegExp(`saw ${sender.replaceAll('.', '\\.')} send an attack \\(direction outgoing\\) of type udp_flood over udp at \\d+ packets per second, and banned it\\.`));
    expect(filed.evidence).toMatch(/outgoing udp pps: \d+ packets per second/);
    const incidents = await controller!.store.incidents.list({});
    expect(incidents).toEqual([expect.objectContaining({ hostId: 'web-10', category: 'ddos' })]);
    expect(lab.logText()).toMatch(new RegExp(`Attack with direction: outgoing IP: ${sender.replaceAll('.', '\\.')}`));
    // FastNetMon's second notice, attack_details once it has sampled packets, files nothing more; the quiet server and the victim stayed out of it.
    await waitFor('the attack_details notice', () => lines.find((l) => l.msg.startsWith('fastnetmon notice not filed: action attack_details') && l.ip === sender), 10_000, 100);
    expect((await allComplaints()).map((c) => c.ip)).toEqual([sender]);
  });
});
