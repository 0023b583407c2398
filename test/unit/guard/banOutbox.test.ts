import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BanOutbox, EventPace, MAX_PENDING_BAN_EVENTS, queueBanEvent, type PendingBans } from '../../../agent/guard/BanOutbox.js';
import type { Guard } from '../../../agent/guard/Guard.js';
import { GuardStateFile, type Ban } from '../../../agent/guard/GuardStateFile.js';
import { fakeGuardHost, policy, T0 } from '../../helpers/fakeGuardHost.js';
import { recordingLog } from '../../helpers/recordingLog.js';

describe('ban events while no controller takes them (the outbox)', () => {
  let dir: string;
  const guards: Guard[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-outbox-'));
  });
  afterEach(async () => {
    for (const g of guards.splice(0)) await g.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers an expiry, a removal, and a ban placed and run out, in order after the next Hello, each saying when it happened', async () => {
    const h = fakeGuardHost(dir);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(policy());
    h.kernel.add('198.51.100.1').add('198.51.100.2');
    await g.tick();
    expect(h.seen()).toEqual(['banned 198.51.100.1', 'banned 198.51.100.2']);
    const [a, b] = g.bans();

    h.link.up = false;
    h.advance(600_000);
    h.kernel.delete('198.51.100.1');
    await g.tick();
    h.advance(1_000);
    // A lift that reached the agent just before its stream went down.
    await g.setPolicy(policy({ liftedBanIds: [b!.id] }));
    h.advance(1_000);
    h.kernel.add('198.51.100.3');
    await g.tick();
    const c = g.bans()[0]!;
    h.advance(600_000);
    h.kernel.delete('198.51.100.3');
    await g.tick();
    h.kernel.add('198.51.100.4');
    await g.tick();
    expect(g.pending().map((e) => e.change)).toEqual(['expired', 'removed', 'banned', 'expired', 'banned']);
    expect(h.sent).toHaveLength(2);

    h.link.up = true;
    h.advance(60_000);
    await g.setPolicy(policy({ liftedBanIds: [b!.id] }));
    // The ban still in force waited in the outbox: the resend after the Hello does not queue it a second time.
    expect(h.seen().slice(2)).toEqual(['expired 198.51.100.1', 'removed 198.51.100.2', 'banned 198.51.100.3', 'expired 198.51.100.3', 'banned 198.51.100.4']);
    const at = h.sent.slice(2).map((e) => e.changedAt!.getTime());
    expect(at).toEqual([a!.expiresAtMs, T0 + 601_000, c.bannedAtMs, c.expiresAtMs, T0 + 1_202_000]);
    expect(g.pending()).toEqual([]);
    // Delivered: the next Hello sends nothing again.
    await g.setPolicy(policy());
    expect(h.sent).toHaveLength(7);
  });

  it('keeps what it could not send across a restart, and queues the end of a ban that ran out while the agent was stopped', async () => {
    const h = fakeGuardHost(dir);
    const first = h.make();
    guards.push(first);
    h.link.up = false;
    await first.setPolicy(policy());
    h.kernel.add('198.51.100.5').add('198.51.100.6');
    await first.tick();
    await first.stop();
    const saved = JSON.parse(readFileSync(join(dir, 'guard.json'), 'utf8')) as { version: number; pending: { events: { change: string }[] } };
    expect(saved.version).toBe(1);
    expect(saved.pending.events.map((e) => e.change)).toEqual(['banned', 'banned']);

    // Stopped past the bans' end; the reboot emptied the kernel's set.
    h.kernel.clear();
    h.advance(700_000);
    const second = h.make();
    guards.push(second);
    expect(await second.restore()).toBe(0);
    h.link.up = true;
    await second.setPolicy(policy());
    expect(h.seen()).toEqual(['banned 198.51.100.5', 'banned 198.51.100.6', 'expired 198.51.100.5', 'expired 198.51.100.6']);
    expect(h.sent[2]!.changedAt!.getTime()).toBe(T0 + 600_000);
  });

  it('a policy turned off while no controller listens still reports the removals, at a later tick', async () => {
    const h = fakeGuardHost(dir);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(policy());
    h.kernel.add('198.51.100.7');
    await g.tick();
    h.link.up = false;
    await g.setPolicy(policy({ enabled: false }));
    expect(g.pending().map((e) => e.change)).toEqual(['removed']);
    h.link.up = true;
    // No policy any more, and no Hello needed: the tick still runs while something waits.
    await g.tick();
    expect(h.seen()).toEqual(['banned 198.51.100.7', 'removed 198.51.100.7']);
  });

  it('sends no faster than the controller records: the rest waits for a later tick', async () => {
    const h = fakeGuardHost(dir);
    const g = h.make();
    guards.push(g);
    await g.setPolicy(policy({ maxEventsPerMinute: 10 }));
    for (let i = 1; i <= 12; i++) h.kernel.add(`198.51.100.${i}`);
    await g.tick();
    // 90 % of 10 in any minute.
    expect(h.sent).toHaveLength(9);
    expect(g.pending()).toHaveLength(3);
    h.advance(30_000);
    await g.tick();
    expect(h.sent).toHaveLength(9);
    h.advance(31_000);
    await g.tick();
    expect(h.sent).toHaveLength(12);
    expect(new Set(h.sent.map((e) => e.banId)).size).toBe(12);
  });
});

