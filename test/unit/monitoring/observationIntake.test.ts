import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../controller/clock.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { StaticInventory } from '../../../controller/inventory/Inventory.js';
import { describeObservation, observationProblem, thresholdProblem } from '../../../controller/monitoring/describeObservation.js';
import { effectiveDetection, type DetectionSettings } from '../../../controller/monitoring/effectiveDetection.js';
import { ObservationIntake } from '../../../controller/monitoring/ObservationIntake.js';
import { IncidentService } from '../../../controller/services/IncidentService.js';
import type { Observation } from '../../../proto/gen/cordon/v1/agent.js';
import { silentLogger } from '../../../proto/runtime/logger.js';
import { host, seededStore, T0 } from '../store/storeFixtures.js';

const MIN = 60_000;
const obs = (over: Partial<Observation> = {}, end = T0): Observation => ({
  kind: 'smtp',
  windowStart: new Date(end.getTime() - MIN),
  windowEnd: end,
  count: 812n,
  threshold: 300n,
  top: [
    { address: '198.51.100.7', connections: 400n, packets: 0n, bytes: 0n },
    { address: '2001:db8::25', connections: 12n, packets: 0n, bytes: 0n },
  ],
  ...over,
});

describe('an observation, checked', () => {
  it('takes a well-formed one and names what is wrong with any other', () => {
    expect(observationProblem(obs(), T0)).toBeUndefined();
    expect(observationProblem(obs({ kind: 'ddos' }), T0)).toMatch(/kind "ddos" is not one of smtp, fanout, flood/);
    expect(observationProblem(obs({ count: 300n }), T0)).toMatch(/does not pass threshold/);
    expect(observationProblem(obs({ windowStart: T0, windowEnd: T0 }), T0)).toMatch(/longer than 0/);
    expect(observationProblem(obs({}, new Date(T0.getTime() + 3_600_000)), T0)).toMatch(/future/);
    expect(observationProblem(obs({ top: [{ address: '<script>', connections: 1n, packets: 0n, bytes: 0n }] }), T0)).toMatch(/is not an address/);
    expect(observationProblem(obs({ top: Array.from({ length: 11 }, () => ({ address: '192.0.2.1', connections: 1n, packets: 0n, bytes: 0n })) }), T0)).toMatch(/at most 10/);
  });

  it("is held to the host's policy: a detector off, a count not over, a flood's rate over the window's span", () => {
    const policy = { enabled: true, windowSeconds: 60, smtpPorts: [25], smtpNewConnections: 300, fanoutPorts: [22], fanoutDestinations: 0, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 };
    expect(thresholdProblem(obs(), policy)).toBeUndefined();
    expect(thresholdProblem(obs({ count: 300n }), policy)).toMatch(/does not pass this host's threshold 300/);
    expect(thresholdProblem(obs({ kind: 'fanout', count: 500n }), policy)).toMatch(/fanout detector is off/);
    expect(thresholdProblem(obs(), { ...policy, enabled: false })).toMatch(/detection is off/);
    // 60 s at 20,000 a second: 1,200,000 packets.
    expect(thresholdProblem(obs({ kind: 'flood', count: 1_200_000n }), policy)).toMatch(/threshold 1200000/);
    expect(thresholdProblem(obs({ kind: 'flood', count: 1_200_001n }), policy)).toBeUndefined();
  });

  it('reads a flood with packets and their average size', () => {
    const flood = obs({ kind: 'flood', count: 3_000_000n, threshold: 1_200_000n, top: [{ address: '198.51.100.9', connections: 0n, packets: 3_000_000n, bytes: 192_000_000n }] });
    expect(observationProblem(flood, T0)).toBeUndefined();
    expect(describeObservation('web-01', flood)).toMatch(/counted 3000000 packets \(estimated from one packet in 16\) to a single destination .* over the threshold of 1200000\.\nBusiest destinations \(packets, average size\): 198\.51\.100\.9 \(3000000, 64 bytes\)\./);
  });

  it('reads for the customer: what was counted, when, the threshold and the busiest destinations', () => {
    expect(describeObservation('web-01', obs())).toBe(
      [
        "Cordon's agent on web-01 counted 812 new outbound connections to SMTP ports between 2026-03-01T11:59:00.000Z and 2026-03-01T12:00:00.000Z, over the threshold of 300.",
        'Busiest destinations (new connections): 198.51.100.7 (400), 2001:db8::25 (12).',
        'Measured on the server itself; no traffic was blocked by the measurement.',
      ].join('\n'),
    );
  });
});

describe('ObservationIntake', () => {
  async function setup() {
    const store = await seededStore();
    await store.customers.upsert({ id: 'cust-1', name: 'ACME', email: 'ops@acme.example' });
    const clock = new ManualClock(T0);
    const service = new IncidentService({ store, policy: DEFAULT_POLICY, clock, log: silentLogger(), onHostChanged() {}, onOutbox() {}, onDeadlinesChanged() {} });
    const inventory = new StaticInventory([host('web-01', ['203.0.113.10/32']), host('web-02', ['198.51.100.0/24'], 'cust-2'), host('web-03', [])]);
    // web-02 relays mail by design: its own SMTP threshold, no scan detector, and a shorter interval.
    const detection: DetectionSettings = {
      policy: { enabled: true, windowSeconds: 60, smtpPorts: [25], smtpNewConnections: 300, fanoutPorts: [22], fanoutDestinations: 100, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 },
      minIntervalMs: 10 * MIN,
      hosts: new Map([['web-02', { smtpNewConnections: 5_000, fanoutDestinations: 0, minIntervalMs: MIN }]]),
    };
    const detectionFor = (hostId: string) => effectiveDetection(detection, inventory.get(hostId));
    const intake = new ObservationIntake({ inventory, submit: (input, hostId) => service.submitComplaint(input, `agent:${hostId}`), trusted: true, clock: () => clock.now(), log: silentLogger(), detectionFor });
    return { store, clock, intake };
  }

  it("files a trusted own_monitoring complaint about the agent's own host, with its evidence and window end as event time", async () => {
    const { store, intake } = await setup();
    const r = await intake.take('web-01', obs());
    expect(r).toMatchObject({ outcome: 'opened', trusted: true });
    const c = (await store.complaints.get(r!.complaintId))!;
    expect(c).toMatchObject({ ip: '203.0.113.10', category: 'spam', reporter: 'cordon-agent', reporterKind: 'own_monitoring', trusted: true, eventTime: T0 });
    expect(c.evidence).toMatch(/^Cordon's agent on web-01 counted 812 new outbound connections/);
    expect(c.authentication).toMatchObject({ via: 'agent', reporterKind: 'own_monitoring', trusted: true });
    const incident = (await store.incidents.get(r!.incidentId!))!;
    expect(incident).toMatchObject({ hostId: 'web-01', category: 'spam' });
  });

  it('files one complaint per host and kind within the interval, then merges the next into the open incident', async () => {
    const { store, clock, intake } = await setup();
    const first = await intake.take('web-01', obs());
    clock.advance(MIN);
    expect(await intake.take('web-01', obs({}, clock.now()))).toBeUndefined();
    // Another kind is its own complaint (and category).
    const scan = await intake.take('web-01', obs({ kind: 'fanout', count: 150n, threshold: 100n }, clock.now()));
    expect(scan).toMatchObject({ outcome: 'opened' });
    expect((await store.incidents.get(scan!.incidentId!))!.category).toBe('scan');
    clock.advance(10 * MIN);
    const later = await intake.take('web-01', obs({}, clock.now()));
    expect(later).toMatchObject({ outcome: 'merged', incidentId: first!.incidentId });
    expect(await store.complaints.listByIncident(first!.incidentId!)).toHaveLength(2);
  });

  it("counts an observation against its host's own thresholds and interval, not the threshold the agent says it used", async () => {
    const { store, clock, intake } = await setup();
    // 812 SMTP connections pass the fleet's 300 (what web-02's agent still held, or its root set) but not web-02's 5,000.
    expect(await intake.take('web-02', obs())).toBeUndefined();
    expect(await intake.take('web-02', obs({ kind: 'fanout', count: 150n, threshold: 100n }))).toBeUndefined();
    const over = await intake.take('web-02', obs({ count: 6_000n, threshold: 5_000n }));
    expect(over).toMatchObject({ outcome: 'opened' });
    // Its interval is a minute: the next window after it is filed (merged), where web-01's ten minutes would not.
    clock.advance(MIN);
    expect(await intake.take('web-02', obs({ count: 6_000n, threshold: 5_000n }, clock.now()))).toMatchObject({ outcome: 'merged' });
    expect((await store.incidents.list()).map((i) => i.hostId)).toEqual(['web-02']);
  });

  it('refuses a malformed observation and one from a host with no public address, filing nothing', async () => {
    const { store, intake } = await setup();
    expect(await intake.take('web-01', obs({ kind: 'nonsense' }))).toBeUndefined();
    expect(await intake.take('web-03', obs())).toBeUndefined();
    expect(await intake.take('no-such-host', obs())).toBeUndefined();

    expect(await store.incidents.list()).toEqual([]);
  });
});
