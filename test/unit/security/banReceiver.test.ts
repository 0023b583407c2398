import { describe, expect, it } from 'vitest';
import type { BanEvent } from '../../../proto/gen/cordon/v1/agent.js';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { BanReceiver, MAX_QUEUED_BAN_EVENTS } from '../../../controller/security/BanReceiver.js';
import type { BanOutcome } from '../../../controller/security/ManagedSecurityPolicies.js';
import { recordingLog } from '../../helpers/recordingLog.js';

const T0 = Date.parse('2026-12-07T10:00:00Z');
const event = (seq: number, change = 'banned', address = `198.51.100.${seq}`): BanEvent => ({
  banId: `${T0}-${address}`,
  address,
  change,
  services: ['ssh'],
  bannedAt: new Date(T0),
  expiresAt: new Date(T0 + 600_000),
  offence: 1,
  seconds: 600,
  seq: BigInt(seq),
});

/**
 * A ledger that knows bans as the real one does (an end of an unknown ban
 * is "known": nothing to record), with a budget the test opens and shuts,
 * and a store the test can break.
 */
function receiver() {
  const bans = new Map<string, string>();
  const recorded: string[] = [];
  const acks: bigint[] = [];
  const state = { budget: true, storeUp: true };
  const { log, lines } = recordingLog();
  const record = async (e: BanEvent): Promise<BanOutcome> => {
    await new Promise((r) => setImmediate(r));
    if (e.change === 'lifted') throw new CordonError('invalid', 'ban event: change must be banned, expired or removed', { field: 'change' });
    if (!state.storeUp) throw new CordonError('transient', 'database is locked');
    if (!state.budget) return 'over_budget';
    const known = bans.get(e.banId);
    if (e.change === 'banned' ? known !== undefined : known !== 'banned') return 'known';
    bans.set(e.banId, e.change);
    recorded.push(`${e.change} ${e.address}`);
    return 'recorded';
  };
  const r = new BanReceiver(record, (seq) => acks.push(seq), log);
  return { r, recorded, acks, state, lines, send: (...events: BanEvent[]) => events.forEach((e) => r.take(e)) };
}

describe('the controller receiving one stream of ban events (go-back-N)', () => {
  it('records in order and acknowledges every settled event: recorded, known already, or malformed', async () => {
    const x = receiver();
    x.send(event(1), event(2), event(1), { ...event(3), change: 'lifted' }, event(4, 'expired', '198.51.100.1'));
    await x.r.idle();
    expect(x.recorded).toEqual(['banned 198.51.100.1', 'banned 198.51.100.2', 'expired 198.51.100.1']);
    expect(x.acks).toEqual([1n, 2n, 1n, 3n, 4n]);
    expect(x.lines.some((l) => l.msg === 'ban event refused' && l.seq === '3')).toBe(true);
  });

  it('over the budget: nothing after it is taken until the agent goes back, so an end never overtakes its ban', async () => {
    const x = receiver();
    x.state.budget = false;
    x.send(event(1));
    await x.r.idle();
    x.state.budget = true;
    // The rest of the agent's first pass: the expiry of the ban not recorded must not be settled as "unknown".
    x.send(event(2, 'expired', '198.51.100.1'), event(3));
    await x.r.idle();
    expect(x.recorded).toEqual([]);
    expect(x.acks).toEqual([]);
    // The agent goes back to its oldest unacknowledged event and sends from there.
    x.send(event(1), event(2, 'expired', '198.51.100.1'), event(3));
    await x.r.idle();
    expect(x.recorded).toEqual(['banned 198.51.100.1', 'expired 198.51.100.1', 'banned 198.51.100.3']);
    expect(x.acks).toEqual([1n, 2n, 3n]);
  });

  it('a store failing for now is the same: not acknowledged, taken again from the agent\'s next pass', async () => {
    const x = receiver();
    x.send(event(1));
    await x.r.idle();
    x.state.storeUp = false;
    x.send(event(2), event(3));
    await x.r.idle();
    x.state.storeUp = true;
    x.send(event(4));
    await x.r.idle();
    expect(x.acks).toEqual([1n]);
    expect(x.lines.some((l) => l.msg.startsWith('ban event not recorded for now') && l.seq === '2')).toBe(true);
    x.send(event(2), event(3), event(4));
    await x.r.idle();
    expect(x.acks).toEqual([1n, 2n, 3n, 4n]);
    expect(x.recorded).toHaveLength(4);
  });

  it('an older agent (seq 0) is recorded as before and never acknowledged', async () => {
    const x = receiver();
    x.state.budget = false;
    x.send(event(0, 'banned', '198.51.100.9'));
    await x.r.idle();
    x.state.budget = true;
    x.send(event(0, 'banned', '198.51.100.10'));
    await x.r.idle();
    expect(x.recorded).toEqual(['banned 198.51.100.10']);
    expect(x.acks).toEqual([]);
  });

  it('holds at most MAX_QUEUED_BAN_EVENTS of a forged flood; what it did not take comes again in the next pass', async () => {
    const x = receiver();
    const n = MAX_QUEUED_BAN_EVENTS + 500;
    for (let i = 1; i <= n; i++) x.r.take(event(i, 'banned', `2001:db8::${i.toString(16)}`));
    await x.r.idle();
    expect(x.recorded).toHaveLength(MAX_QUEUED_BAN_EVENTS);
    expect(x.acks.at(-1)).toBe(BigInt(MAX_QUEUED_BAN_EVENTS));
    expect(x.lines.filter((l) => l.msg.startsWith('ban events arriving faster')).map((l) => l.from)).toEqual([String(MAX_QUEUED_BAN_EVENTS + 1)]);
    // Later events of the same pass are held; the agent's next pass starts at its oldest unacknowledged.
    x.send(event(n + 1, 'banned', '203.0.113.1'));
    await x.r.idle();
    expect(x.recorded).toHaveLength(MAX_QUEUED_BAN_EVENTS);
    for (let i = MAX_QUEUED_BAN_EVENTS + 1; i <= n + 1; i++) x.r.take(i === n + 1 ? event(i, 'banned', '203.0.113.1') : event(i, 'banned', `2001:db8::${i.toString(16)}`));
    await x.r.idle();
    expect(x.recorded).toHaveLength(n + 1);
    expect(new Set(x.acks).size).toBe(n + 1);
  });
});