describe('the outbox bound and the pace', () => {
  const ban = (i: number): Ban => ({ id: `${T0}-198.51.100.${i}`, address: `198.51.100.${i}`, family: 4, services: ['ssh'], bannedAtMs: T0, expiresAtMs: T0 + 600_000, offence: 1, seconds: 600 });

  it('drops the oldest past the bound, counts them, and logs the count once when delivery resumes', async () => {
    expect(MAX_PENDING_BAN_EVENTS).toBe(1_000);
    const pending: PendingBans = { events: [], dropped: 0, nextSeq: 1 };
    for (let i = 1; i <= 5; i++) queueBanEvent(pending, { change: 'banned', ban: ban(i), changedAtMs: T0 }, 3);
    expect(pending.events.map((e) => e.ban.address)).toEqual(['198.51.100.3', '198.51.100.4', '198.51.100.5']);
    expect(pending.dropped).toBe(2);

    const { log, lines } = recordingLog();
    let up = false;
    const sent: string[] = [];
    const outbox = new BanOutbox(async (e) => (up ? (sent.push(e.address), true) : false), log);
    const onSent = () => undefined;
    expect(await outbox.flush(pending, () => T0, onSent)).toBe(0);
    up = true;
    expect(await outbox.flush(pending, () => T0, onSent)).toBe(3);
    expect(sent).toEqual(['198.51.100.3', '198.51.100.4', '198.51.100.5']);
    expect(lines.filter((l) => l.msg.startsWith('ban events dropped')).map((l) => [l.dropped, l.limit])).toEqual([[2, 1_000]]);
    expect(pending.dropped).toBe(0);
  });

  it('a pace allows 90 % of the per-minute budget in any 60 s, and keeps the budget it knew when a policy says none', () => {
    const pace = new EventPace(20);
    for (let i = 0; i < 18; i++) {
      expect(pace.allows(T0 + i)).toBe(true);
      pace.count(T0 + i);
    }
    expect(pace.allows(T0 + 59_000)).toBe(false);
    // An older controller's policy says nothing: the budget told before stays.
    pace.tell(undefined);
    pace.tell(0);
    expect(pace.allows(T0 + 59_000)).toBe(false);
    expect(pace.allows(T0 + 60_000)).toBe(true);
    // However small the budget, one event a minute goes.
    expect(new EventPace(1).allows(T0)).toBe(true);
  });
});

describe('the guard state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cordon-guardfile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (body: unknown) => writeFileSync(join(dir, 'guard.json'), JSON.stringify(body));

  it('reads a file from before the outbox as nothing pending, and a corrupt pending event as a corrupt file', () => {
    write({ version: 1, policy: null, bans: [], offences: {} });
    expect(new GuardStateFile(dir).load().pending).toEqual({ events: [], dropped: 0, nextSeq: 1 });
    write({ version: 1, policy: null, bans: [], offences: {}, pending: { events: [{ change: 'lifted', changedAtMs: T0, ban: {} }], dropped: 0 } });
    expect(() => new GuardStateFile(dir).load()).toThrow(/corrupt: pending.events\[0\] is not a ban event/);
    write({ version: 1, policy: null, bans: [], offences: {}, pending: { events: [{ change: 'expired', changedAtMs: T0, ban: { id: 'x' } }] } });
    expect(() => new GuardStateFile(dir).load()).toThrow(/pending.events\[0\].ban is not a ban/);
    write({ version: 1, policy: null, bans: [], offences: {}, pending: { events: 'many' } });
    expect(() => new GuardStateFile(dir).load()).toThrow(expect.objectContaining({ kind: 'invalid' }));
  });
});
