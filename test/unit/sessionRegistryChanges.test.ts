import { describe, expect, it } from 'vitest';
import { SessionRegistry } from '../../controller/agents/SessionRegistry.js';

const info = (hostId: string) => ({
  hostId,
  agentVersion: 't',
  generationHeld: 0n,
  observedDigest: '',
  peerAddress: '127.0.0.1',
  interfaces: [],
  heartbeatIntervalMs: 1_000,
  certificateSerial: '01',
  close: () => undefined,
});

/** The registry tells its listener what the desk's open pages must re-read: sessions opening, closing, reporting, going stale. */
describe('SessionRegistry changes', () => {
  it('tells of open, report, stale, recovery and close, not of heartbeats, and keeps the reported drift repairs', () => {
    let now = new Date('2026-11-02T09:00:00Z');
    const told: string[] = [];
    const reg = new SessionRegistry(() => now, 3, (h) => told.push(h));
    const token = reg.open(info('web-01'));
    expect(told).toEqual(['web-01']);
    reg.heartbeat('web-01', token, { generationHeld: 0n, observedDigest: '' });
    expect(told).toHaveLength(1);
    expect(reg.get('web-01')?.driftRepairs).toBeUndefined();
    reg.report('web-01', token, { generationHeld: 1n, observedDigest: 'd', driftRepairs: 4n });
    expect(reg.get('web-01')?.driftRepairs).toBe(4n);
    // A report that does not count repairs keeps the last count.
    reg.report('web-01', token, { generationHeld: 1n, observedDigest: 'd' });
    expect(reg.get('web-01')?.driftRepairs).toBe(4n);
    expect(told).toHaveLength(3);
    now = new Date(now.getTime() + 10_000);
    reg.sweep();
    expect(told).toHaveLength(4);
    reg.sweep();
    expect(told).toHaveLength(4);
    reg.heartbeat('web-01', token, { generationHeld: 1n, observedDigest: 'd' });
    reg.sweep();
    expect(told).toHaveLength(5);
    reg.closed('web-01', token, 'closed by the agent');
    expect(told).toEqual(['web-01', 'web-01', 'web-01', 'web-01', 'web-01', 'web-01']);
    // A superseded token changes nothing and tells nothing.
    reg.closed('web-01', token, 'again');
    expect(told).toHaveLength(6);
  });
});
