import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AgentServiceClient, type AgentMessage, type ControllerMessage } from '../../proto/gen/cordon/v1/agent.js';
import { DeskServiceClient } from '../../proto/gen/cordon/v1/desk.js';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { callUnary, clientChannel, openBidi } from '../../proto/runtime/rpcClient.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import type { RunningController } from '../../controller/createController.js';
import { host, startTestController, testLink } from '../helpers/controllerHarness.js';
import { DIST } from '../helpers/paths.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';
import type { ControllerLink } from '../../agent/link/ControllerLink.js';

const run = promisify(execFile);

/** Opens a raw stream, sends `first`, and returns how the controller ended it. */
async function rawConnect(tls: TlsMaterial, port: number, first: AgentMessage): Promise<CordonError | 'open'> {
  const { credentials, options } = clientChannel(tls, 'localhost');
  const client = new AgentServiceClient(`127.0.0.1:${port}`, credentials, options);
  const call = openBidi<AgentMessage, ControllerMessage>((o) => client.connect(o));
  try {
    await call.send(first);
    for await (const _ of call.responses) return 'open';
    return 'open';
  } catch (err) {
    return err as CordonError;
  } finally {
    call.cancel();
    client.close();
  }
}

const hello = (hostId: string): AgentMessage => ({
  body: { $case: 'hello', value: { hostId, agentVersion: 't', interfaces: [], generation: 0n, observedDigest: '', heartbeatIntervalMs: 1000, restrictedHeartbeatIntervalMs: 0 } },
});

