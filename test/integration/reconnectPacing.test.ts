import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startController, type RunningController } from '../../controller/createController.js';
import { StaticInventory } from '../../controller/inventory/Inventory.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import { host } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';

// Admission pacing: every ping tells the agent how long its fleet should take
// to come back (open sessions ÷ agents.reconnectRatePerSecond); the agent's
// side of it is unit-tested in backoff.test.ts.
describe('reconnect pacing told in pings', () => {
  let pki: TestPki;
  let controller: RunningController;
  const agents: RawAgent[] = [];

  beforeAll(async () => {
    pki = new TestPki();
    controller = await startController({
      listen: '127.0.0.1:0',
      tls: pki.controller(),
      revokedSerialsFile: pki.revokedFile,
      inventory: new StaticInventory([host('web-01', 1), host('web-02', 2), host('web-03', 3)]),
      staleAfterMissedHeartbeats: 3,
      pingIntervalMs: 200,
      helloTimeoutMs: 2_000,
      reconnectRatePerSecond: 2,
      log: silentLogger(),
    });
  });
  afterAll(async () => {
    for (const a of agents) a.close();
    await controller?.stop(500);
    pki?.cleanup();
  });

  const lastSpread = (a: RawAgent) => {
    const pings = a.received.filter((m) => m.body?.$case === 'ping');
    const last = pings.at(-1)?.body;
    return last?.$case === 'ping' ? last.value.reconnectSpreadMs : undefined;
  };

  it('grows with the open sessions and shrinks as they close', async () => {
    agents.push(await connectRawAgent(pki.agent('web-01'), controller.port, 'web-01'));
    expect(lastSpread(agents[0]!)).toBe(500);
    agents.push(await connectRawAgent(pki.agent('web-02'), controller.port, 'web-02'));
    agents.push(await connectRawAgent(pki.agent('web-03'), controller.port, 'web-03'));
    await waitFor('three sessions told in a ping', () => lastSpread(agents[0]!) === 1_500);
    agents.pop()!.close();
    await waitFor('two sessions told in a ping', () => lastSpread(agents[0]!) === 1_000);
  });
});
