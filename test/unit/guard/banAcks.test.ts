import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACK_WAIT_MS } from '../../../agent/guard/BanOutbox.js';
import type { Guard } from '../../../agent/guard/Guard.js';
import { GuardStateFile } from '../../../agent/guard/GuardStateFile.js';
import { fakeGuardHost, policy, T0 } from '../../helpers/fakeGuardHost.js';
import { recordingLog } from '../../helpers/recordingLog.js';

/**
 * The agent's side of the ban events' acknowledgements: an event stays in
 * the outbox (and in guard.json) until the controller settles it, and the
 * agent goes back to its oldest unacknowledged event, sending everything
 * after it again in order, when it waits too long or a new stream starts.
 */
describe('ban events a controller acknowledges', () => {
  let dir: string;
  const guards: Guard[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-banacks-'));
  });
  afterEach(async () => {
    for (const g of guards.splice(0)) await g.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const acking = policy({ acknowledgesBanEvents: true });
  const saved = () => JSON.parse(readFileSync(join(dir, 'guard.json'), 'utf8')) as { pending: { events: { seq: number; change: string }[]; nextSeq: number }; controllerAcks: boolean };

  it('keeps each sent event until its ack, numbered in order, and the ack takes it out of the saved outbox', async () => {
    const h = fakeGuardHost(dir);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(acking);
    h.kernel.add('198.51.100.1').add('198.51.100.2');
    await g.tick();
    expect(h.sent.map((e) => [e.change, e.address, e.seq])).toEqual([
      ['banned', '198.51.100.1', 1n],
      ['banned', '198.51.100.2', 2n],
    ]);
    // Written to the stream is not recorded: both still wait, on disk too.
    expect(g.pending()).toHaveLength(2);
    expect(saved().pending.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(saved().controllerAcks).toBe(true);

    await g.acknowledge([2n]);
    expect(g.pending().map((e) => e.banId)).toEqual([g.bans()[0]!.id]);
    expect(saved().pending.events.map((e) => e.seq)).toEqual([1]);
    // An ack of something unknown (a repeat, another life's number) changes nothing.
    await g.acknowledge([2n, 99n]);
    expect(g.pending()).toHaveLength(1);
    await g.acknowledge([1n]);
    expect(g.pending()).toEqual([]);
    expect(saved().pending).toMatchObject({ events: [], nextSeq: 3 });
    // Nothing goes twice while acks come: the next tick sends nothing.
    await g.tick();
    expect(h.sent).toHaveLength(2);
  });

  it('goes back to the oldest unacknowledged event after ACK_WAIT_MS and sends everything after it again, in order', async () => {
    const { log, lines } = recordingLog();
    const h = fakeGuardHost(dir, log);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(acking);
    h.kernel.add('198.51.100.3').add('198.51.100.4');
    await g.tick();
    // The stream took both and broke before the controller read them: no ack ever comes.
    expect(h.seen()).toEqual(['banned 198.51.100.3', 'banned 198.51.100.4']);
    h.advance(ACK_WAIT_MS - 1);
    await g.tick();
    expect(h.sent).toHaveLength(2);
    h.advance(1);
    await g.tick();
    expect(h.sent.slice(2).map((e) => [e.address, e.seq])).toEqual([
      ['198.51.100.3', 1n],
      ['198.51.100.4', 2n],
    ]);
    expect(lines.some((l) => l.msg.startsWith('no acknowledgement of a ban event') && l.seq === 1)).toBe(true);
    // The first is acknowledged, the second's ack is lost: only the second goes again, with what came after it.
    await g.acknowledge([1n]);
    h.kernel.clear();
    h.advance(600_000);
    await g.tick();
    expect(h.seen().slice(4)).toEqual(['banned 198.51.100.4', 'expired 198.51.100.3', 'expired 198.51.100.4']);
    expect(h.sent.slice(4).map((e) => e.seq)).toEqual([2n, 3n, 4n]);
    await g.acknowledge([2n, 3n, 4n]);
    expect(g.pending()).toEqual([]);
  });

  it('a new stream (the policy after a Hello) sends what waits for an ack again at once', async () => {
    const h = fakeGuardHost(dir);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(acking);
    h.kernel.add('198.51.100.4');
    await g.tick();
    await g.setPolicy(acking);
    expect(h.seen()).toEqual(['banned 198.51.100.4', 'banned 198.51.100.4']);
    expect(h.sent.map((e) => e.seq)).toEqual([1n, 1n]);
  });

  it('after a restart sends every unacknowledged event again, numbers on from the saved count, and expects acks before any controller speaks', async () => {
    const h = fakeGuardHost(dir);
    const first = h.make();
    guards.push(first);
    await first.setPolicy(acking);
    h.kernel.add('198.51.100.5');
    await first.tick();
    await first.stop();

    const second = h.make();
    guards.push(second);
    await second.restore();
    expect(h.seen()).toEqual(['banned 198.51.100.5', 'banned 198.51.100.5']);
    // Still kept: the controller the agent knew acknowledges, so a send alone settles nothing.
    expect(second.pending()).toHaveLength(1);
    h.kernel.add('198.51.100.6');
    await second.tick();
    expect(h.sent.at(-1)).toMatchObject({ address: '198.51.100.6', seq: 2n });
  });

  it('an older controller (no acknowledgements) takes an event as done once written, as before', async () => {
    const h = fakeGuardHost(dir);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(acking);
    await g.setPolicy(policy());
    h.kernel.add('198.51.100.7');
    await g.tick();
    expect(g.pending()).toEqual([]);
    expect(saved().controllerAcks).toBe(false);
  });

  it('numbers the events of a file from before the acknowledgements after any numbered one', () => {
    const ban = (i: number) => ({ id: `${T0}-198.51.100.${i}`, address: `198.51.100.${i}`, family: 4, services: ['ssh'], bannedAtMs: T0, expiresAtMs: T0 + 600_000, offence: 1, seconds: 600 });
    writeFileSync(join(dir, 'guard.json'), JSON.stringify({ version: 1, policy: null, bans: [], offences: {}, pending: { events: [{ change: 'banned', changedAtMs: T0, ban: ban(1) }, { change: 'banned', changedAtMs: T0, ban: ban(2) }], dropped: 0 } }));
    const loaded = new GuardStateFile(dir).load();
    expect(loaded.pending.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(loaded.pending.nextSeq).toBe(3);
    expect(loaded.controllerAcks).toBe(false);
    writeFileSync(join(dir, 'guard.json'), JSON.stringify({ version: 1, policy: null, bans: [], offences: {}, pending: { events: [{ change: 'banned', changedAtMs: T0, ban: ban(1), seq: 0 }], dropped: 0 } }));
    expect(() => new GuardStateFile(dir).load()).toThrow(/pending.events\[0\].seq is not a positive integer/);
  });
});
