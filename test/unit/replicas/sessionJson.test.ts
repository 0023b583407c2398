import { describe, expect, it } from 'vitest';
import type { AgentSessionView } from '../../../controller/agents/SessionRegistry.js';
import { sessionFromJson, sessionToJson } from '../../../controller/replicas/sessionJson.js';

const view: AgentSessionView = {
  hostId: 'web-01',
  state: 'stale',
  agentVersion: '0.1.0',
  connectedSince: new Date('2026-12-01T10:00:00Z'),
  lastHeartbeat: new Date('2026-12-01T10:05:00Z'),
  disconnectedAt: undefined,
  disconnectReason: '',
  generationHeld: 2n ** 60n,
  observedDigest: 'abc',
  peerAddress: '10.255.0.11:51234',
  interfaces: [{ name: 'eth0', role: 1, addresses: ['203.0.113.11/32'], linkUp: true }],
  heartbeatIntervalMs: 15_000,
  lastRttMs: 3,
  certificateSerial: '0a1b',
  driftRepairs: 7n,
};

describe('an agent session as another replica stores it', () => {
  it('comes back as it was, bigints and times included', () => {
    expect(sessionFromJson('web-01', sessionToJson(view))).toEqual(view);
    const ended = { ...view, state: 'disconnected' as const, disconnectedAt: new Date('2026-12-01T11:00:00Z'), disconnectReason: 'closed by the agent', lastRttMs: undefined, driftRepairs: undefined };
    expect(sessionFromJson('web-01', sessionToJson(ended))).toEqual(ended);
  });

  it.each([
    ['not JSON', '{'],
    ['no state', JSON.stringify({ connectedSince: 0, lastHeartbeat: 0, generationHeld: '1' })],
    ['an unknown state', JSON.stringify({ state: 'happy', connectedSince: 0, lastHeartbeat: 0, generationHeld: '1' })],
    ['a generation that is not a whole number', JSON.stringify({ state: 'connected', connectedSince: 0, lastHeartbeat: 0, generationHeld: '1e3' })],
    ['times that are not numbers', JSON.stringify({ state: 'connected', connectedSince: 'now', lastHeartbeat: 0, generationHeld: '1' })],
  ])('reads %s as nothing rather than a made-up session', (_what, text) => {
    expect(sessionFromJson('web-01', text)).toBeUndefined();
  });
});
