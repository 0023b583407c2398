import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControllerLink } from '../../agent/link/ControllerLink.js';
import { ExecRunner } from '../../proto/runtime/CommandRunner.js';
import { IpmitoolDriver } from '../../controller/bmc/IpmitoolDriver.js';
import { resolveConnection } from '../../controller/cli/connection.js';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { ManualClock } from '../../controller/clock.js';
import { countQueue } from '../../controller/desk/deskQueue.js';
import type { Incident } from '../../controller/incidents/model.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import { Decision, type ListQueueResponse, type QueueEntry, type SubmitComplaintResponse } from '../../proto/gen/cordon/v1/desk.js';
import { controllerSettings, testLink } from '../helpers/controllerHarness.js';
import { cordonctl } from '../helpers/cordonctl.js';
import { IpmiSim } from '../helpers/ipmiSim.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * The desk's queue with every reason a person is needed, each produced for
 * real on one controller (gRPC and the desk's HTTPS page with client
 * certificates, a SQLite file, the incident clock moved by hand): agents
 * over the real agent stream (one that fails to apply, one that leaves
 * before a release reaches it, one that applies), a BMC that is a real
 * ipmi_sim checked by ipmitool and then silenced after the cut, customers'
 * answers through the lifecycle, reports through SubmitComplaint. The
 * queue's order is asserted whole, over gRPC, on the page and in cordonctl.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const T0 = new Date('2026-11-02T09:00:00Z');

