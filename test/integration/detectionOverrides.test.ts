import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectionFromConfig } from '../../controller/monitoring/detectionFromConfig.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import type { DetectionPolicy, Observation } from '../../proto/gen/cordon/v1/agent.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';

const smtp = (count: bigint, threshold: bigint): Observation => {
  const end = new Date();
  return { kind: 'smtp', windowStart: new Date(end.getTime() - 60_000), windowEnd: end, count, threshold, top: [{ address: '198.51.100.7', connections: count, packets: 0n, bytes: 0n }] };
};

/**
 * Per-host thresholds over a real controller and stream: mx-01 relays mail
 * by design and has its own SMTP threshold (detection.hosts), web-01 has
 * the fleet's; each agent is sent its own policy after its Hello, and each
 * host's observations are held to its own.
 */
describe("a host's own detection thresholds", () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  const agents: RawAgent[] = [];

  const policyOf = async (agent: RawAgent): Promise<DetectionPolicy> => {
    const m = await waitFor('the detection policy', () => agent.received.find((x) => x.body?.$case === 'detection'));
    return (m.body as { $case: 'detection'; value: DetectionPolicy }).value;
  };
  const incidentsOf = async (hostId: string) => (await controller.store.incidents.list({})).filter((i) => i.hostId === hostId);

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-detection-hosts-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'mx-01', customerId: 'acme', publicPrefixes: ['203.0.113.25/32'], managementAddress: '10.255.0.25' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    const detection = detectionFromConfig({
      enabled: true,
      windowSeconds: 60,
      smtp: { ports: [25, 465, 587], newConnections: 300 },
      fanout: { ports: [22], destinations: 100 },
      flood: { packetsPerSecond: 20_000, maxAverageBytes: 512 },
      minIntervalSeconds: 600,
      hosts: { 'mx-01': { smtp: { newConnections: 5_000 } } },
    });
    controller = await runController(controllerSettings(pki, store, { detection }));
    for (const id of ['mx-01', 'web-01']) agents.push(await connectRawAgent(pki.agent(id), controller.server.port, id));
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('sends the host with an override its own policy after its Hello, and another host the fleet default', async () => {
    const [mx, web] = agents;
    expect(await policyOf(mx!)).toEqual({ enabled: true, windowSeconds: 60, smtpPorts: [25, 465, 587], smtpNewConnections: 5_000, fanoutPorts: [22], fanoutDestinations: 100, floodPacketsPerSecond: 20_000, floodMaxAverageBytes: 512 });
    expect(await policyOf(web!)).toMatchObject({ smtpNewConnections: 300 });
  });

  it("files an observation over the host's own threshold only: 900 SMTP connections are a complaint about web-01, not about the relay", async () => {
    const [mx, web] = agents;
    await mx!.send({ body: { $case: 'observation', value: smtp(900n, 300n) } });
    await web!.send({ body: { $case: 'observation', value: smtp(900n, 300n) } });
    await waitFor("web-01's complaint", async () => (await incidentsOf('web-01')).length === 1);
    expect(await incidentsOf('mx-01')).toEqual([]);
    await mx!.send({ body: { $case: 'observation', value: smtp(6_000n, 5_000n) } });
    const [incident] = await waitFor("mx-01's complaint over its own threshold", async () => ((await incidentsOf('mx-01')).length === 1 ? incidentsOf('mx-01') : undefined));
    // Had the 900 been filed, the interval would have kept this one out: the one complaint is the 6,000.
    const complaints = await controller.store.complaints.listByIncident(incident!.id);
    expect(complaints.map((c) => /counted (\d+)/.exec(c.evidence)?.[1])).toEqual(['6000']);
  });
});
