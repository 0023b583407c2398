import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { createReportAuthenticator } from '../../../controller/intake/trust/createReportAuthenticator.js';
import { openTestStore } from '../../helpers/testStore.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { arfMail, createSimResolver, DOMAINS, REGISTRY, sign, signingKeys } from './reports.js';

/*
 * Minimal reproductions of the defects the service simulation
 * (serviceWorld.test.ts) found, now fixed: each states the behaviour the
 * design asks for and failed on the code the simulation first ran against.
 * The simulation asserts them too (tally.fail), on every seed.
 */

const HOUR = 3_600_000;
const T0 = new Date('2026-11-02T09:00:00Z');

async function world() {
  const store = await openTestStore();
  await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
  await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.1/32'], managementAddress: '10.0.0.1' });
  for (const r of REGISTRY) await store.reporters.add(r, 'config', 'sim', T0);
  const clock = new ManualClock(T0);
  const authenticate = createReportAuthenticator({ listReporters: () => store.reporters.list(), trustedKinds: DEFAULT_POLICY.trustedReporterKinds, resolver: createSimResolver(signingKeys()), log: silentLogger() });
  const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: silentLogger(), authenticate, onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
  return { store, clock, service };
}

/** A complaint about web-01 entered by an operator, its notice sent: the incident's id. */
async function notifiedComplaint(w: Awaited<ReturnType<typeof world>>, category: string, reporter: string, reporterKind: string): Promise<string> {
  const c = await w.service.submitComplaint({ ip: '203.0.113.1', category, reporter, reporterKind, eventTime: undefined, evidence: category, raw: category }, 'olga');
  await w.service.apply(c.incidentId!, { type: 'notice_sent' }, 'mail');
  return c.incidentId!;
}

/** A trusted spam incident left unanswered: rung 1 (smtp_block) in force, rung 2 (isolate) due in 24 h. */
async function enforcedSpam(w: Awaited<ReturnType<typeof world>>): Promise<string> {
  const { store, clock, service } = w;
  const id = await notifiedComplaint(w, 'spam', 'fbl', 'upstream');
  const ackDue = (await store.incidents.get(id))!.ackDueAt!;
  clock.set(new Date(ackDue.getTime() + 1));
  await service.apply(id, { type: 'deadline', dueAt: ackDue }, 'clock');
  await service.apply(id, { type: 'host_applied' }, 'agent web-01');
  return id;
}