describe('the desk queue: every reason a person is needed, most urgent first', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let sim: IpmiSim;
  const links: ControllerLink[] = [];
  const clock = new ManualClock(T0);
  const clients = new Map<string, DeskClient>();
  const desk = (operator: string): DeskClient => {
    let c = clients.get(operator);
    if (!c) {
      c = new DeskClient(resolveConnection({ controller: `127.0.0.1:${controller.server.port}`, 'server-name': 'localhost', pki: pki.dir, operator }, {}), { timeoutMs: 15_000 });
      clients.set(operator, c);
    }
    return c;
  };
  const ctl = cordonctl(() => controller.server.port, () => pki.dir);
  const incident = async (id: string): Promise<Incident> => (await controller.store.incidents.get(id))!;
  const tick = () => clock.advance(MINUTE);
  let reports = 0;
  /** A complaint entered by olga (a new report each time, not a re-sent copy); its notice counts as sent. */
  const open = async (ip: string, category: string, reporterKind = 'upstream', eventTime?: Date, reporter = 'fbl@upstream.example'): Promise<SubmitComplaintResponse> => {
    const r = await desk('olga').call<unknown, SubmitComplaintResponse>('submitComplaint', {
      ip, category, reporter, reporterKind, eventTime, evidence: `${category} from ${ip}, report ${++reports}`, raw: `${category} report`, filename: '', report: Buffer.alloc(0),
    });
    if (r.outcome === 'opened') await controller.service.apply(r.incidentId, { type: 'notice_sent' }, 'mail');
    return r;
  };
  const answer = (id: string, type: 'customer_fixed' | 'customer_false_positive') => controller.service.apply(id, { type }, 'customer');
  const decide = (id: string, decision: Decision, reason = 'checked') => desk('olga').call('decideIncident', { incidentId: id, decision, reason });
  const queue = (who = 'vic', limit = 0) => desk(who).call<unknown, ListQueueResponse>('listQueue', { limit });
  /** What an entry is about: the incident, the host or the report. */
  const subject = (e: QueueEntry) => e.complaint?.id ?? (e.hostId || e.incident?.id);
  const page = (who: string, path = '/'): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: controller.deskWebPort, path, ca: pki.controller().ca, cert: readFileSync(join(pki.dir, `${who}.crt`)), key: readFileSync(join(pki.dir, `${who}.key`)), agent: false },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });

  const ids = {} as Record<'held' | 'failing' | 'released' | 'cut' | 'closed' | 'open' | 'resolved' | 'disputed' | 'unseen' | 'bounced' | 'late' | 'info1' | 'info2', string>;

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('tess', 'technician');
    pki.operator('vic', 'viewer');
    pki.run('issue-feed', 'shadow');
    work = mkdtempSync(join(tmpdir(), 'cordon-deskqueue-'));
    sim = await IpmiSim.start();
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    for (let n = 1; n <= 6; n++) await store.hosts.add({ id: `web-0${n}`, customerId: 'acme', publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` });
    const t = sim.target();
    await store.bmcs.set({ hostId: 'web-03', protocol: 'ipmi', address: t.address, port: t.port!, user: t.user, passwordFile: t.passwordFile, sol: false, cipherSuite: undefined });
    controller = await runController(
      controllerSettings(pki, store, {
        clock,
        bmcDriver: new IpmitoolDriver({ minIntervalMs: 100, attempts: 1 }, { runner: new ExecRunner() }),
        deskWeb: { listen: '127.0.0.1:0', tls: pki.controller(), maxEventClients: 4 },
      }),
    );
    const port = controller.server.port;
    // web-01's agent cannot apply anything; web-02's and web-03's apply what they are sent.
    const failing = testLink(pki.agent('web-01'), port, 'web-01', {
      onDesiredState: async () => ({ appliedGeneration: 0n, observedDigest: 'd', observedAt: new Date(), error: 'nft: Error: Could not process rule: No such file or directory', results: [] }),
    });
    const leaving = testLink(pki.agent('web-02'), port, 'web-02');
    const applying = testLink(pki.agent('web-03'), port, 'web-03');
    for (const l of [failing, leaving, applying]) {
      links.push(l.link);
      l.link.start();
    }
    await waitFor('three agents connected', async () => ['web-01', 'web-02', 'web-03'].every((h) => controller.server.sessions.get(h)?.state === 'connected'), 10_000);

    // T0: three incidents whose acknowledge deadline will pass.
    ids.held = (await open('203.0.113.6', 'spam', 'individual', undefined, 'someone@example.net')).incidentId;
    ids.failing = (await open('203.0.113.1', 'spam')).incidentId;
    ids.released = (await open('203.0.113.2', 'spam')).incidentId;
    clock.advance(25 * HOUR);
    await waitFor('the deadlines to escalate', async () => (await incident(ids.held)).hold === 'untrusted_reporter' && (await incident(ids.released)).state === 'enforced', 10_000);
    await waitFor("web-01's agent to report its failure", async () => (await controller.store.desired.status('web-01'))?.status === 'failed', 10_000);
    // web-02's agent applied the block and leaves; the release an operator then decides cannot reach it.
    await links[1]!.stop();
    await waitFor('web-02 disconnected', async () => controller.server.sessions.get('web-02')?.state !== 'connected', 5_000);
    tick();
    await answer(ids.released, 'customer_fixed');
    await decide(ids.released, Decision.DECISION_RELEASE);

    // A cut: malware from a CERT isolates web-03 once its BMC answered; its agent applies it.
    tick();
    ids.cut = (await open('203.0.113.3', 'malware', 'cert', undefined, 'cert@cert.example')).incidentId;
    await waitFor('the isolate enforced', async () => (await incident(ids.cut)).state === 'enforced', 15_000);
    await waitFor('the check after the cut', async () => (await controller.store.bmcs.latest('web-03'))?.checkedAt.getTime() === clock.now().getTime(), 10_000);
    // Then the BMC goes silent, and the next check says so.
    sim.pause();
    tick();
    const check = await desk('tess').call<unknown, { reachable: boolean }>('checkBmc', { id: 'web-03' });
    expect(check.reachable).toBe(false);
    tick();
    await answer(ids.cut, 'customer_false_positive'); // appealed
    tick();
    await answer(ids.failing, 'customer_fixed'); // release_requested, its block still not applied

    // web-04: a spam incident verified closed, a new one open, then a late report about the old spam, from a hostile name.
    tick();
    ids.closed = (await open('203.0.113.4', 'spam')).incidentId;
    await answer(ids.closed, 'customer_fixed');
    tick();
    await decide(ids.closed, Decision.DECISION_VERIFY);
    tick();
    ids.open = (await open('203.0.113.4', 'spam')).incidentId;
    tick();
    const late = await open('203.0.113.4', 'spam', 'individual', new Date(clock.now().getTime() - 10 * MINUTE), '<img src=x onerror=alert(1)>');
    expect(late.outcome).toBe('held');
    ids.late = late.complaintId;
    tick();
    ids.resolved = (await open('203.0.113.4', 'phishing')).incidentId;
    await answer(ids.resolved, 'customer_fixed');
    tick();
    ids.disputed = (await open('203.0.113.5', 'spam')).incidentId;
    await answer(ids.disputed, 'customer_false_positive');
    tick();
    ids.unseen = (await open('203.0.113.5', 'phishing')).incidentId;
    await controller.service.apply(ids.unseen, { type: 'customer_ack' }, 'customer', {
      then: async (_before, after, now) => {
        await controller.store.customerMessages.insert({
          id: `msg-${after.id}`, incidentId: after.id, at: now, channel: 'page', kind: 'answer', answer: 'ack', planDueAt: undefined, body: 'We are on it.', actor: 'customer',
          sourceAddress: '198.51.100.7', userAgent: 'Mozilla/5.0', messageId: undefined, submissionId: `sub-${after.id}`, rawSha256: undefined,
        });
      },
    });
    tick();
    ids.bounced = (await open('203.0.113.6', 'phishing')).incidentId;
    await controller.service.apply(ids.bounced, { type: 'notice_bounced', reason: '550 5.1.1 no such user' }, 'mail');
    // Two reports nobody can read: no offender address.
    for (const k of ['info1', 'info2'] as const) {
      tick();
      const r = await desk('olga').call<unknown, SubmitComplaintResponse>('submitComplaint', {
        ip: '', category: '', reporter: '', reporterKind: '', eventTime: undefined, evidence: '', raw: '', filename: 'note.txt', report: Buffer.from('Dear abuse desk, one of your servers misbehaves.\n'),
      });
      expect(r.outcome).toBe('needs_info');
      ids[k] = r.complaintId;
    }
  }, 90_000);

  afterAll(async () => {
    for (const c of clients.values()) c.close();
    for (const l of links) await l.stop();
    await controller?.stop(500);
    await controller?.store.close();
    await sim?.stop();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const EXPECTED = () => [
    ['appealed', ids.cut],
    ['release_requested', ids.failing],
    // Released while its agent was away: the lift is not confirmed, so it waits, and the customer is not told.
    ['releasing', ids.released],
    ['enforcement_failed', 'web-01'],
    ['agent_unreachable', 'web-02'],
    ['bmc_alert', 'web-03'],
    ['customer_resolved', ids.resolved],
    ['disputed', ids.disputed],
    ['held', ids.held],
    ['unseen_messages', ids.unseen],
    ['notice_bounced', ids.bounced],
    ['needs_info', ids.info1],
    ['needs_info', ids.info2],
    ['held_report', ids.late],
  ];

  it('lists every reason over gRPC in the table order, each about its incident, host or report, with since when', async () => {
    const q = await queue();
    expect(q.entries.map((e) => [e.why, subject(e)])).toEqual(EXPECTED());
    const by = (why: string) => q.entries.find((e) => e.why === why)!;
    expect(by('releasing')).toMatchObject({ incident: { id: ids.released, state: 'releasing' }, reason: expect.stringMatching(/the lift not confirmed yet.*--agent-gone/) });
    expect(by('enforcement_failed')).toMatchObject({ hostId: 'web-01', incident: { id: ids.failing }, reason: expect.stringMatching(/could not apply smtp_block .*\(generation 1\): nft: Error: Could not process rule/) });
    // The release left nothing in force: no incident to name, and the block the agent last applied is still there.
    expect(by('agent_unreachable')).toMatchObject({ hostId: 'web-02', incident: undefined, reason: expect.stringMatching(/^the release \(generation 2: nothing in force\) has not reached the host: its agent is not connected \(generation 1\)/) });
    expect(by('bmc_alert')).toMatchObject({ hostId: 'web-03', incident: { id: ids.cut }, reason: expect.stringMatching(/^isolate in force and the BMC does not answer/) });
    const downAt = (await controller.store.bmcs.latest('web-03'))!.checkedAt;
    expect(by('bmc_alert').since).toEqual(downAt);
    expect(by('held')).toMatchObject({ reason: 'escalated, held: untrusted reporter', since: new Date(T0.getTime() + 25 * HOUR) });
    expect(by('unseen_messages')).toMatchObject({ unseen: 1, incident: { id: ids.unseen, state: 'acknowledged' } });
    expect(by('held_report')).toMatchObject({
      incident: { id: ids.open },
      complaint: { id: ids.late, status: 'held', reporter: '<img src=x onerror=alert(1)>', ip: '203.0.113.4', category: 'spam' },
      reason: expect.stringMatching(new RegExp(`precedes the resolution of ${ids.closed}.*adds it to open incident ${ids.open}$`)),
    });
    const info = q.entries.filter((e) => e.why === 'needs_info');
    expect(info.map((e) => e.incident)).toEqual([undefined, undefined]);
    expect(info[0]!.since!.getTime()).toBeLessThan(info[1]!.since!.getTime());
    expect(info[0]!.complaint).toMatchObject({ status: 'needs_info', ip: 'unknown', reason: expect.stringMatching(/offender IP/) });
  });

  it('stops at the limit with the most urgent, refuses an oversize one naming the field, and keeps agents and feeds out', async () => {
    expect((await queue('vic', 3)).entries.map(subject)).toEqual([ids.cut, ids.failing, ids.released]);
    await expect(queue('vic', 5000)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringMatching(/^limit: at most 1000, got 5000/) });
    const feed = new DeskClient(resolveConnection({ controller: `127.0.0.1:${controller.server.port}`, 'server-name': 'localhost', pki: pki.dir, cert: join(pki.dir, 'feed-shadow.crt'), key: join(pki.dir, 'feed-shadow.key'), operator: 'x' }, {}), { timeoutMs: 10_000 });
    await expect(feed.call('listQueue', { limit: 0 })).rejects.toMatchObject({ kind: 'permission' });
    feed.close();
    expect((await page('feed-shadow')).status).toBe(403);
  });

  it('counts every reason without listing them, for a page that shows the first N', async () => {
    const counts = await countQueue(controller.store, (h) => controller.server.sessions.get(h)?.state === 'connected');
    expect(counts.total).toBe(EXPECTED().length);
    expect(counts.byWhy).toMatchObject({ appealed: 1, releasing: 1, enforcement_failed: 1, agent_unreachable: 1, bmc_alert: 1, needs_info: 2, held_report: 1, notice_bounced: 1, unseen_messages: 1 });
  });

  it('shows the same queue on the page: each row links to what it is about, a report as text', async () => {
    const r = await page('operator-vic');
    expect(r.status).toBe(200);
    const rows = [...r.body.matchAll(/<tr data-(?:incident|host|complaint)="([^"]*)" data-why="([^"]+)">/g)].map((m) => [m[2], m[1]]);
    expect(rows).toEqual(EXPECTED());
    const row = (id: string) => r.body.match(new RegExp(`<tr data-[a-z]+="${id}"[^>]*>([\\s\\S]*?)</tr>`))![1]!;
    expect(row('web-01')).toContain('href="/hosts/web-01"');
    expect(row('web-01')).toContain(`href="/incidents/${ids.failing}"`);
    expect(row('web-02')).not.toContain('href="/incidents/');
    expect(row(ids.late)).toContain(`href="/incidents/${ids.open}"`);
    expect(row(ids.late)).toContain(`report ${ids.late}`);
    expect(row(ids.late)).toContain('from &lt;img src=x onerror=alert(1)&gt; (individual) about 203.0.113.4, spam');
    expect(r.body).not.toContain('<img src=x');
    expect(row(ids.info1)).not.toContain('href="/incidents/');
    expect(r.body).toMatch(/14 waiting for a person, most urgent first/);
    expect(r.body).not.toMatch(/method="post"/);
  });

  it('prints it in cordonctl, readable and as JSON', async () => {
    const table = await ctl('vic', 'incident', 'queue');
    expect(table.code, table.err).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^INCIDENT\s+HOST\s+STATE\s+WHY\s+SINCE \(drill clock\)\s+UNSEEN\s+REPORT\s+REASON$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[3])).toEqual(EXPECTED().map(([why]) => why));
    expect(lines.find((l) => l.includes('agent_unreachable'))).toMatch(/^-\s+web-02\s+-\s+agent_unreachable/);
    expect(lines.at(-1)).toMatch(new RegExp(`^${ids.open}\\s+web-04\\s+notified\\s+held_report .* ${ids.late} 203\\.0\\.113\\.4 spam from <img src=x onerror=alert\\(1\\)> `));
    const json = JSON.parse((await ctl('vic', 'incident', 'queue', '--json')).out) as { why: string; hostId?: string; complaint?: { id: string } }[];
    expect(json.map((e) => e.hostId ?? e.complaint?.id ?? '')).toContain('web-03');
    expect(json.find((e) => e.why === 'held_report')?.complaint?.id).toBe(ids.late);
  });

  it('lets each entry go when its cause does: the BMC answers, the messages are seen, the report is admitted', async () => {
    sim.resume();
    tick();
    expect((await desk('tess').call<unknown, { reachable: boolean }>('checkBmc', { id: 'web-03' })).reachable).toBe(true);
    await desk('olga').call('markMessagesSeen', { incidentId: ids.unseen, messageId: '' });
    const admitted = await desk('olga').call<unknown, SubmitComplaintResponse>('decideComplaint', { complaintId: ids.late, decision: 'admit', reason: 'a second spam run' });
    expect(admitted).toMatchObject({ outcome: 'merged', incidentId: ids.open });
    const whys = (await queue()).entries.map((e) => e.why);
    expect(whys).not.toContain('bmc_alert');
    expect(whys).not.toContain('unseen_messages');
    expect(whys).not.toContain('held_report');
    expect(whys).toContain('enforcement_failed');
  });
});
