import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig, type AgentSettings } from '../../agent/config.js';
import { createEngine, createGuard } from '../../agent/createEngine.js';
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
import { NetLab, inNs } from '../helpers/netns.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent } from '../helpers/rawAgent.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';
import { testManagedSecurity } from '../helpers/managedSecurity.js';

const gate = systemTestGate(['ip', 'nft', 'openssl']);
explainSkip('managedSecurityPage.test.ts', gate);
const missing = chromiumMissing();
if (missing) process.stderr.write(`SKIP managedSecurityPage.test.ts: ${missing}\n`);

const LOOP = join(REPO_ROOT, 'test/helpers/bin/connect-loop.mjs');

/**
 * Managed security end to end: a real controller (SQLite file, customer
 * page), a real agent in the lab host's namespace, a brute force from the
 * internet namespace banned by the agent, the ban on the customer's page in
 * Chromium, lifted there (the lift audited with the customer as actor) and
 * gone from the host; a restart that brings a ban back; and an agent side
 * that forges events the controller must not take as the customer's.
 */
describe.skipIf(!gate.ok || missing !== undefined)('brute-force bans on the customer page, for real', () => {
  let lab: NetLab;
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let agent: RunningAgent | undefined;
  let settings: AgentSettings;
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

  const loop = (n: number) => JSON.parse(inNs(lab.internet, process.execPath, LOOP, lab.addr.hostPub4, '22', String(n), '', '800').trim()) as { connected: number; refused: number };
  const startAgent = async () => {
    const runner = new ExecRunner(lab.host);
    agent = await runDaemon(settings, pki.material('agent-web-01'), createEngine(settings, silentLogger(), runner), silentLogger(), {
      createGuard: (send) => createGuard(settings, silentLogger(), send, runner, { tickMs: 300 }),
    });
    await waitFor('the agent to connect', () => controller.server.sessions.get('web-01')?.state === 'connected');
  };
  const guardEntries = async () => (await controller.store.audit.list({ subject: 'web-01' })).filter((e) => e.action.startsWith('guard.'));

  beforeAll(async () => {
    lab = NetLab.create('msec');
    await lab.listen(lab.host, [22]);
    pki = new TestPki();
    pki.agent('web-01');
    pki.agent('web-02');
    work = mkdtempSync(join(tmpdir(), 'cordon-msec-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME Hosting Ltd', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: [`${lab.addr.hostPub4}/32`], managementAddress: lab.addr.hostMgmt4 });
    await store.hosts.add({ id: 'web-02', customerId: 'acme', publicPrefixes: ['198.51.100.2/32'], managementAddress: '10.255.0.99' });
    sink = await SmtpSink.start();
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    controller = await runController(
      controllerSettings(pki, store, {
        customerLinks: { secret, publicUrl, ttlDays: 30 },
        mail: { transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: DESK.from, replyTo: DESK.replyTo, connectionTimeoutMs: 2_000 }), desk: DESK, maxAttempts: 3 },
        customerWeb: { listen: `127.0.0.1:${port}`, tls: undefined, publicUrl, trustProxy: [], badTokensPerMinute: 10, maxFiles: 3, maxFileBytes: 1024 * 1024 },
        managedSecurity: testManagedSecurity({ hosts: ['web-01'], services: [{ name: 'ssh', ports: [22], newConnectionsPerMinute: 6, burst: 4 }], resyncSeconds: 1 }),
      }),
    );
    const pages = new SecurityPages(secret, publicUrl, { get: () => undefined, list: () => [] }, () => true);
    pageUrl = pages.url({ id: 'web-01', customerId: 'acme' });
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
    settings = loadAgentConfig({ file }).getProperties();
    await startAgent();
    await waitFor('the guard table', () => inNs(lab.host, 'nft', 'list', 'tables').includes('inet cordon_guard'));
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

  it('a brute force is banned on the host and shown on the page; the customer lifts it there', async () => {
    expect(loop(3).connected).toBe(3);
    const tally = loop(40);
    expect(tally.refused).toBeGreaterThan(25);
    await waitFor('the ban recorded by the controller', async () => (await guardEntries()).some((e) => e.action === 'guard.banned'));
    const banned = (await guardEntries()).find((e) => e.action === 'guard.banned')!;
    expect(banned.actor).toBe('agent:web-01');
    expect(banned.detail).toMatchObject({ address: lab.addr.inet4, offence: 1, seconds: 600, services: ['ssh'] });
    // The controller acknowledged it over the stream, and the agent took it out of its saved outbox.
    const savedGuard = () => JSON.parse(readFileSync(join(work, 'agent-state', 'guard.json'), 'utf8')) as { pending: { events: unknown[]; nextSeq: number }; controllerAcks: boolean };
    await waitFor('the ban event acknowledged', () => savedGuard().pending.events.length === 0);
    expect(savedGuard()).toMatchObject({ controllerAcks: true, pending: { nextSeq: expect.any(Number) } });
    expect(savedGuard().pending.nextSeq).toBeGreaterThan(1);

    // The customer is told by mail, with the page's link.
    const mail = await waitFor('the ban mail', async () => (await mails())[0]);
    expect(mail.subject).toContain('Brute force banned on your server web-01');
    expect(mail.text).toContain(`${lab.addr.inet4} (ssh), until`);
    const inMail = new RegExp(`${pageUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(mail.text ?? '')?.[0];
    expect(inMail).toBe(pageUrl);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const res = await page.goto(inMail!);
      expect(res!.status()).toBe(200);
      expect(await page.title()).toBe('Managed security web-01');
      const row = page.locator(`#bans tr[data-ban]`);
      expect(await row.count()).toBe(1);
      expect(await row.textContent()).toContain(lab.addr.inet4);
      await row.locator('button[type=submit]').click();
      await page.locator('#no-bans').waitFor({ timeout: 10_000 });
      expect(await page.content()).toContain('lifted on this page');
    } finally {
      await browser.close();
    }
    const lift = (await guardEntries()).find((e) => e.action === 'guard.lift')!;
    expect(lift.actor).toBe('customer:acme');
    expect(lift.detail).toMatchObject({ address: lab.addr.inet4, sourceAddress: '127.0.0.1', userAgent: expect.stringMatching(/Chrome/) });
    // The lift reaches the agent as desired state: the source gets in again.
    await waitFor('the ban gone from the host', () => !inNs(lab.host, 'nft', 'list', 'set', 'inet', 'cordon_guard', 'ban_v4').includes(lab.addr.inet4));
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
  });

  it('a ban survives an agent restart (and the table wiped as by a reboot) before the controller answers', async () => {
    await new Promise((r) => setTimeout(r, 1_000));
    loop(40);
    await waitFor('a second ban', async () => (await guardEntries()).filter((e) => e.action === 'guard.banned').length === 2);
    // At most one ban mail an hour per host.
    await new Promise((r) => setTimeout(r, 500));
    expect(await mails()).toHaveLength(1);
    await agent!.stop();
    agent = undefined;
    inNs(lab.host, 'nft', 'delete', 'table', 'inet', 'cordon_guard');
    expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('connected');
    // The controller is unreachable from here on for the new agent: its bans come from the state dir alone.
    const offline = { ...settings, controller: { ...settings.controller, address: '127.0.0.1:1' } };
    const runner = new ExecRunner(lab.host);
    const alone = await runDaemon(offline, pki.material('agent-web-01'), createEngine(offline, silentLogger(), runner), silentLogger(), {
      createGuard: (send) => createGuard(offline, silentLogger(), send, runner, { tickMs: 300 }),
    });
    try {
      expect(lab.probe(lab.internet, lab.addr.hostPub4, 22)).toBe('refused');
    } finally {
      await alone.stop();
    }
    await startAgent();
  });

  it('the agent side cannot lift on the customer\'s behalf, nor flood the record', async () => {
    // What a customer with root on the host could send with the agent's key: a removal, and a flood of made-up bans.
    const raw = await connectRawAgent(pki.material('agent-web-01'), controller.server.port, 'web-01');
    try {
      await waitFor('the policy sent after the Hello', () => raw.received.some((m) => m.body?.$case === 'managedSecurity'));
      const active = (await guardEntries()).filter((e) => e.action === 'guard.banned').at(-1)!;
      const banId = (active.detail as { banId: string }).banId;
      await raw.send({ body: { $case: 'ban', value: { banId, address: lab.addr.inet4, change: 'removed', services: [], bannedAt: undefined, expiresAt: undefined, offence: 0, seconds: 0, seq: 0n } } });
      for (let i = 0; i < 60; i++) {
        const at = Date.now() + i;
        await raw.send({ body: { $case: 'ban', value: { banId: `${at}-198.51.100.${i}`, address: `198.51.100.${i}`, change: 'banned', services: ['ssh'], bannedAt: new Date(at), expiresAt: new Date(at + 60_000), offence: 1, seconds: 60, seq: 0n } } });
      }
      await waitFor('the removal recorded', async () => (await guardEntries()).some((e) => e.action === 'guard.removed'));
    } finally {
      raw.close();
    }
    const entries = await guardEntries();
    const removed = entries.find((e) => e.action === 'guard.removed')!;
    // Recorded as what the host said, never as the customer's lift.
    expect(removed.actor).toBe('agent:web-01');
    expect(entries.filter((e) => e.action === 'guard.lift')).toHaveLength(1);
    // At most maxEventsPerMinute (30) of the flood were recorded in this minute.
    expect(entries.filter((e) => e.action === 'guard.banned' && String((e.detail as { address: string }).address).startsWith('198.51.100.')).length).toBeLessThanOrEqual(30);
  });

  it('a host without managed security has no page, and its agent is told the guard is off', async () => {
    const pages = new SecurityPages(secret, 'http://x', { get: () => undefined, list: () => [] }, () => false);
    const res = await fetch(pageUrl.replace(/[^/]+$/, pages.token({ id: 'web-02', customerId: 'acme' })));
    expect(res.status).toBe(404);
    const raw = await connectRawAgent(pki.material('agent-web-02'), controller.server.port, 'web-02');
    try {
      await new Promise((r) => setTimeout(r, 500));
      expect(raw.received.some((m) => m.body?.$case === 'ping')).toBe(true);
      const told = raw.received.find((m) => m.body?.$case === 'managedSecurity')?.body;
      expect(told?.$case).toBe('managedSecurity');
      expect(told?.$case === 'managedSecurity' && told.value.enabled).toBe(false);
    } finally {
      raw.close();
    }
  });
});
