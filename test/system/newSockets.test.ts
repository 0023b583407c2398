import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine, createListenerWatcher } from '../../agent/createEngine.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { runController, type Controller } from '../../controller/runController.js';
import { SecurityPages } from '../../controller/security/SecurityPages.js';
import { Store } from '../../controller/store/Store.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { simpleParser } from 'mailparser';
import { MailSender } from '../../controller/mail/MailSender.js';
import { chromiumMissing, launchChromium } from '../helpers/chromium.js';
import { DESK } from '../unit/mail/fixtures.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { freePort } from '../helpers/freePort.js';
import { NetLab } from '../helpers/netns.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';
import { testManagedSecurity } from '../helpers/managedSecurity.js';

const gate = systemTestGate(['ip', 'nft', 'ss', 'python3', 'openssl']);
explainSkip('newSockets.test.ts', gate);
const missing = chromiumMissing();
if (missing) process.stderr.write(`SKIP newSockets.test.ts: ${missing}\n`);

/**
 * New-socket monitoring for real: a real agent lists the lab host's
 * listening sockets with the real `ss` in its namespace, a real controller
 * keeps the baseline; a web server started on the host afterwards is
 * reported (with its process), listeners on loopback and on the management
 * address are not, and the customer accepts the new one on the page in
 * Chromium.
 */
describe.skipIf(!gate.ok || missing !== undefined)('new listening sockets, for real', () => {
  let lab: NetLab;
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let agent: RunningAgent | undefined;
  let pageUrl: string;
  const secret = randomBytes(32);
  let sink: SmtpSink;
  /** The managed-security mails the customer got, parsed. */
  const mails = async () => {
    const out = [];
    for (const m of sink.received) {
      const parsed = await simpleParser(m.raw);
      if (parsed.headers.get('x-cordon-template') === 'managed_security') out.push(parsed);
    }
    return out;
  };
  const entries = async (action: string) => (await controller.store.audit.list({ subject: 'web-01' })).filter((e) => e.action === action);
  /** A program started in the host's namespace, stopped by the lab. */
  const run = (...args: string[]) => lab.track(spawn('ip', ['netns', 'exec', lab.host, ...args], { stdio: 'ignore' }));

  beforeAll(async () => {
    lab = NetLab.create('sock');
    await lab.listen(lab.host, [22]);
    pki = new TestPki();
    pki.agent('web-01');
    work = mkdtempSync(join(tmpdir(), 'cordon-sock-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME Hosting Ltd', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: [`${lab.addr.hostPub4}/32`], managementAddress: lab.addr.hostMgmt4 });
    sink = await SmtpSink.start();
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    controller = await runController(
      controllerSettings(pki, store, {
        customerLinks: { secret, publicUrl, ttlDays: 30 },
        mail: { transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo, connectionTimeoutMs: 2_000 }), desk: DESK, maxAttempts: 3 },
        customerWeb: { listen: `127.0.0.1:${port}`, tls: undefined, publicUrl, trustProxy: [], badTokensPerMinute: 10, maxFiles: 3, maxFileBytes: 1024 * 1024 },
        managedSecurity: testManagedSecurity({ customers: ['acme'], resyncSeconds: 5, listenerCheckSeconds: 5 }),
      }),
    );
    // What the mail must carry (checked against the delivered mail below).
    pageUrl = new SecurityPages(secret, publicUrl, { get: () => undefined, list: () => [] }, () => true).url({ id: 'web-01', customerId: 'acme' });
    const file = join(work, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        hostId: 'web-01',
        controller: { address: `127.0.0.1:${controller.server.port}`, serverName: 'localhost' },
        heartbeatSeconds: 1,
        reconnect: { initialMs: 100, maxMs: 500 },
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        managementNetworks: [lab.addr.mgmtNet4],
        stateDir: join(work, 'agent-state'),
      }),
    );
    const s = loadAgentConfig({ file }).getProperties();
    const runner = new ExecRunner(lab.host);
    agent = await runDaemon(s, pki.material('agent-web-01'), createEngine(s, silentLogger(), runner), silentLogger(), {
      createListenerWatcher: (send) => createListenerWatcher(s, silentLogger(), send, runner),
    });
    await waitFor('the agent to connect', () => controller.server.sessions.get('web-01')?.state === 'connected');
  });

  afterAll(async () => {
    await agent?.stop();
    await controller?.stop(500);
    await controller?.store.close();
    await sink?.close();
    lab?.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('takes what listens at the start as the baseline and reports nothing for it', async () => {
    const baseline = await waitFor('the baseline', async () => (await entries('sockets.baseline'))[0]);
    expect((baseline.detail as { sockets: string[] }).sockets).toEqual([expect.stringMatching(/^tcp \*:22 node$/)]);
    // Two more checks with nothing new.
    await new Promise((r) => setTimeout(r, 6_000));
    expect(await entries('sockets.new')).toEqual([]);
  }, 20_000);

  it('reports a web server started on a public address with its process; loopback and management listeners are not', async () => {
    run('python3', '-m', 'http.server', '--bind', '127.0.0.1', '8001');
    run('python3', '-m', 'http.server', '--bind', lab.addr.hostMgmt4, '8002');
    run('python3', '-m', 'http.server', '--bind', '0.0.0.0', '8003');
    const reported = await waitFor('the new socket', async () => (await entries('sockets.new'))[0], 15_000);
    expect(reported.actor).toBe('agent:web-01');
    expect(reported.detail).toMatchObject({ protocol: 'tcp', address: '0.0.0.0', port: 8003, process: 'python3' });
    await new Promise((r) => setTimeout(r, 5_500));
    expect((await entries('sockets.new')).map((e) => (e.detail as { port: number }).port)).toEqual([8003]);
    // The customer is told by mail, with the page's link; the baseline sent none.
    const mail = await waitFor('the mail about it', async () => (await mails())[0]);
    expect(await mails()).toHaveLength(1);
    expect(mail.to).toMatchObject({ text: expect.stringContaining('ops@acme.example') });
    expect(mail.subject).toContain('New listening socket on your server web-01');
    expect(mail.text).toMatch(/tcp 0\.0\.0\.0:8003, process python3 \(pid \d+\)/);
    expect(mail.text).toContain(pageUrl);
  }, 30_000);

  it('the customer accepts it into the baseline on their page', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      expect((await page.goto(pageUrl))!.status()).toBe(200);
      const row = page.locator('#new-sockets tr[data-socket]');
      expect(await row.count()).toBe(1);
      expect(await row.textContent()).toContain('python3');
      await row.locator('button[type=submit]').click();
      await page.locator('#no-new-sockets').waitFor({ timeout: 10_000 });
    } finally {
      await browser.close();
    }
    const accepted = (await entries('sockets.accept'))[0]!;
    expect(accepted.actor).toBe('customer:acme');
    expect(accepted.detail).toMatchObject({ key: 'tcp 0.0.0.0:8003 python3', sourceAddress: '127.0.0.1' });
  }, 30_000);
});
