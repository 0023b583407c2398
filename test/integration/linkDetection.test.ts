import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../controller/createController.js';
import { StaticInventory } from '../../controller/inventory/Inventory.js';
import type { DetectionPolicy, Observation } from '../../proto/gen/cordon/v1/agent.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { PollingLink } from '../../agent/link/PollingLink.js';
import { host, testLink } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

const POLICY: DetectionPolicy = { enabled: true, windowSeconds: 60, smtpPorts: [25], smtpNewConnections: 300, fanoutPorts: [22], fanoutDestinations: 100, floodPacketsPerSecond: 0, floodMaxAverageBytes: 0 };
const obs = (n: bigint): Observation => ({ kind: 'smtp', windowStart: new Date(Date.now() - 60_000), windowEnd: new Date(), count: n, threshold: 300n, top: [] });

/** The detection policy and observations over both agent links (held stream and poll), against a real controller. */
describe('detection over the agent link', () => {
  let pki: TestPki;
  let controller: RunningController;
  const seen: [string, bigint][] = [];

  beforeAll(async () => {
    pki = new TestPki();
    controller = await startController({
      listen: '127.0.0.1:0',
      tls: pki.controller(),
      revokedSerialsFile: pki.revokedFile,
      inventory: new StaticInventory([host('web-01', 1), host('web-02', 2)]),
      staleAfterMissedHeartbeats: 3,
      pingIntervalMs: 30_000,
      helloTimeoutMs: 2_000,
      log: silentLogger(),
      detection: () => POLICY,
      onObservation: async (hostId, o) => void seen.push([hostId, o.count]),
    });
  });
  afterAll(async () => {
    await controller?.stop(1_000);
    pki?.cleanup();
  });

  it('hands the policy to a held stream and takes its observations for its own host', async () => {
    const policies: DetectionPolicy[] = [];
    const { link } = testLink(pki.agent('web-01'), controller.port, 'web-01', { onDetectionPolicy: (p) => policies.push(p) });
    link.start();
    try {
      await waitFor('the policy', () => policies.length === 1);
      expect(policies[0]).toEqual(POLICY);
      await link.sendObservation(obs(901n));
      await waitFor('the observation', () => seen.some(([h, n]) => h === 'web-01' && n === 901n));
    } finally {
      await link.stop();
    }
  });

  it('queues observations between polls and sends them, with the policy taken, at the next poll', async () => {
    const policies: DetectionPolicy[] = [];
    const link = new PollingLink({
      hostId: 'web-02',
      agentVersion: 'test-poll',
      address: `127.0.0.1:${controller.port}`,
      serverName: 'localhost',
      tls: pki.agent('web-02'),
      heartbeatMs: 1_000,
      backoff: { initialMs: 50, maxMs: 500 },
      log: silentLogger(),
      pollMs: 800,
      settleMs: 150,
      held: () => ({ generation: 0n, observedDigest: 'd', interfaces: [] }),
      onDesiredState: async () => ({ appliedGeneration: 0n, observedDigest: 'd', observedAt: new Date(), error: '', results: [] }),
      onDetectionPolicy: (p) => policies.push(p),
    });
    // Queued before the first poll: nothing is connected yet.
    await link.sendObservation(obs(902n));
    link.start();
    try {
      await waitFor('the queued observation', () => seen.some(([h, n]) => h === 'web-02' && n === 902n));
      expect(policies[0]).toEqual(POLICY);
    } finally {
      await link.stop();
    }
  });
});
