import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../agent/config.js';
import { createEngine } from '../../agent/createEngine.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { runDaemon, type RunningAgent } from '../../agent/runDaemon.js';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { ManualClock } from '../../controller/clock.js';
import { MailSender } from '../../controller/mail/MailSender.js';
import { runController, type Controller } from '../../controller/runController.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { Store } from '../../controller/store/Store.js';
import { Answer, Decision, type Incident, type SubmitComplaintResponse, type VerifyAuditResponse } from '../../proto/gen/cordon/v1/desk.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { NetLab } from '../helpers/netns.js';
import { TestPki } from '../helpers/pki.js';
import { explainSkip, systemTestGate } from '../helpers/systemGate.js';
import { waitFor } from '../helpers/waitFor.js';
import { SmtpSink } from '../unit/mail/smtpSink.js';

const gate = systemTestGate(['ip', 'nft', 'tc', 'openssl']);
explainSkip('incidentFlow.test.ts', gate);

const HOUR = 3_600_000;
const RAW = 'From: fbl@mailbox.example\r\nSubject: spam from 203.0.113.10\r\n\r\nReceived: from [203.0.113.10]\r\n';

/**
 * The whole story with real parts: a controller on a real SQLite file with a
 * clock the test moves, customer mail through a real SMTP server, and the
 * agent's engine enforcing with real nft inside a network namespace over a
 * real mutual-TLS gRPC link; probes show what the packets experience.
 */
