import { describe, expect, it } from 'vitest';
import { SessionRegistry, type OpenSession } from '../../controller/agents/SessionRegistry.js';
import type { CordonError } from '../../proto/runtime/CordonError.js';

function open(reg: SessionRegistry, hostId: string, closes: CordonError[] = []): number {
  const info: OpenSession = {
    hostId,
    agentVersion: '1',
    generationHeld: 0n,
    observedDigest: '',
    peerAddress: 'p',
    interfaces: [],
    heartbeatIntervalMs: 10_000,
    certificateSerial: 's',
    close: (why) => closes.push(why),
  };
  return reg.open(info);
}

describe('SessionRegistry', () => {
  it('counts open sessions as they open, are superseded and close (for the admission pacing told in pings)', () => {
    const reg = new SessionRegistry(() => new Date('2026-01-01T00:00:00Z'), 3);
    const a = open(reg, 'web-01');
    open(reg, 'web-02');
    expect(reg.openCount()).toBe(2);
    // A second stream from web-01 supersedes the first: still one session for it.
    const a2 = open(reg, 'web-01');
    expect(reg.openCount()).toBe(2);
    // The superseded stream's end changes nothing; the current one's does.
    reg.closed('web-01', a, 'superseded');
    expect(reg.openCount()).toBe(2);
    reg.closed('web-01', a2, 'closed by the agent');
    reg.closed('web-01', a2, 'closed twice');
    expect(reg.openCount()).toBe(1);
  });

  it('marks an agent stale after N missed heartbeats, and fresh again on the next one', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const reg = new SessionRegistry(() => now, 3);
    const t = open(reg, 'web-01');
    now = new Date(now.getTime() + 30_000);
    expect(reg.get('web-01')!.state).toBe('connected');
    now = new Date(now.getTime() + 1);
    expect(reg.get('web-01')!.state).toBe('stale');
    reg.heartbeat('web-01', t, { generationHeld: 4n, observedDigest: 'd' });
    expect(reg.get('web-01')).toMatchObject({ state: 'connected', generationHeld: 4n });
  });

  it('counts a restricted host in its restricted interval, and an idle one in its own', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const reg = new SessionRegistry(() => now, 3);
    const t = reg.open({ hostId: 'web-01', agentVersion: '1', generationHeld: 0n, observedDigest: '', peerAddress: 'p', interfaces: [], heartbeatIntervalMs: 60_000, restrictedHeartbeatIntervalMs: 10_000, certificateSerial: 's', close: () => {} });
    now = new Date(now.getTime() + 120_000);
    expect(reg.get('web-01')).toMatchObject({ state: 'connected', heartbeatIntervalMs: 60_000 });
    reg.restricted('web-01', t, true);
    expect(reg.get('web-01')).toMatchObject({ state: 'stale', heartbeatIntervalMs: 10_000 });
    reg.heartbeat('web-01', t, { generationHeld: 1n, observedDigest: 'd' });
    now = new Date(now.getTime() + 30_001);
    expect(reg.get('web-01')!.state).toBe('stale');
    reg.restricted('web-01', t, false);
    expect(reg.get('web-01')!.state).toBe('connected');
    // A superseded stream's word changes nothing.
    reg.restricted('web-01', t + 1000, true);
    expect(reg.get('web-01')!.heartbeatIntervalMs).toBe(60_000);
  });

  it('reports each transition to stale and back once', () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const reg = new SessionRegistry(() => now, 3);
    const t = open(reg, 'web-01');
    open(reg, 'web-02');
    expect(reg.sweep()).toEqual({ stale: [], recovered: [] });
    now = new Date(now.getTime() + 31_000);
    expect(reg.sweep()).toEqual({ stale: ['web-01', 'web-02'], recovered: [] });
    expect(reg.sweep()).toEqual({ stale: [], recovered: [] });
    reg.heartbeat('web-01', t, { generationHeld: 0n, observedDigest: '' });
    expect(reg.sweep()).toEqual({ stale: [], recovered: ['web-01'] });
  });

  it('lets a newer stream supersede the older and ignores the old one afterwards', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const reg = new SessionRegistry(() => now, 3);
    const closes: CordonError[] = [];
    const old = open(reg, 'web-01', closes);
    const fresh = open(reg, 'web-01');
    expect(closes).toHaveLength(1);
    expect(closes[0]!.kind).toBe('conflict');
    reg.closed('web-01', old, 'superseded');
    expect(reg.get('web-01')!.state).toBe('connected');
    reg.closed('web-01', fresh, 'closed by the agent');
    expect(reg.get('web-01')).toMatchObject({ state: 'disconnected', disconnectReason: 'closed by the agent' });
  });

  it('closes every open session at shutdown as transient', () => {
    const reg = new SessionRegistry(() => new Date(), 3);
    const closes: CordonError[] = [];
    open(reg, 'a', closes);
    open(reg, 'b', closes);
    reg.closeAll('bye');
    expect(closes.map((c) => c.kind)).toEqual(['transient', 'transient']);
  });
});
