import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ResultStatus, type DesiredState, type Enforcement, type Report } from '../../proto/gen/cordon/v1/agent.js';
import { silentLogger } from '../../proto/runtime/logger.js';
import type { TlsMaterial } from '../../proto/runtime/tls.js';
import { loadAgentConfig } from '../../agent/config.js';
import { PollingLink, type PollingLinkOptions } from '../../agent/link/PollingLink.js';
import type { RunningController } from '../../controller/createController.js';
import { host, startTestController } from '../helpers/controllerHarness.js';
import { TestPki } from '../helpers/pki.js';
import { waitFor } from '../helpers/waitFor.js';

const smtpBlock = (id: string): Enforcement => ({
  id,
  incidentId: `inc-${id}`,
  reason: 'spam, no answer in 24 h',
  action: { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } },
});

const applied = (state: DesiredState): Report => ({
  appliedGeneration: state.generation,
  observedDigest: `digest-${state.generation}`,
  observedAt: new Date(),
  error: '',
  results: state.enforcements.map((e) => ({ enforcementId: e.id, kind: 0, status: ResultStatus.RESULT_STATUS_APPLIED, error: '' })),
});

/** A poll-mode link that records what it receives (with the time) and reports it applied. */
function pollLink(tls: TlsMaterial, port: number, hostId: string, overrides: Partial<PollingLinkOptions> = {}) {
  const received: { state: DesiredState; at: number; poll: number }[] = [];
  const link: PollingLink = new PollingLink({
    hostId,
    agentVersion: 'test-poll',
    address: `127.0.0.1:${port}`,
    serverName: 'localhost',
    tls,
    heartbeatMs: 1_000,
    backoff: { initialMs: 50, maxMs: 500 },
    log: silentLogger(),
    pollMs: 800,
    settleMs: 150,
    held: () => ({ generation: received.at(-1)?.state.generation ?? 0n, observedDigest: 'd', interfaces: [] }),
    onDesiredState: async (state) => {
      received.push({ state, at: Date.now(), poll: link.status().sessions });
      return applied(state);
    },
    ...overrides,
  });
  return { link, received };
}

