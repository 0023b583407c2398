import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../controller/clock.js';
import { runController, type Controller } from '../../controller/runController.js';
import { readDeskHealth, readReversal, reversalRatio } from '../../controller/desk/deskHealth.js';
import { IncidentService } from '../../controller/services/IncidentService.js';
import { DEFAULT_POLICY } from '../../controller/incidents/policy.js';
import { RESTRICTION_FLOW_SQL } from '../../controller/store/EventsRepo.js';
import type { Store } from '../../controller/store/Store.js';
import { openTestStore, testEngine } from '../helpers/testStore.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { host, T0 } from '../unit/store/storeFixtures.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { metricSample, scrapeMetrics } from '../helpers/metricsScrape.js';

if (testEngine === 'postgresql') console.warn('SKIP deskHealth.test.ts "counts from a range of the primary key, not the table or an index of all events (SQLite)" on postgresql: it reads SQLite\'s EXPLAIN QUERY PLAN of its NOT INDEXED statement; PostgreSQL plans by statistics');

const DAY = 24 * 3_600_000;
const T40 = new Date(T0.getTime() + 40 * DAY);

/**
 * A desk's month, driven through IncidentService on a real SQLite file.
 * Before the window (T0): h9 restricted and dismissed at once (counts
 * nowhere); h7 restricted (its lift, later, counts as a reversal only).
 * In the window (T0 + 40 days): five restrictions begin (h1, h2, h3, h4, h8),
 * three are reversed (h1's appeal accepted, h2 dismissed while enforced, h7
 * dismissed); h3 is released normally after the customer's fix, h8's appeal
 * is rejected, h4 takes a second action; h5's dispute is accepted and h6
 * dismissed before anything was restricted (count nowhere).
 */