describe('agent link over mutual TLS', () => {
  let pki: TestPki;
  let controller: RunningController;
  const links: ControllerLink[] = [];

  beforeAll(async () => {
    pki = new TestPki();
    pki.operator('olga', 'viewer');
    controller = await startTestController(pki, [host('web-01', 1), host('web-02', 2), host('web-03', 3), host('web-04', 4)]);
  });
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.stop()));
  });
  afterAll(async () => {
    await controller?.stop(1_000);
    pki?.cleanup();
  });

  it('shows a connected agent with its heartbeats in `cordonctl agents --json`', async () => {
    const { link } = testLink(pki.agent('web-01'), controller.port, 'web-01');
    links.push(link);
    link.start();
    await waitFor('the agent to connect', () => link.status().connected);
    const first = controller.sessions.get('web-01')!.lastHeartbeat.getTime();
    await waitFor('a heartbeat after the hello', () => controller.sessions.get('web-01')!.lastHeartbeat.getTime() > first);

    const { stdout } = await run(
      process.execPath,
      [join(DIST, 'controller/cli/cordonctl.cjs'), '--controller', `127.0.0.1:${controller.port}`, '--server-name', 'localhost',
        '--pki', pki.dir, '--operator', 'olga', 'agents', '--json'],
    );
    const agents = JSON.parse(stdout) as { hostId: string; state: string; agentVersion: string; lastHeartbeat: string; certificateSerial: string }[];
    const web01 = agents.find((a) => a.hostId === 'web-01');
    expect(web01).toMatchObject({ state: 'connected', agentVersion: 'test' });
    expect(new Date(web01!.lastHeartbeat).getTime()).toBeGreaterThan(first);
    expect(web01!.certificateSerial).toBe(pki.run('serial', join(pki.dir, 'agent-web-01.crt')).trim());

    await link.stop();
    await waitFor('a clean disconnect', () => controller.sessions.get('web-01')?.state === 'disconnected');
    expect(controller.sessions.get('web-01')!.disconnectReason).toBe('closed by the agent');
  });

  it('heartbeats at the restricted interval while it holds a restriction, and at its own otherwise', async () => {
    const { link } = testLink(pki.agent('web-04'), controller.port, 'web-04', { heartbeatMs: 5_000, restrictedHeartbeatMs: 300 });
    links.push(link);
    link.start();
    await waitFor('the agent to connect', () => controller.sessions.get('web-04')?.state === 'connected');
    /** Heartbeats the controller takes within `ms`, by the changes of the session's last heartbeat. */
    const beatsWithin = async (ms: number) => {
      let seen = controller.sessions.get('web-04')!.lastHeartbeat.getTime();
      let beats = 0;
      for (const until = Date.now() + ms; Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 10));
        const at = controller.sessions.get('web-04')!.lastHeartbeat.getTime();
        if (at !== seen) beats++;
        seen = at;
      }
      return beats;
    };
    expect(controller.sessions.get('web-04')!.heartbeatIntervalMs).toBe(5_000);
    // The agent answers the controller's first ping with a beat: that one is not the rhythm (CI saw it land in the window).
    await waitFor('the answer to the first ping', () => controller.sessions.get('web-04')!.lastRttMs !== undefined);
    expect(await beatsWithin(1_000)).toBe(0);
    controller.desired.set('web-04', [{ id: 'e1', incidentId: 'inc-1', reason: 'r', action: { $case: 'isolate', value: {} } }]);
    // The controller counts no faster than a beat a second, however fast an agent beats.
    await waitFor('the session to count at the restricted interval', () => controller.sessions.get('web-04')!.heartbeatIntervalMs === 1_000);
    expect(await beatsWithin(1_000)).toBeGreaterThanOrEqual(2);
    controller.desired.set('web-04', []);
    await waitFor('the idle interval again', () => controller.sessions.get('web-04')!.heartbeatIntervalMs === 5_000);
    // The agent's report of the release counts as heard too: wait for it, then for a restricted beat already on its way.
    await waitFor('the report of the release', () => controller.sessions.get('web-04')!.generationHeld === 2n);
    await new Promise((r) => setTimeout(r, 400));
    expect(await beatsWithin(1_000)).toBe(0);
  });

  it('pushes the desired state on connect and on every change', async () => {
    controller.desired.set('web-02', [
      { id: 'e1', incidentId: 'inc-1', reason: 'spam, no answer in 24 h', action: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } } },
    ]);
    const { link, received } = testLink(pki.agent('web-02'), controller.port, 'web-02');
    links.push(link);
    link.start();
    await waitFor('the first desired state', () => received.length === 1);
    expect(received[0]!.generation).toBe(1n);
    expect(received[0]!.enforcements[0]).toMatchObject({ incidentId: 'inc-1', action: { $case: 'smtpBlock' } });
    controller.desired.set('web-02', []);
    await waitFor('the second desired state', () => received.length === 2);
    expect(received[1]).toMatchObject({ generation: 2n, enforcements: [] });
    await waitFor('the report to reach the controller', () => controller.sessions.get('web-02')?.generationHeld === 2n);
  });

  it('refuses a certificate from another CA at the handshake', async () => {
    const other = new TestPki();
    try {
      const { link } = testLink(other.agent('web-03'), controller.port, 'web-03');
      links.push(link);
      link.start();
      await waitFor('a failed attempt', () => link.status().failedAttempts >= 2);
      expect(link.status().connected).toBe(false);
      expect(controller.sessions.get('web-03')).toBeUndefined();
    } finally {
      other.cleanup();
    }
  });

  it('refuses a Hello that names another host than the certificate', async () => {
    const result = await rawConnect(pki.material('agent-web-01'), controller.port, hello('web-03'));
    expect(result).toBeInstanceOf(CordonError);
    expect((result as CordonError).kind).toBe('permission');
    expect((result as CordonError).message).toMatch(/names host "web-03" but the certificate was issued to "web-01"/);
  });

  it('refuses a host that is not in the inventory', async () => {
    const result = await rawConnect(pki.agent('web-99'), controller.port, hello('web-99'));
    expect((result as CordonError).kind).toBe('permission');
    expect((result as CordonError).message).toMatch(/web-99 is not in the inventory/);
  });

  it('refuses an operator certificate on the agent stream and an agent certificate on the desk', async () => {
    const asOperator = await rawConnect(pki.material('operator-olga'), controller.port, hello('web-01'));
    expect((asOperator as CordonError).kind).toBe('permission');

    const { credentials, options } = clientChannel(pki.material('agent-web-01'), 'localhost');
    const desk = new DeskServiceClient(`127.0.0.1:${controller.port}`, credentials, options);
    try {
      await expect(callUnary(desk.listHosts.bind(desk), { customerId: '' })).rejects.toMatchObject({ kind: 'permission' });
    } finally {
      desk.close();
    }
  });

  it('refuses a revoked serial on the next connection, without a restart', async () => {
    pki.agent('web-03');
    const tls = pki.material('agent-web-03');
    expect(await rawConnect(tls, controller.port, hello('web-03'))).toBe('open');
    pki.run('revoke', join(pki.dir, 'agent-web-03.crt'));
    const result = await rawConnect(tls, controller.port, hello('web-03'));
    expect((result as CordonError).kind).toBe('permission');
    expect((result as CordonError).message).toMatch(/is revoked/);
  });
});

describe('agent reconnect', () => {
  it('reconnects within the backoff cap after the controller restarts', async () => {
    const pki = new TestPki();
    let controller = await startTestController(pki, [host('web-01', 1)]);
    const port = controller.port;
    const cap = 1_000;
    const { link } = testLink(pki.agent('web-01'), port, 'web-01', { backoff: { initialMs: 100, maxMs: cap } });
    try {
      link.start();
      await waitFor('the first connection', () => link.status().connected);
      await controller.stop(500);
      await waitFor('the agent to notice', () => !link.status().connected);
      // Down for several backoff rounds, so the delay has grown to the cap.
      await new Promise((r) => setTimeout(r, 2 * cap));
      controller = await startTestController(pki, [host('web-01', 1)], { listen: `127.0.0.1:${port}` });
      const restarted = Date.now();
      await waitFor('the agent to reconnect', () => controller.sessions.get('web-01')?.state === 'connected', cap + 2_000);
      // Full jitter: at most one capped delay plus a handshake.
      expect(Date.now() - restarted).toBeLessThan(cap + 1_000);
      expect(link.status().sessions).toBeGreaterThanOrEqual(2);
    } finally {
      await link.stop();
      await controller.stop(500);
      pki.cleanup();
    }
  });
});
