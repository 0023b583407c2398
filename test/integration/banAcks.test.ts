import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BanEvent, ControllerMessage } from '../../proto/gen/cordon/v1/agent.js';
import { ManualClock } from '../../controller/clock.js';
import { DeskWebLab } from '../helpers/deskWebLab.js';
import { testManagedSecurity } from '../helpers/managedSecurity.js';
import { connectRawAgent, type RawAgent } from '../helpers/rawAgent.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * Ban events acknowledged over the real agent stream: the policy says the
 * controller acknowledges; each settled event is answered by its seq; a
 * repeat on a new stream (what an agent whose stream broke sends) is
 * answered and recorded once; over the host's budget nothing is answered,
 * later events of the stream wait, and the agent's next pass is recorded in
 * order, the expiry after its ban.
 */
describe('ban event acknowledgements on the agent stream', () => {
  let lab: DeskWebLab;
  // Bans are on the wall clock (the host's real time): a manual one here, so the budget's minutes are the test's.
  const wall = new ManualClock(new Date('2026-12-07T10:00:05Z'));
  beforeAll(async () => {
    lab = await DeskWebLab.start({ settings: () => ({ wallClock: wall, managedSecurity: testManagedSecurity({ hosts: ['web-01'], maxEventsPerMinute: 4 }) }) });
  });
  afterAll(async () => lab?.stop());

  const now = () => wall.now().getTime();
  const event = (seq: number, address: string, change = 'banned'): BanEvent => ({
    banId: `${now()}-${address}`,
    address,
    change,
    services: ['ssh'],
    bannedAt: new Date(now()),
    expiresAt: new Date(now() + 600_000),
    offence: 1,
    seconds: 600,
    changedAt: new Date(now()),
    seq: BigInt(seq),
  });
  const acks = (agent: RawAgent) => agent.received.flatMap((m: ControllerMessage) => (m.body?.$case === 'banAck' ? m.body.value.seqs : []));
  const guard = async () => (await lab.controller.store.audit.list({ subject: 'web-01' })).filter((e) => e.action.startsWith('guard.')).map((e) => `${e.action} ${(e.detail as { address: string }).address}`);
  const connect = () => connectRawAgent(lab.pki.material('agent-web-01'), lab.controller.server.port, 'web-01');

  it('answers each event by its seq, and a repeat on a new stream is answered and recorded once', async () => {
    const first = await connect();
    try {
      await waitFor('the policy', () => first.received.some((m) => m.body?.$case === 'managedSecurity'));
      const policy = first.received.find((m) => m.body?.$case === 'managedSecurity')!.body!;
      expect(policy.$case === 'managedSecurity' && policy.value.acknowledgesBanEvents).toBe(true);
      await first.send({ body: { $case: 'ban', value: event(1, '198.51.100.1') } });
      await waitFor('the ack', () => acks(first).includes(1n));
    } finally {
      first.close();
    }
    // The agent's stream broke before it saw the ack: it sends the event again on the next one.
    const second = await connect();
    try {
      await second.send({ body: { $case: 'ban', value: event(1, '198.51.100.1') } });
      await waitFor('the ack on the new stream', () => acks(second).includes(1n));
    } finally {
      second.close();
    }
    expect(await guard()).toEqual(['guard.banned 198.51.100.1']);
  });

  it('over the budget answers nothing more on the stream until the agent goes back; then records in order', async () => {
    const agent = await connect();
    try {
      // The budget is 4 a minute, counted from a new minute.
      wall.advance(60_000);
      const pass = [
        event(10, '198.51.100.10'),
        event(11, '198.51.100.11'),
        event(12, '198.51.100.12'),
        event(13, '198.51.100.13'),
        event(14, '198.51.100.13', 'expired'),
        event(15, '198.51.100.15'),
      ];
      for (const e of pass) await agent.send({ body: { $case: 'ban', value: e } });
      await waitFor('the answers within the budget', () => acks(agent).length >= 4);
      await new Promise((r) => setTimeout(r, 300));
      expect(acks(agent)).toEqual([10n, 11n, 12n, 13n]);
      // The expiry came over the budget: had it been answered, or the ban after it recorded, an end could overtake its ban.
      expect((await guard()).filter((l) => l.includes('.15') || l.startsWith('guard.expired'))).toEqual([]);

      // The next minute's budget, and the agent's next pass from its oldest unacknowledged event.
      wall.advance(60_000);
      for (const e of pass.slice(4)) await agent.send({ body: { $case: 'ban', value: e } });
      await waitFor('every event answered', () => acks(agent).includes(15n));
      const after = await guard();
      expect(after.slice(after.indexOf('guard.banned 198.51.100.13'))).toEqual(['guard.banned 198.51.100.13', 'guard.expired 198.51.100.13', 'guard.banned 198.51.100.15']);
      expect(acks(agent)).toEqual([10n, 11n, 12n, 13n, 14n, 15n]);
    } finally {
      agent.close();
    }
  });
});