describe('the desk health figures, on a real store', () => {
  let work: string;
  let store: Store;
  let clock: ManualClock;
  let service: IncidentService;
  const ids: Record<string, string> = {};

  const restrict = async (h: string) => {
    ids[h] = await service.enforceHost(h, { kind: 'smtp_block' }, 'seen spamming', 'olga');
    await service.apply(ids[h]!, { type: 'host_applied' }, `agent-${h}`);
  };
  const apply = (h: string, event: Parameters<IncidentService['apply']>[1]) => service.apply(ids[h]!, event, 'olga');

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'cordon-health-'));
    store = await openTestStore(join(work, 'cordon.db'));
    const hosts = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8', 'h9', 'h10'];
    await store.hosts.upsertMany(hosts.map((h, k) => host(h, [`203.0.113.${k + 1}/32`])));
    clock = new ManualClock(T0);
    service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: silentLogger(), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });

    await restrict('h9');
    await apply('h9', { type: 'operator_dismiss', operator: 'olga', reason: 'wrong host' });
    await restrict('h7');
    clock.set(T40);

    await restrict('h1');
    await apply('h1', { type: 'customer_false_positive' });
    await apply('h1', { type: 'operator_accept_dispute', operator: 'olga' });

    await restrict('h2');
    await apply('h2', { type: 'operator_dismiss', operator: 'olga', reason: 'the reporter withdrew' });

    await restrict('h3');
    await apply('h3', { type: 'customer_fixed' });
    await apply('h3', { type: 'operator_release', operator: 'olga' });
    // The agent's report confirms the lift (released), its next one closes the incident.
    await apply('h3', { type: 'host_applied' });
    await apply('h3', { type: 'host_applied' });

    await restrict('h4');
    // A second action on a host already restricted is the same restriction, not a new one.
    await apply('h4', { type: 'operator_enforce', operator: 'olga', action: { kind: 'throttle', rateBps: 10_000_000 }, reason: 'still sending' });

    await restrict('h8');
    await apply('h8', { type: 'customer_false_positive' });
    await apply('h8', { type: 'operator_reject_dispute', operator: 'olga' });

    await apply('h7', { type: 'operator_dismiss', operator: 'olga', reason: 'misattributed' });

    const spam = (ip: string) => ({ ip, category: 'spam', reporter: 'fbl', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: 'spam' });
    ids.h5 = (await service.submitComplaint(spam('203.0.113.5'), 'intake')).incidentId!;
    await apply('h5', { type: 'notice_sent' });
    await apply('h5', { type: 'customer_false_positive' });
    await apply('h5', { type: 'operator_accept_dispute', operator: 'olga' });
    ids.h6 = (await service.submitComplaint(spam('203.0.113.6'), 'intake')).incidentId!;
    await apply('h6', { type: 'operator_dismiss', operator: 'olga', reason: 'test mail' });
    // One incident whose notice went out: its acknowledgement deadline is 24 h away.
    ids.h10 = (await service.submitComplaint(spam('203.0.113.10'), 'intake')).incidentId!;
    await apply('h10', { type: 'notice_sent' });
    // Waiting for a person: a report nobody can read, and a complaint about an event before h3's resolution.
    expect((await service.ingestReport(Buffer.from('hello, something is wrong somewhere'), 'intake')).needsInfo).not.toBeNull();
    const late = await service.submitComplaint({ ...spam('203.0.113.3'), category: 'other', eventTime: new Date(T40.getTime() - DAY) }, 'intake');
    expect(late.outcome).toBe('held');
  });
  afterAll(async () => {
    await store?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('counts restrictions applied and reversed in the window, and their exact ratio', async () => {
    const r = await readReversal(store, new Date(T40.getTime() + 3_600_000));
    expect(r).toMatchObject({ applied: 5, appealsAccepted: 1, dismissed: 2, reversed: 3 });
    expect(r.ratio).toBe(3 / 5);
  });

  it('the window is [now − 30 days, now): events move out of it to the millisecond', async () => {
    const edge = new Date(T40.getTime() + 30 * DAY);
    expect((await readReversal(store, edge)).applied).toBe(5);
    const after = await readReversal(store, new Date(edge.getTime() + 1));
    expect(after).toMatchObject({ applied: 0, reversed: 0, ratio: undefined });
    // Before anything in the window happened, only the old ones count: h9 (applied and dismissed) and h7 (applied).
    expect(await readReversal(store, new Date(T0.getTime() + DAY))).toMatchObject({ applied: 2, appealsAccepted: 0, dismissed: 1, ratio: 1 / 2 });
  });

  it('shows open incidents by state, restrictions in force, deadlines, and complaints waiting', async () => {
    const now = new Date(T40.getTime() + 3_600_000);
    const h = await readDeskHealth(store, now);
    expect(h.at).toEqual(now);
    expect(Object.fromEntries(Object.entries(h.openIncidents).filter(([, n]) => n > 0))).toEqual({ notified: 1, enforcing: 1, enforced: 1 });
    expect(h.openIncidents.received).toBe(0);
    expect(h.openIncidents).not.toHaveProperty('closed');
    expect(h.restrictions).toEqual({ hosts: 2, byKind: { smtp_block: 2, throttle: 1 }, switchPortsDown: 0 });
    // h10's acknowledgement (24 h after its notice, 23 h from now); h8's next rung is not automatic (category other has no ladder).
    expect(h.deadlinesDueSoon).toBe(1);
    expect((await readDeskHealth(store, new Date(T40.getTime() - 3_600_000))).deadlinesDueSoon).toBe(0);
    expect(h.complaintsWaiting).toEqual({ needsInfo: 1, held: 1 });
    expect(h.reversal.ratio).toBe(3 / 5);
  });

  it('reads the window from its first event on, not the whole history', async () => {
    // The binary search lands on the first event at or after the bound (less the slack), whatever came before.
    const all = (await store.db.all<{ id: number; at: number }>('SELECT id, at FROM incident_events ORDER BY id'));
    const firstInWindow = all.find((r) => r.at >= T40.getTime())!.id;
    expect(await store.events.firstIdSince(T40, 0)).toBe(firstInWindow);
    expect(await store.events.firstIdSince(new Date(T40.getTime() + 60 * DAY))).toBeUndefined();
    expect(await store.events.firstIdSince(new Date(0))).toBe(all[0]!.id);
  });

  it.skipIf(testEngine === 'postgresql')('counts from a range of the primary key, not the table or an index of all events (SQLite)', async () => {
    const firstInWindow = (await store.events.firstIdSince(T40, 0))!;
    const plan = (await store.db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${RESTRICTION_FLOW_SQL}`, [firstInWindow, 0, 1])).map((p) => p.detail);
    expect(plan.filter((d) => d.includes('incident_events'))).toEqual(['SEARCH incident_events USING INTEGER PRIMARY KEY (rowid>?)']);
  });
});

describe('reversalRatio', () => {
  it('is undefined with nothing applied, and may exceed 1 when older restrictions are reversed', () => {
    expect(reversalRatio(0, 0)).toBeUndefined();
    expect(reversalRatio(0, 2)).toBeUndefined();
    expect(reversalRatio(4, 1)).toBe(0.25);
    expect(reversalRatio(1, 2)).toBe(2);
  });
});

const scrape = async (port: number): Promise<string> => (await scrapeMetrics(port)).body;
const sample = metricSample;

describe('the desk health figures on GET /metrics', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-health-metrics-'));
    const store = await openTestStore(join(work, 'cordon.db'));
    await store.hosts.upsertMany(['m1', 'm2', 'm3'].map((h, k) => host(h, [`198.51.100.${k + 1}/32`])));
    controller = await runController(controllerSettings(pki, store, { metricsListen: '127.0.0.1:0' }));
  });
  afterAll(async () => {
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('exports the reversal ratio and its counts, computed at scrape time', async () => {
    const port = controller.metricsPort!;
    let body = await scrape(port);
    // Nothing applied yet: no rate to speak of, which Prometheus reads as NaN.
    expect(sample(body, 'cordon_restriction_reversal_ratio_30d')).toBeNaN();
    expect(sample(body, 'cordon_restrictions_30d{outcome="applied"}')).toBe(0);

    const svc = controller.service;
    const m1 = await svc.enforceHost('m1', { kind: 'smtp_block' }, 'seen live', 'olga');
    await svc.enforceHost('m2', { kind: 'smtp_block' }, 'seen live', 'olga');
    await svc.enforceHost('m3', { kind: 'throttle', rateBps: 10_000_000 }, 'seen live', 'olga');
    await svc.apply(m1, { type: 'operator_dismiss', operator: 'olga', reason: 'wrong host' }, 'olga');
    await svc.submitComplaint({ ip: '198.51.100.2', category: 'spam', reporter: 'x', reporterKind: 'upstream', eventTime: undefined, evidence: '', raw: 'r' }, 'test');
    await svc.ingestReport(Buffer.from('no addresses in here'), 'test');

    // Scrapes within a second share one read; wait that out so this one sees the changes.
    await new Promise((r) => setTimeout(r, 1100));
    body = await scrape(port);
    expect(sample(body, 'cordon_restriction_reversal_ratio_30d')).toBeCloseTo(1 / 3, 10);
    expect(sample(body, 'cordon_restrictions_30d{outcome="applied"}')).toBe(3);
    expect(sample(body, 'cordon_restrictions_30d{outcome="appeal_accepted"}')).toBe(0);
    expect(sample(body, 'cordon_restrictions_30d{outcome="dismissed"}')).toBe(1);
    expect(sample(body, 'cordon_hosts_restricted')).toBe(2);
    expect(sample(body, 'cordon_complaints_waiting{status="needs_info"}')).toBe(1);
    expect(sample(body, 'cordon_complaints_waiting{status="held"}')).toBe(0);
    // The spam complaint's incident is opened, its notice not yet sent: no deadline runs.
    expect(sample(body, 'cordon_deadlines_due_next_24h')).toBe(0);
    expect(body).toContain('# TYPE cordon_restriction_reversal_ratio_30d gauge');
  });
});
