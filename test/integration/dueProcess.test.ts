import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BmcCheck, BmcDriver, BmcTarget } from '../../controller/bmc/BmcDriver.js';
import { DeskClient } from '../../controller/cli/deskClient.js';
import { resolveConnection } from '../../controller/cli/connection.js';
import { ManualClock } from '../../controller/clock.js';
import type { Incident } from '../../controller/incidents/model.js';
import { runController, type Controller } from '../../controller/runController.js';
import { openTestStore } from '../helpers/testStore.js';
import type {
  Approval,
  EnforceResponse,
  ListApprovalsResponse,
  ListComplaintsResponse,
  ListTerminationReviewsResponse,
  SubmitComplaintResponse,
  TerminationReview,
} from '../../proto/gen/cordon/v1/desk.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';
import { arfReport } from '../helpers/arfReport.js';

/**
 * Due process through the real desk (gRPC over mutual TLS, a SQLite file, the
 * incident clock moved by hand): trust from who sent a report, replays
 * recognised, recidivism from established incidents only, and every
 * operator cut behind the BMC gate and four eyes. Each case is one that
 * caused a wrongful cut before.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2026-11-02T09:00:00Z');

const ARF = (messageId: string, eventTime: string, ip: string, note = 'Hello, buy now') =>
  Buffer.from(arfReport({ from: 'fbl@mailbox.example', messageId, eventTime, ip, originalFrom: `spammer@${ip}`, note }));

describe('due process at the desk', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const clock = new ManualClock(T0);
  let bmcAnswers = true;
  const bmcDriver: BmcDriver = {
    async check(t: BmcTarget): Promise<BmcCheck> {
      return bmcAnswers
        ? { hostId: t.hostId, reachable: true, sol: 'not_required', checkedAt: new Date(), durationMs: 2, attempts: 1 }
        : { hostId: t.hostId, reachable: false, sol: 'not_required', checkedAt: new Date(), durationMs: 2, attempts: 1, error: 'no answer', errorKind: 'timeout' };
    },
  };
  const clients = new Map<string, DeskClient>();
  const desk = (operator: string): DeskClient => {
    let c = clients.get(operator);
    if (!c) {
      c = new DeskClient(resolveConnection({ controller: `127.0.0.1:${controller.server.port}`, 'server-name': 'localhost', pki: pki.dir, operator }, {}), { timeoutMs: 10_000 });
      clients.set(operator, c);
    }
    return c;
  };
  const ingest = (bytes: Buffer, filename = 'report.eml') =>
    desk('olga').call<unknown, SubmitComplaintResponse>('submitComplaint', {
      ip: '', category: '', reporter: '', reporterKind: '', eventTime: undefined, evidence: '', raw: '', filename, report: bytes,
    });
  const submit = (ip: string, category: string, reporterKind: string, reporter = 'someone') =>
    desk('olga').call<unknown, SubmitComplaintResponse>('submitComplaint', { ip, category, reporter, reporterKind, eventTime: undefined, evidence: `${category} seen`, raw: `${category} report`, filename: '', report: Buffer.alloc(0) });
  const incident = async (id: string): Promise<Incident> => (await controller.store.incidents.get(id))!;
  const mails = async (incidentId?: string) =>
    (await controller.store.outbox.list()).filter((m) => m.kind === 'mail' && (incidentId === undefined || m.incidentId === incidentId)).map((m) => m.payload as { template: string; scope?: unknown });
  const settle = () => new Promise((r) => setTimeout(r, 150));
  /** The notice goes out (no mail server here: recorded by hand), then its acknowledge deadline passes unanswered. */
  const deadlinePasses = async (id: string) => {
    if (!(await incident(id)).notifiedAt) await controller.service.apply(id, { type: 'notice_sent' }, 'mail');
    const i = await incident(id);
    clock.set(new Date(i.ackDueAt!.getTime() + 1000));
    await controller.scheduler.kick();
    await waitFor(`${id} to escalate`, async () => (await incident(id)).overdue, 5_000);
    await settle();
  };

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'abuse_operator');
    pki.operator('omar', 'abuse_operator');
    work = mkdtempSync(join(tmpdir(), 'cordon-dueprocess-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.customers.upsert({ id: 'solo', name: 'Solo', email: 'ops@solo.example' });
    for (let n = 1; n <= 9; n++) {
      await store.hosts.add({ id: `web-0${n}`, customerId: 'acme', publicPrefixes: [`203.0.113.${n}/32`], managementAddress: `10.255.0.${n}` });
      const passwordFile = join(work, `bmc-web-0${n}.pw`);
      writeFileSync(passwordFile, 'secret\n', { mode: 0o600 });
      await store.bmcs.set({ hostId: `web-0${n}`, protocol: 'ipmi', address: `10.255.1.${n}`, port: 623, user: 'cordon', passwordFile, sol: false, cipherSuite: undefined });
    }
    await store.hosts.add({ id: 'solo-1', customerId: 'solo', publicPrefixes: ['198.51.100.1/32'], managementAddress: '10.255.0.99' });
    writeFileSync(join(work, 'bmc-solo-1.pw'), 'secret\n', { mode: 0o600 });
    await store.bmcs.set({ hostId: 'solo-1', protocol: 'ipmi', address: '10.255.1.99', port: 623, user: 'cordon', passwordFile: join(work, 'bmc-solo-1.pw'), sol: false, cipherSuite: undefined });
    controller = await runController(controllerSettings(pki, store, { clock, bmcDriver }));
  });
  afterAll(async () => {
    for (const c of clients.values()) c.close();
    await controller?.stop(200);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  describe('trust comes from who sent a report, never from its format', () => {
    it('an X-ARF malware report from a freemail address is untrusted and does not escalate at intake', async () => {
      const xarf = JSON.stringify({
        Version: '2',
        ReporterInfo: { ReporterOrg: 'Totally a CERT', ReporterOrgEmail: 'cert.team.2026@freemail.example' },
        Report: { ReportClass: 'Content', ReportType: 'Malware', Date: '2026-11-02T08:00:00Z', SourceIp: '203.0.113.9', Url: 'http://203.0.113.9/payload.exe' },
      });
      const mail = Buffer.from(
        `From: cert.team.2026@freemail.example\r\nTo: abuse@hoster.example\r\nMessage-ID: <xarf-1@freemail.example>\r\nSubject: abuse report\r\nContent-Type: application/json\r\n\r\n${xarf}`,
      );
      const r = await ingest(mail);
      expect(r.outcome).toBe('opened');
      expect(r.trusted).toBe(false);
      expect(JSON.parse(r.authentication)).toMatchObject({ trusted: false, via: 'none' });
      const i = await incident(r.incidentId);
      expect(i.category).toBe('malware');
      expect(i.trusted).toBe(false);
      expect(i.actions).toEqual([]);
      expect(['received', 'notified']).toContain(i.state);
      const stored = (await controller.store.complaints.get(r.complaintId))!;
      expect(stored.trusted).toBe(false);
      expect(stored.authentication).toMatchObject({ via: 'none' });
    });
  });

  describe('a bare feed file vouches for nothing', () => {
    it('a Shadowserver-style CSV about three hosts held for untrusted complaints lifts none of the holds', async () => {
      const ids: string[] = [];
      for (const n of [6, 7, 8]) {
        const c = await submit(`203.0.113.${n}`, 'scan', 'individual', 'someone@freemail.example');
        ids.push(c.incidentId);
        await deadlinePasses(c.incidentId);
        expect(await incident(c.incidentId)).toMatchObject({ state: 'escalated', hold: 'untrusted_reporter', actions: [] });
      }
      const csv = ['"timestamp","ip","protocol","port","hostname","tag","asn","geo"', ...[6, 7, 8].map((n) => `"2026-11-02 08:00:0${n}","203.0.113.${n}","tcp",22,,"ssh-scan",64500,"NL"`)].join('\n');
      const r = await ingest(Buffer.from(csv), 'event4_honeypot_scan.csv');
      expect(r.parsed.map((p) => p.outcome)).toEqual(['merged', 'merged', 'merged']);
      expect(r.parsed.every((p) => !p.trusted)).toBe(true);
      expect(JSON.parse(r.authentication)).toMatchObject({ trusted: false, via: 'none', reason: expect.stringMatching(/not a mail/) });
      for (const id of ids) expect(await incident(id)).toMatchObject({ hold: 'untrusted_reporter', actions: [], trusted: false });
    });
  });

  describe('a report already handled is recognised, not reopened', () => {
    let first: SubmitComplaintResponse;
    const bytes = ARF('fbl-4711@mailbox.example', '2026-11-02T08:30:00Z', '203.0.113.1');

    it('the same report re-sent 17 days after its incident was answered and closed is a duplicate: no incident, no notice, no deadline', async () => {
      first = await ingest(bytes);
      expect(first.outcome).toBe('opened');
      await controller.service.apply(first.incidentId, { type: 'notice_sent' }, 'mail');
      await desk('olga').call('answerIncident', { incidentId: first.incidentId, answer: 2 /* fixed */, planDueAt: undefined, note: 'closed the relay' });
      await desk('omar').call('decideIncident', { incidentId: first.incidentId, decision: 1 /* verify */, reason: '' });
      expect((await incident(first.incidentId)).state).toBe('closed');
      const incidentsBefore = (await controller.store.incidents.list({ hostId: 'web-01' })).length;
      const mailsBefore = (await mails()).length;

      clock.advance(17 * DAY);
      const again = await ingest(bytes);
      expect(again.outcome).toBe('duplicate');
      expect(again.incidentId).toBe(first.incidentId);
      expect(again.reason).toMatch(new RegExp(`repeats complaint ${first.complaintId} \\(same message-id\\)`));
      expect((await controller.store.incidents.list({ hostId: 'web-01' })).length).toBe(incidentsBefore);
      expect((await mails()).length).toBe(mailsBefore);
      expect((await incident(first.incidentId)).state).toBe('closed');
      // The operator sees it: listed, and on the first incident's history.
      const dups = await desk('olga').call<unknown, ListComplaintsResponse>('listComplaints', { status: 'duplicate', hostId: '', limit: 0 });
      expect(dups.complaints.map((c) => [c.id, c.duplicateOf])).toContainEqual([again.complaintId, first.complaintId]);
      expect((await controller.store.events.list(first.incidentId)).map((e) => e.type)).toContain('duplicate');
    });

    it('a maildir redelivery of the same message is a duplicate too', async () => {
      const redelivered = await ingest(bytes, '1733400000.M1P2.mx:2,');
      expect(redelivered.outcome).toBe('duplicate');
    });

    it('a forward with a new Message-ID that quotes the same original is a duplicate', async () => {
      const forwarded = Buffer.from(bytes.toString('utf8').replace('Message-ID: <fbl-4711@mailbox.example>', 'Message-ID: <fwd-99@mailbox.example>'));
      const r = await ingest(forwarded);
      expect(r.outcome).toBe('duplicate');
      expect(r.reason).toMatch(/same original-message-id/);
    });

    it('a new report about an event from before the resolution is held for an operator, who may admit it', async () => {
      const late = ARF('fbl-5000@mailbox.example', '2026-11-02T08:45:00Z', '203.0.113.1', 'another message, same week');
      const r = await ingest(late);
      expect(r.outcome).toBe('held');
      expect(r.incidentId).toBe('');
      expect(r.reason).toMatch(/precedes the resolution of/);
      const held = await desk('olga').call<unknown, ListComplaintsResponse>('listComplaints', { status: 'held', hostId: '', limit: 0 });
      expect(held.complaints.map((c) => c.id)).toContain(r.complaintId);
      const admitted = await desk('olga').call<unknown, SubmitComplaintResponse>('decideComplaint', { complaintId: r.complaintId, decision: 'admit', reason: 'a second spam run, not the old one' });
      expect(admitted.outcome).toBe('opened');
      expect((await controller.store.complaints.get(r.complaintId))!).toMatchObject({ status: 'linked', incidentId: admitted.incidentId });
      await expect(desk('olga').call('decideComplaint', { complaintId: r.complaintId, decision: 'admit', reason: 'again' })).rejects.toMatchObject({ kind: 'conflict' });
    });

    it('a genuinely new complaint still merges into the open incident', async () => {
      const open = (await controller.store.incidents.findOpen('web-01', 'spam'))!;
      const fresh = ARF('fbl-6000@mailbox.example', new Date(clock.now().getTime() - HOUR).toISOString(), '203.0.113.1', 'yet another');
      const r = await ingest(fresh);
      expect(r.outcome).toBe('merged');
      expect(r.incidentId).toBe(open.id);
    });
  });

  describe('every operator cut goes through the same gates', () => {
    it('an isolate on an incident with no trusted, overdue complaint needs a second operator; the grant carries its approval id', async () => {
      const c = await submit('203.0.113.2', 'phishing', 'cert', 'cert@cert.example');
      const r = await desk('olga').call<unknown, EnforceResponse>('enforce', {
        incidentId: c.incidentId, hostIds: [], customerId: '', reason: 'phishing kit', action: { id: '', incidentId: '', reason: '', action: { $case: 'isolate', value: {} } },
      });
      expect(r.approvalId).toMatch(/^apr-/);
      expect(r.incidentIds).toEqual([]);
      expect((await incident(c.incidentId)).actions).toEqual([]);
      await expect(desk('olga').call('approve', { approvalId: r.approvalId })).rejects.toMatchObject({ kind: 'permission' });
      const list = await desk('omar').call<unknown, ListApprovalsResponse>('listApprovals', {});
      expect(list.approvals.find((a) => a.id === r.approvalId)).toMatchObject({ incidentId: c.incidentId, state: 'pending', why: expect.stringMatching(/whose customer has not let a deadline pass/) });
      const granted = await desk('omar').call<unknown, EnforceResponse>('approve', { approvalId: r.approvalId });
      expect(granted.incidentIds).toEqual([c.incidentId]);
      // The grant does not skip the BMC gate: the cut goes once the console answered a check.
      await waitFor('the approved isolate to pass the BMC check', async () => (await incident(c.incidentId)).actions.length > 0, 5_000);
      const i = await incident(c.incidentId);
      expect(i.approvalId).toBe(r.approvalId);
      expect(i.actions).toEqual([{ kind: 'isolate' }]);
    });

    it('an operator isolate with the BMC dead waits for it; only an audited override gets past', async () => {
      const c = await submit('203.0.113.3', 'phishing', 'cert', 'cert@cert.example');
      await deadlinePasses(c.incidentId);
      // Trusted and overdue: the ladder itself isolates once the BMC answers. Kill the BMC first.
      bmcAnswers = false;
      const c2 = await submit('203.0.113.4', 'spam', 'upstream', 'fbl@mailbox.example');
      await deadlinePasses(c2.incidentId);
      expect((await incident(c2.incidentId)).actions).toEqual([{ kind: 'smtp_block' }]);
      // The escalation mail says truthfully what else of the customer's is restricted (web-03's isolate), and that the rest is not.
      const escalated = (await mails(c2.incidentId)).find((m) => m.template === 'escalated')!;
      expect(escalated.scope).toMatchObject({ otherHosts: 8, otherRestricted: expect.arrayContaining(['web-03']) });
      const r = await desk('olga').call<unknown, EnforceResponse>('enforce', {
        incidentId: c2.incidentId, hostIds: [], customerId: '', reason: 'still spamming', action: { id: '', incidentId: '', reason: '', action: { $case: 'isolate', value: {} } },
      });
      expect(r.approvalId).toBe('');
      await waitFor('the BMC check to fail', async () => (await controller.store.bmcs.latest('web-04'))?.reachable === false, 5_000);
      const held = await incident(c2.incidentId);
      expect(held.hold).toBe('bmc_unreachable');
      expect(held.pendingAction).toEqual({ kind: 'isolate' });
      expect(held.actions).toEqual([{ kind: 'smtp_block' }]);
      await desk('omar').call('decideIncident', { incidentId: c2.incidentId, decision: 5 /* override */, reason: 'console reachable over the OOB VPN, checked by phone' });
      expect((await incident(c2.incidentId)).actions).toEqual([{ kind: 'smtp_block' }, { kind: 'isolate' }]);
      const events = await controller.store.events.list(c2.incidentId);
      expect(events.find((e) => e.type === 'operator_override_bmc')).toMatchObject({ actor: 'omar' });
      bmcAnswers = true;
    });

    it('enforce --host N times is N hosts: past the hourly budget each needs a second operator', async () => {
      const smtp = { id: '', incidentId: '', reason: '', action: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } } };
      const outcomes: string[] = [];
      for (const h of ['web-05', 'web-06', 'web-07', 'web-08', 'web-09', 'solo-1']) {
        const r = await desk('omar').call<unknown, EnforceResponse>('enforce', { incidentId: '', hostIds: [h], customerId: '', reason: 'spam wave', action: smtp });
        outcomes.push(r.approvalId ? 'approval' : 'acted');
      }
      // omar approved one action above (not counted: a second operator's grant); his own actions count up to 5.
      expect(outcomes).toEqual(['acted', 'acted', 'acted', 'acted', 'acted', 'approval']);
    });

    it('a whole customer needs approval; the grant is all hosts or none, and a failed grant leaves the approval pending', async () => {
      const r = await desk('olga').call<unknown, EnforceResponse>('enforce', {
        incidentId: '', hostIds: [], customerId: 'acme', reason: 'botnet',
        action: { id: '', incidentId: '', reason: '', action: { $case: 'throttle', value: { rateBps: 1_000_000n } } },
      });
      expect(r.approvalId).toMatch(/^apr-/);
      // The write of web-07's desired state fails (bulk, as a grant writes them, or one by one).
      const desired = controller.store.desired;
      const [setActions, writeQueued] = [desired.setIncidentActions.bind(desired), desired.writeQueued.bind(desired)];
      desired.setIncidentActions = async (hostId, ...rest) => {
        if (hostId === 'web-07') throw new Error('disk full');
        return setActions(hostId, ...rest);
      };
      desired.writeQueued = async (q) => {
        if (q.heads.some((h) => h.hostId === 'web-07')) throw new Error('disk full');
        return writeQueued(q);
      };
      await expect(desk('omar').call('approve', { approvalId: r.approvalId })).rejects.toBeTruthy();
      Object.assign(desired, { setIncidentActions: setActions, writeQueued });
      const after = (await desk('omar').call<unknown, ListApprovalsResponse>('listApprovals', {})).approvals.find((a) => a.id === r.approvalId)!;
      expect(after.state).toBe('pending');
      for (const h of ['web-01', 'web-02', 'web-03']) expect((await controller.store.desired.get(h)).enforcements.some((e) => e.action.kind === 'throttle')).toBe(false);
      const granted = await desk('omar').call<unknown, EnforceResponse>('approve', { approvalId: r.approvalId });
      expect(granted.incidentIds).toHaveLength(9);
    });

    it('approvals expire and can be rejected', async () => {
      const ask = () =>
        desk('olga').call<unknown, EnforceResponse>('enforce', {
          incidentId: '', hostIds: ['web-05', 'web-06'], customerId: '', reason: 'scan', action: { id: '', incidentId: '', reason: '', action: { $case: 'nicDown', value: {} } },
        });
      const a = await ask();
      const b = await ask();
      const rejected = await desk('omar').call<unknown, Approval>('rejectApproval', { approvalId: a.approvalId, reason: 'no evidence yet' });
      expect(rejected).toMatchObject({ state: 'rejected', approvedBy: 'omar' });
      await expect(desk('omar').call('approve', { approvalId: a.approvalId })).rejects.toMatchObject({ kind: 'conflict' });
      clock.advance(25 * HOUR);
      const list = await desk('omar').call<unknown, ListApprovalsResponse>('listApprovals', {});
      expect(list.approvals.find((x) => x.id === b.approvalId)!.state).toBe('expired');
      await expect(desk('omar').call('approve', { approvalId: b.approvalId })).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/expired/) });
    });
  });

  describe('recidivism counts only what was established', () => {
    it('an anonymous flood and operator actions flag nothing; three established incidents flag a review the customer hears of only when confirmed', async () => {
      const reviews = async () => (await desk('olga').call<unknown, ListTerminationReviewsResponse>('listTerminationReviews', { status: '' })).reviews.filter((r) => r.customerId === 'solo');
      for (const category of ['spam', 'scan', 'brute_force', 'phishing', 'ddos', 'malware']) await submit('198.51.100.1', category, 'anonymous', '');
      expect(await reviews()).toEqual([]);
      // Three trusted complaints the customer acknowledges: the third makes a review.
      const opened: string[] = [];
      for (const category of ['spam', 'scan', 'brute_force']) {
        const open = await controller.store.incidents.findOpen('solo-1', category as never);
        if (open) await desk('omar').call('decideIncident', { incidentId: open.id, decision: 3 /* dismiss */, reason: 'anonymous' });
        const c = await submit('198.51.100.1', category, 'upstream', 'noc@upstream.example');
        opened.push(c.incidentId);
        await controller.service.apply(c.incidentId, { type: 'notice_sent' }, 'mail');
        await desk('olga').call('answerIncident', { incidentId: c.incidentId, answer: 1 /* ack */, planDueAt: undefined, note: '' });
      }
      const [review] = await reviews();
      expect(review).toMatchObject({ status: 'open' });
      expect([...review!.incidentIds].sort()).toEqual([...opened].sort());
      const termination = async () => (await mails()).filter((m) => m.template === 'termination');
      expect(await termination()).toEqual([]);
      expect((await mails()).some((m) => (m as { terminationReview?: boolean }).terminationReview)).toBe(false);
      const confirmed = await desk('omar').call<unknown, TerminationReview>('decideTerminationReview', { id: review!.id, confirm: true, reason: 'three established incidents in ten days' });
      expect(confirmed).toMatchObject({ status: 'confirmed', decidedBy: 'omar' });
      expect(await termination()).toHaveLength(1);
    });

    it('an incident dismissed after it was counted leaves the open review, audited, and a review that grows later does not count it again', async () => {
      const reviews = async () => (await desk('olga').call<unknown, ListTerminationReviewsResponse>('listTerminationReviews', { status: 'open' })).reviews.filter((r) => r.customerId === 'solo');
      // The first test confirmed its review; this customer starts a new one with three more established incidents.
      const opened: string[] = [];
      for (const category of ['phishing', 'copyright', 'open_service']) {
        const c = await submit('198.51.100.1', category, 'upstream', 'noc@upstream.example');
        opened.push(c.incidentId);
        await controller.service.apply(c.incidentId, { type: 'notice_sent' }, 'mail');
        await desk('olga').call('answerIncident', { incidentId: c.incidentId, answer: 1 /* ack */, planDueAt: undefined, note: '' });
      }
      const [review] = await reviews();
      expect(review!.incidentIds).toEqual(expect.arrayContaining(opened));
      // The complaint behind the second was wrong: dismissed, it no longer weighs against the customer.
      await desk('omar').call('decideIncident', { incidentId: opened[1], decision: 3 /* dismiss */, reason: 'the reporter retracted it' });
      const [after] = await reviews();
      expect(after!.id).toBe(review!.id);
      expect(after!.incidentIds).not.toContain(opened[1]);
      const audit = await controller.store.db.all<{ detail_json: string }>("SELECT detail_json FROM audit_log WHERE action = 'customer.termination_review_withdrawn'");
      expect(audit.map((a) => JSON.parse(a.detail_json) as { incident: string; review: string })).toContainEqual(expect.objectContaining({ incident: opened[1], review: review!.id }));
      // The review grows with a new established incident: the dismissed one stays out.
      const c = await submit('198.51.100.1', 'auth_failure', 'upstream', 'noc@upstream.example');
      await controller.service.apply(c.incidentId, { type: 'notice_sent' }, 'mail');
      await desk('olga').call('answerIncident', { incidentId: c.incidentId, answer: 1 /* ack */, planDueAt: undefined, note: '' });
      const [grown] = await reviews();
      expect(grown!.incidentIds).toContain(c.incidentId);
      expect(grown!.incidentIds).not.toContain(opened[1]);
    });
  });
});