describe('defects the service simulation found', () => {
  it('a cut held for the BMC does not go ahead after the customer confirmed the fix', async () => {
    const w = await world();
    const id = await enforcedSpam(w);
    // Rung 2 falls due while no BMC check is on record: the isolate waits (hold bmc_unreachable).
    const next = (await w.store.incidents.get(id))!.resolveDueAt!;
    w.clock.set(new Date(next.getTime() + 1));
    await w.service.apply(id, { type: 'deadline', dueAt: next }, 'clock');
    expect((await w.store.incidents.get(id))!.hold).toBe('bmc_unreachable');
    // The customer fixes the server and says so: the incident waits for an operator's release.
    await w.service.apply(id, { type: 'customer_fixed' }, 'customer via olga');
    expect((await w.store.incidents.get(id))!.state).toBe('release_requested');
    // Then the BMC answers a check (an operator's `host bmc-check`, or any check feeding held incidents);
    // an operator's override of the hold does the same.
    await w.service.apply(id, { type: 'bmc_result', phase: 'before', reachable: true, checkedAt: w.clock.now() }, 'bmc');
    const after = (await w.store.incidents.get(id))!;
    // Observed: state enforcing, actions smtp_block + isolate (the host is cut after the fix), and the release is refused.
    expect(after.state).toBe('release_requested');
    expect(after.actions).toEqual([{ kind: 'smtp_block' }]);
    await w.store.close();
  });

  it("an operator's cut that waited for the BMC is not counted as an automatic enforcement", async () => {
    const w = await world();
    const id = await enforcedSpam(w);
    // An operator isolates the trusted, overdue incident (no approval needed); no BMC check yet, so it waits.
    await w.service.apply(id, { type: 'operator_enforce', operator: 'olga', action: { kind: 'isolate' }, reason: 'still spamming' }, 'olga');
    expect((await w.store.incidents.get(id))!.pendingAction).toEqual({ kind: 'isolate' });
    w.clock.set(new Date(w.clock.now().getTime() + HOUR));
    await w.service.apply(id, { type: 'bmc_result', phase: 'before', reachable: true, checkedAt: w.clock.now() }, 'bmc');
    const start = await w.store.db.get<{ automatic: number }>("SELECT automatic FROM enforcement_starts WHERE incident_id = ? AND kind = 'isolate'", [id]);
    // Observed: automatic = 1 (IncidentService.effectsInTx: the cause is bmc_result, not operator_*),
    // so it eats the fleet-wide maxAutomaticPerHour that the policy's own enforcements are held to.
    expect(start?.automatic).toBe(0);
    await w.store.close();
  });

  it('an unsigned copy sent first does not make the genuine, signed report a duplicate', async () => {
    const w = await world();
    const keys = signingKeys();
    const arf = (messageId: string) =>
      arfMail({ from: `fbl@${DOMAINS.fbl}`, messageId, originalMessageId: 'spam-1@shop.example', sentAt: w.clock.now(), eventTime: new Date(T0.getTime() - HOUR), ip: '203.0.113.1', note: 'Buy now' });
    // The spammer knows its own message's Message-ID and sends an unsigned "FBL report" quoting it...
    const forged = await w.service.ingestReport(Buffer.from(arf('forged-1@fbl.example')), 'maildir');
    expect(forged.results[0]).toMatchObject({ outcome: 'opened', trusted: false });
    // ...minutes before the mailbox provider's real, signed report about the same message.
    w.clock.set(new Date(T0.getTime() + 600_000));
    const genuine = await w.service.ingestReport(Buffer.from(await sign(arf('fbl-4711@fbl.example'), keys.fbl)), 'maildir');
    // Observed: outcome duplicate (same original-message-id), so the incident stays untrusted and the
    // policy never acts on it; the trusted report is shelved as a copy of the forgery.
    expect(genuine.results[0]).toMatchObject({ trusted: true });
    expect(genuine.results[0]!.outcome).not.toBe('duplicate');
    expect((await w.store.incidents.get(forged.results[0]!.incidentId!))!.trusted).toBe(true);
    await w.store.close();
  });

  it("an approval granted after the customer confirmed the fix does not cut the host (seed 1956132223)", async () => {
    const w = await world();
    // An untrusted complaint left unanswered: escalated, held for an operator.
    const id = await notifiedComplaint(w, 'scan', 'anon', 'anonymous');
    const due = (await w.store.incidents.get(id))!.ackDueAt!;
    w.clock.set(new Date(due.getTime() + 1));
    await w.service.apply(id, { type: 'deadline', dueAt: due }, 'clock');
    expect((await w.store.incidents.get(id))!.state).toBe('escalated');
    // An operator asks for an isolate; before the second operator answers, the customer says it is fixed.
    await w.service.apply(id, { type: 'customer_fixed' }, 'customer via helpdesk');
    // Observed: the grant moved customer_resolved -> escalated and the host was isolated over the answer.
    const grant = { type: 'operator_enforce' as const, operator: 'olga', action: { kind: 'isolate' as const }, reason: 'serious enough (approved by omar)', approvalId: 'apr-1' };
    await expect(w.service.apply(id, grant, 'omar')).rejects.toThrow(/customer_resolved: the customer says it is fixed.*decided/);
    const after = (await w.store.incidents.get(id))!;
    expect(after.state).toBe('customer_resolved');
    expect(after.actions).toEqual([]);
    // Deciding the answer first is the way: the fix does not hold, a new deadline runs.
    await w.service.apply(id, { type: 'operator_reject_dispute', operator: 'omar' }, 'omar');
    expect((await w.store.incidents.get(id))!.state).toBe('acknowledged');
    await w.store.close();
  });

  it("an operator's action on the host opens its own incident and leaves the complaint's answer open (seed 1097868801)", async () => {
    const w = await world();
    const complaint = await notifiedComplaint(w, 'other', 'fbl', 'upstream');
    // An approved throttle over the whole customer, an hour later, before the complaint's deadline.
    w.clock.set(new Date(T0.getTime() + HOUR));
    const [own] = await w.service.enforceHosts(['web-01'], { kind: 'throttle', rateBps: 1_000_000 }, 'botnet across the account', 'olga', { approvalId: 'apr-1' });
    // Observed: the throttle joined the complaint's incident (one open 'other' incident per host), which went
    // enforced, and the customer's plan, sent in time, was refused ("enforced: customer plan does not apply").
    expect(own).not.toBe(complaint);
    expect((await w.store.incidents.get(own!))!).toMatchObject({ openedBy: 'operator', actions: [{ kind: 'throttle', rateBps: 1_000_000 }] });
    expect((await w.store.incidents.get(complaint))!).toMatchObject({ state: 'notified', actions: [] });
    const planned = await w.service.apply(complaint, { type: 'customer_plan', dueAt: new Date(T0.getTime() + 48 * HOUR) }, 'customer');
    expect(planned.state).toBe('plan_accepted');
    // The next operator action on the host joins the operator's incident; the next complaint joins the complaint's.
    expect(await w.service.enforceHost('web-01', { kind: 'smtp_block' }, 'and the spam', 'olga')).toBe(own);
    const again = await w.service.submitComplaint({ ip: '203.0.113.1', category: 'other', reporter: 'fbl', reporterKind: 'upstream', eventTime: undefined, evidence: 'odd again', raw: 'odd again' }, 'olga');
    expect(again.incidentId).toBe(complaint);
    await w.store.close();
  });
});
