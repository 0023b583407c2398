import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectionFromConfig } from '../../controller/monitoring/detectionFromConfig.js';
import { runController, type Controller } from '../../controller/runController.js';
import { Store } from '../../controller/store/Store.js';
import type { DetectionPolicy } from '../../proto/gen/cordon/v1/agent.js';
import { controllerSettings } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * Detection turned off in the controller's config reaches agents that were
 * watching under the earlier config: each is sent the off policy after its
 * Hello (so it removes its watch table), and what it still reports is not
 * filed.
 */
describe('detection off everywhere', () => {
  let pki: TestPki;
  let work: string;
  let controller: Controller;
  let agent: RawAgent;

  beforeAll(async () => {
    pki = new TestPki();
    work = mkdtempSync(join(tmpdir(), 'cordon-detection-off-'));
    const store = await Store.open(join(work, 'cordon.db'));
    await store.customers.upsert({ id: 'acme', name: 'ACME', email: 'ops@acme.example' });
    await store.hosts.add({ id: 'web-01', customerId: 'acme', publicPrefixes: ['203.0.113.10/32'], managementAddress: '10.255.0.10' });
    const detection = detectionFromConfig({
      enabled: false,
      windowSeconds: 60,
      smtp: { ports: [25], newConnections: 300 },
      fanout: { ports: [22], destinations: 100 },
      flood: { packetsPerSecond: 20_000, maxAverageBytes: 512 },
      minIntervalSeconds: 600,
    });
    expect(detection).toBeUndefined();
    controller = await runController(controllerSettings(pki, store, { detection }));
    agent = await connectRawAgent(pki.agent('web-01'), controller.server.port, 'web-01');
  });
  afterAll(async () => {
    agent?.close();
    await controller?.stop(500);
    await controller?.store.close();
    pki?.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('sends the off policy after the Hello, and files nothing the agent still reports', async () => {
    const m = await waitFor('the detection policy', () => agent.received.find((x) => x.body?.$case === 'detection'));
    const policy = (m.body as { $case: 'detection'; value: DetectionPolicy }).value;
    expect(policy).toMatchObject({ enabled: false, smtpNewConnections: 0, fanoutDestinations: 0, floodPacketsPerSecond: 0 });
    const end = new Date();
    await agent.send({ body: { $case: 'observation', value: { kind: 'smtp', windowStart: new Date(end.getTime() - 60_000), windowEnd: end, count: 900n, threshold: 300n, top: [] } } });
    // Nothing to wait for when nothing is filed: give the controller the time a filing takes in the other tests.
    await new Promise((r) => setTimeout(r, 500));
    expect(await controller.store.incidents.list({})).toEqual([]);
  });
});