describe.skipIf(!gate.ok)('complaint to enforcement to release, for real', () => {
  let lab: NetLab;
  let pki: TestPki;
  let work: string;
  let sink: SmtpSink;
  let clock: ManualClock;
  let controller: Controller;
  let agent: RunningAgent | undefined;
  let desk: DeskClient;
  let port = 0;
  const received: bigint[] = [];

  const startController = async (seed?: (store: Store) => Promise<void>) => {
    const store = await Store.open(join(work, 'cordon.db'));
    await seed?.(store);
    controller = await runController(
      controllerSettings(pki, store, {
        listen: `127.0.0.1:${port}`,
        mail: {
          transport: new MailSender({ host: '127.0.0.1', port: sink.port, secure: false, from: 'abuse@provider.example', replyTo: 'abuse@provider.example' }),
          desk: { from: 'abuse@provider.example', replyTo: 'abuse@provider.example', name: 'Provider abuse desk' },
          maxAttempts: 5,
        },
        clock,
      }),
    );
    port = controller.server.port;
  };
  const startAgent = async () => {
    const file = join(work, 'agent.json');
    writeFileSync(
      file,
      JSON.stringify({
        hostId: 'web-01',
        controller: { address: `127.0.0.1:${port}`, serverName: 'localhost' },
        heartbeatSeconds: 1,
        reconnect: { initialMs: 100, maxMs: 500 },
        interfaces: { public: ['pub0'], management: ['mgmt0'] },
        managementNetworks: [lab.addr.mgmtNet4],
        driftCheckSeconds: 1,
        stateDir: join(work, 'agent-state'),
      }),
    );
    const settings = loadAgentConfig({ file });
    const s = settings.getProperties();
    const engine = createEngine(s, silentLogger(), new ExecRunner(lab.host));
    // Count every desired state that reaches the engine, to show "exactly once".
    const converge = engine.converge.bind(engine);
    engine.converge = async (d) => {
      received.push(d.generation);
      return converge(d);
    };
    agent = await runDaemon(s, pki.material('agent-web-01'), engine, silentLogger());
  };
  const incident = async (id: string) => (await controller.store.incidents.get(id))!;
  /** The templates of the mail delivered so far, for one incident, in order. */
  const templates = (id: string) =>
    sink.received
      .map((m) => m.raw.toString('utf8'))
      .filter((t) => t.includes(`X-Cordon-Incident: ${id}`))
      .map((t) => /^X-Cordon-Template: (.*)$/m.exec(t)?.[1]?.trim() ?? '');

  beforeAll(async () => {
    lab = NetLab.create('flow');
    await lab.listen(lab.internet, [25, 80]);
    pki = new TestPki();
    pki.agent('web-01');
    pki.operator('olga', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-flow-'));
    sink = await SmtpSink.start();
    clock = new ManualClock(new Date('2026-11-02T09:00:00Z'));
    await startController(async (store) => {
      await store.customers.upsert({ id: 'acme', name: 'ACME Hosting Ltd', email: 'ops@acme.example' });
      await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: [`${lab.addr.hostPub4}/32`, '2001:db8:1::/64'], managementAddress: lab.addr.hostMgmt4 });
      await store.hosts.add({ id: 'web-02', customerId: 'acme', publicPrefixes: ['203.0.113.11/32'], managementAddress: '10.255.0.11' });
    });
    await startAgent();
    await waitFor('the agent to connect', () => controller.server.sessions.get('web-01')?.state === 'connected');
    desk = new DeskClient({ address: `127.0.0.1:${port}`, serverName: 'localhost', tls: pki.material('operator-olga') });
  });
  afterAll(async () => {
    desk?.close();
    await agent?.stop();
    await controller?.stop(500);
    await controller?.store.close();
    await sink?.close();
    lab?.destroy();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  let incidentId = '';

  it('opens an incident for the complaint and mails the customer the original', async () => {
    const r = await desk.call<unknown, SubmitComplaintResponse>('submitComplaint', {
      ip: lab.addr.hostPub4, category: 'spam', reporter: 'fbl@mailbox.example', reporterKind: 'upstream', evidence: 'ARF report', raw: RAW, filename: '', report: Buffer.alloc(0),
    });
    expect(r.outcome).toBe('opened');
    incidentId = r.incidentId;
    await waitFor('the notice to be delivered', () => sink.received.length >= 1);
    const notice = sink.received[0]!.raw.toString('utf8');
    expect(notice).toContain(`[Cordon #${incidentId}]`);
    expect(notice).toContain('ops@acme.example');
    expect(notice).toContain('Received: from [203.0.113.10]');
    await waitFor('the incident to be notified', async () => (await incident(incidentId)).state === 'notified');
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
  });

  it('refuses a complaint about an IP that is not ours, and keeps it', async () => {
    const r = await desk.call<unknown, SubmitComplaintResponse>('submitComplaint', {
      ip: '198.51.100.99', category: 'spam', reporter: 'x', reporterKind: 'upstream', evidence: '', raw: 'x', filename: '', report: Buffer.alloc(0),
    });
    expect(r).toMatchObject({ outcome: 'rejected', reason: expect.stringMatching(/not in any of our public prefixes/) });
  });

  it('escalates when 24 h pass unanswered and blocks SMTP on that host only', async () => {
    clock.advance(24 * HOUR + 1_000);
    await waitFor('the incident to be enforced', async () => (await incident(incidentId)).state === 'enforced', 15_000);
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('refused');
    expect(lab.probe(lab.host, lab.addr.inet4, 80)).toBe('connected');
    expect((await controller.store.desired.get('web-02')).generation).toBe(0);
    await waitFor('the escalation and enforcement mail', () => templates(incidentId).includes('enforced'));
    expect(templates(incidentId)).toEqual(['notice', 'escalated', 'enforced']);
  });

  it('refuses a release without the customer confirming the fix', async () => {
    await expect(desk.call('decideIncident', { incidentId, decision: Decision.DECISION_RELEASE, reason: '' })).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringMatching(/no customer confirmation/),
    });
  });

  it('releases after the customer answers fixed, and the host sends mail again', async () => {
    const answered = await desk.call<unknown, Incident>('answerIncident', { incidentId, answer: Answer.ANSWER_FIXED, note: 'fixed' });
    expect(answered.state).toBe('release_requested');
    await desk.call('decideIncident', { incidentId, decision: Decision.DECISION_RELEASE, reason: '' });
    await waitFor('the incident to close', async () => (await incident(incidentId)).state === 'closed', 15_000);
    expect(lab.probe(lab.host, lab.addr.inet4, 25)).toBe('connected');
    await waitFor('the release and closing mail', () => templates(incidentId).includes('closed'));
    expect(templates(incidentId)).toEqual(['notice', 'escalated', 'enforced', 'released', 'closed']);
    const audit = await desk.call<unknown, VerifyAuditResponse>('verifyAudit', {});
    expect(audit.ok).toBe(true);
  });

  it('delivers an enforcement decided while the controller was down exactly once after restart', async () => {
    await agent!.stop();
    agent = undefined;
    // A DDoS report from a CERT: an immediate category, escalated at intake.
    const r = await desk.call<unknown, SubmitComplaintResponse>('submitComplaint', {
      ip: lab.addr.hostPub4, category: 'ddos', reporter: 'cert@cert.example', reporterKind: 'cert', evidence: 'attack traffic', raw: 'ddos report', filename: '', report: Buffer.alloc(0),
    });
    const ddos = await incident(r.incidentId);
    expect(ddos.state).toBe('enforcing');
    const generation = (await controller.store.desired.get('web-01')).generation;
    // The controller dies before any agent heard of it.
    desk.close();
    await controller.stop(0);
    await controller.store.close();
    await startController();
    received.length = 0;
    await startAgent();
    await waitFor('the ddos incident to be enforced', async () => (await incident(r.incidentId)).state === 'enforced', 15_000);
    expect(received.filter((g) => g === BigInt(generation))).toHaveLength(1);
    desk = new DeskClient({ address: `127.0.0.1:${port}`, serverName: 'localhost', tls: pki.material('operator-olga') });
  });
});
