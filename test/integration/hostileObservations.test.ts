import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import type { Observation } from '../../proto/gen/cordon/v1/agent.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';

const POLICY = { enabled: true, windowSeconds: 60, smtpPorts: [25, 465, 587], smtpNewConnections: 300, fanoutPorts: [22], fanoutDestinations: 100, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 };

const observation = (over: Partial<Observation> = {}): Observation => {
  const end = new Date();
  return {
    kind: 'smtp',
    windowStart: new Date(end.getTime() - 60_000),
    windowEnd: end,
    count: 900n,
    threshold: 300n,
    top: [{ address: '198.51.100.7', connections: 900n, packets: 0n, bytes: 0n }],
    ...over,
  };
};

/**
 * Observations come from the agent, whose host's root holds its key: the
 * controller must take nothing from them beyond the agent's own host. A raw
 * agent says what such a root could make it say, over the real stream.
 */
describe('an agent with a hostile root, sending observations', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let agent: RawAgent;

  const incidentsOf = async (hostId: string) => (await controller.store.incidents.list({})).filter((i) => i.hostId === hostId);
  const send = (o: Observation) => agent.send({ body: { $case: 'observation', value: o } });

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-hostile-obs-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.customers.upsert({ id: 'globex', name: 'Globex', email: 'ops@globex.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    await store.hosts.add({ id: 'web-02', customerId: 'globex', publicPrefixes: ['203.0.113.20/32'], managementAddress: '10.255.0.20' });
    controller = await runController(controllerSettings(pki, store, { detection: { policy: POLICY, minIntervalMs: 600_000 } }));
    agent = await connectRawAgent(pki.agent('web-01'), controller.server.port, 'web-01');
  });
  afterAll(async () => {
    agent?.close();
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('gets the detection policy right after its Hello is accepted', async () => {
    await waitFor('the detection policy', () => agent.received.some((m) => m.body?.$case === 'detection'));
    const first = agent.received.findIndex((m) => m.body?.$case === 'detection');
    const state = agent.received.findIndex((m) => m.body?.$case === 'desiredState');
    expect(agent.received[first]!.body).toEqual({ $case: 'detection', value: POLICY });
    if (state >= 0) expect(first).toBeLessThan(state);
  });

  it('refuses malformed observations without ending the stream, filing nothing', async () => {
    await send(observation({ kind: 'isolate' }));
    await send(observation({ count: 10n }));
    await send(observation({ windowEnd: new Date(Date.now() + 3_600_000) }));
    await send(observation({ top: [{ address: '<img src=x>', connections: 1n, packets: 0n, bytes: 0n }] }));
    await send(observation({ top: Array.from({ length: 11 }, () => ({ address: '192.0.2.1', connections: 1n, packets: 0n, bytes: 0n })) }));
    await send(observation({ count: 2n ** 60n }));
    // The stream still works: a report after them is taken.
    await agent.report({ appliedGeneration: 0n });
    await new Promise((r) => setTimeout(r, 300));
    expect(await incidentsOf('web-01')).toEqual([]);
    expect(await Promise.race([agent.ended, new Promise((r) => setTimeout(() => r('open'), 100))])).toBe('open');
  });

  it("files about its own host only, even when its evidence names another customer's server", async () => {
    await send(observation({ top: [{ address: '203.0.113.20', connections: 900n, packets: 0n, bytes: 0n }] }));
    await waitFor('the complaint about web-01', async () => (await incidentsOf('web-01')).length === 1);
    expect(await incidentsOf('web-02')).toEqual([]);
    const [incident] = await incidentsOf('web-01');
    const [complaint] = await controller.store.complaints.listByIncident(incident!.id);
    expect(complaint).toMatchObject({ ip: '203.0.113.10', reporterKind: 'own_monitoring', category: 'spam' });
  });

  it('files one complaint per kind within the interval, however many windows it sends', async () => {
    for (let i = 0; i < 50; i++) await send(observation());
    await new Promise((r) => setTimeout(r, 500));
    const [incident] = await incidentsOf('web-01');
    expect(await controller.store.complaints.listByIncident(incident!.id)).toHaveLength(1);
  });
});