describe('agent in poll mode (controller.pollSeconds > 0)', () => {
  let pki: TestPki;
  let controller: RunningController;
  const links: PollingLink[] = [];

  beforeAll(async () => {
    pki = new TestPki();
    controller = await startTestController(pki, [host('web-01', 1), host('web-02', 2), host('web-03', 3), host('web-04', 4)]);
  });
  afterEach(async () => {
    await Promise.all(links.splice(0).map((l) => l.stop()));
  });
  afterAll(async () => {
    await controller?.stop(1_000);
    pki?.cleanup();
  });

  it('applies a state decided between polls at the next poll, reports it, and disconnects cleanly', async () => {
    const { link, received } = pollLink(pki.agent('web-01'), controller.port, 'web-01');
    links.push(link);
    link.start();
    // First poll: the host has no desired state; the poll ends after the settle time.
    await waitFor('the first poll to end', () => link.status().sessions === 1 && controller.sessions.get('web-01')?.state === 'disconnected');
    expect(received).toHaveLength(0);
    expect(controller.sessions.get('web-01')).toMatchObject({ agentVersion: 'test-poll', disconnectReason: 'closed by the agent' });

    const state = controller.desired.set('web-01', [smtpBlock('e1')]);
    // Nothing is pushed to an agent between polls: the state arrives with the second poll.
    await waitFor('the next poll to take the state', () => received.length === 1, 5_000);
    expect(received[0]!.poll).toBe(2);
    expect(received[0]!.state.generation).toBe(state.generation);
    expect(received[0]!.state.enforcements[0]).toMatchObject({ id: 'e1', action: { $case: 'smtpBlock' } });

    // The report reached the controller before the stream closed, and the close was clean.
    await waitFor('the poll to end', () => controller.sessions.get('web-01')?.state === 'disconnected');
    expect(controller.sessions.get('web-01')).toMatchObject({ generationHeld: 1n, observedDigest: 'digest-1', disconnectReason: 'closed by the agent' });
    expect(link.status()).toMatchObject({ failedAttempts: 0, lastError: undefined });

    // Every poll re-sends the current state (level-based): the agent re-converges it, idempotently.
    await waitFor('another poll', () => received.length >= 2, 5_000);
    expect(received[1]!.state.generation).toBe(1n);
  });

  it('shows as connected during a poll and disconnected between polls, a new session each poll', async () => {
    controller.desired.set('web-02', [smtpBlock('e2')]);
    let release: () => void = () => {};
    let blocked = true;
    const { link } = pollLink(pki.agent('web-02'), controller.port, 'web-02', {
      // The first converge waits for the test, so the poll is caught open.
      onDesiredState: async (state) => {
        if (blocked) await new Promise<void>((r) => (release = r));
        return applied(state);
      },
    });
    links.push(link);
    link.start();
    await waitFor('the poll to be accepted', () => link.status().connected);
    expect(controller.sessions.get('web-02')?.state).toBe('connected');
    const firstSince = controller.sessions.get('web-02')!.connectedSince.getTime();
    blocked = false;
    release();
    await waitFor('the poll to end', () => controller.sessions.get('web-02')?.state === 'disconnected');
    expect(controller.sessions.get('web-02')).toMatchObject({ generationHeld: 1n, disconnectReason: 'closed by the agent' });

    // The next poll is a new session, recorded and closed like the first.
    await waitFor('the next poll to end', () => {
      const s = controller.sessions.get('web-02')!;
      return s.connectedSince.getTime() > firstSince && s.state === 'disconnected';
    }, 5_000);
    expect(controller.sessions.get('web-02')!.lastHeartbeat.getTime()).toBeGreaterThan(firstSince);
    expect(link.status().sessions).toBeGreaterThanOrEqual(2);
  });

  it('sends what it queued between polls: a drift report and tamper events', async () => {
    const { link } = pollLink(pki.agent('web-03'), controller.port, 'web-03');
    links.push(link);
    link.start();
    await waitFor('the first poll to end', () => link.status().sessions === 1 && controller.sessions.get('web-03')?.state === 'disconnected');
    await link.sendTamper({ detectedAt: new Date(), found: ['table inet cordon deleted'], restored: ['table inet cordon'], generation: 0n });
    await link.sendReport({ appliedGeneration: 0n, observedDigest: 'after-drift', observedAt: new Date(), error: '', results: [] });
    await waitFor('the queued report to arrive', () => controller.sessions.get('web-03')?.observedDigest === 'after-drift', 5_000);
  });

  it('counts failed polls and recovers at the next tick', async () => {
    const other = new TestPki();
    try {
      // A certificate from another CA: every poll is refused at the handshake.
      const { link } = pollLink(other.agent('web-04'), controller.port, 'web-04', { pollMs: 300 });
      links.push(link);
      link.start();
      await waitFor('two failed polls', () => link.status().failedAttempts >= 2, 5_000);
      expect(link.status()).toMatchObject({ connected: false });
      expect(link.status().lastError).toBeTruthy();
      expect(controller.sessions.get('web-04')).toBeUndefined();
    } finally {
      other.cleanup();
    }
  });

  it('stops promptly, also in the middle of the interval', async () => {
    const { link } = pollLink(pki.material('agent-web-01'), controller.port, 'web-01', { pollMs: 60_000 });
    link.start();
    await waitFor('the first poll to end', () => link.status().sessions === 1 && !link.status().connected);
    const t0 = Date.now();
    await link.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});

describe('controller.pollSeconds in the agent config', () => {
  it('defaults to 0 (push), takes a file value and the environment, refuses a negative one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-poll-config-'));
    try {
      const file = (name: string, content: unknown) => {
        const p = join(dir, name);
        writeFileSync(p, JSON.stringify(content));
        return p;
      };
      const env = { CORDON_AGENT_HOST_ID: 'web-01' };
      expect(loadAgentConfig({ env }).get('controller.pollSeconds')).toBe(0);
      expect(loadAgentConfig({ env, file: file('a.json', { controller: { pollSeconds: 10 } }) }).get('controller.pollSeconds')).toBe(10);
      expect(loadAgentConfig({ env: { ...env, CORDON_AGENT_POLL_SECONDS: '30' } }).get('controller.pollSeconds')).toBe(30);
      expect(() => loadAgentConfig({ env, file: file('b.json', { controller: { pollSeconds: -1 } }) })).toThrow(/controller.pollSeconds/);
      expect(() => loadAgentConfig({ env, file: file('c.json', { controller: { pollSeconds: 2.5 } }) })).toThrow(/controller.pollSeconds/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
