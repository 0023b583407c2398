import { describe, expect, it } from 'vitest';
import {
  bmcAlertReason,
  compareQueue,
  enforcementReason,
  QUEUE_ORDER,
  QUEUE_REASONS,
  queueReason,
  reportReason,
  switchReason,
  type HostDispatchFacts,
  type QueueWhy,
} from '../../../controller/desk/queueReasons.js';
import { at, incident } from '../store/storeFixtures.js';

/** The queue's rules, one reason at a time, and the order they make together. */
describe('the queue: why each thing waits for a person', () => {
  it('has one row per reason, each with its meaning, in the order the desk works them', () => {
    expect(QUEUE_ORDER).toEqual([
      'appealed',
      'release_requested',
      'releasing',
      'switch_failed',
      'enforcement_failed',
      'agent_unreachable',
      'bmc_alert',
      'customer_resolved',
      'disputed',
      'held',
      'unseen_messages',
      'notice_bounced',
      'needs_info',
      'held_report',
    ]);
    expect(new Set(QUEUE_ORDER).size).toBe(QUEUE_ORDER.length);
    for (const r of QUEUE_REASONS) expect(r.means.length).toBeGreaterThan(20);
  });

  describe('incidents', () => {
    const enforced = { actions: [{ kind: 'smtp_block' as const, ports: [25] }], escalatedAt: at(24) };
    it.each([
      ['appealed', { state: 'appealed', answeredAt: at(30), ...enforced }, at(30), /contests the restriction \(smtp_block 25\)/],
      ['release_requested', { state: 'release_requested', answeredAt: at(31), ...enforced }, at(31), /says fixed while restricted \(smtp_block 25\)/],
      ['releasing', { state: 'releasing', answeredAt: at(31), ...enforced }, at(31), /released \(smtp_block 25\), the lift not confirmed yet.*--agent-gone/],
      ['customer_resolved', { state: 'customer_resolved', answeredAt: at(2) }, at(2), /says fixed: verify/],
      ['disputed', { state: 'disputed', answeredAt: at(3) }, at(3), /false positive/],
      ['held', { state: 'escalated', hold: 'approval', escalatedAt: at(24), pendingAction: { kind: 'isolate' } }, at(24), /^escalated, held: approval, isolate pending$/],
      ['notice_bounced', { state: 'notified', noticeUndeliveredAt: at(1) }, at(1), /the notice bounced/],
    ] as const)('%s: since its own moment, with the reason in words', (why, over, since, reason) => {
      expect(queueReason(incident(over as never), {})).toEqual({ why, since, reason: expect.stringMatching(reason) });
    });

    it('a releasing incident waits since the operator released it, when known', () => {
      expect(queueReason(incident({ state: 'releasing', answeredAt: at(31) } as never), { releasedAt: at(32) })?.since).toEqual(at(32));
    });

    it('a failing switch waits since its first failure and says what it cannot do', () => {
      const failure = { kind: 'permission', error: 'presented host key SHA256:x, but SHA256:y is pinned', since: at(5) };
      expect(switchReason({ switchId: 'sw1', port: 'swp1', portDown: false, failure })).toEqual({ why: 'switch_failed', since: at(5), reason: expect.stringMatching(/sw1 port swp1: permission: .*pinned; a cut that falls back to the switch cannot be made/) });
      expect(switchReason({ switchId: 'sw1', port: 'swp1', portDown: true, failure })?.reason).toMatch(/holds the port shut but cannot confirm or reopen it/);
      expect(switchReason({ switchId: 'sw1', port: 'swp1', portDown: true, failure: undefined })).toBeUndefined();
    });

    it('a held incident waits since its hold was set, then since it escalated', () => {
      const held = incident({ state: 'escalated', hold: 'untrusted_reporter', escalatedAt: at(24) });
      expect(queueReason(held, { heldAt: at(26) })?.since).toEqual(at(26));
      expect(queueReason(held, {})?.since).toEqual(at(24));
      expect(queueReason({ ...held, escalatedAt: undefined }, {})?.since).toEqual(held.openedAt);
    });

    it('unseen messages wait since the oldest, even on a closed incident; a closed or released one is never held or bounced', () => {
      const unseen = { count: 2, oldest: at(5) };
      expect(queueReason(incident({ state: 'closed' }), { unseen })).toEqual({ why: 'unseen_messages', since: at(5), reason: '2 messages from the customer no operator has seen (incident seen)' });
      expect(queueReason(incident({ state: 'released', hold: 'rate_limit', noticeUndeliveredAt: at(1) }), {})).toBeUndefined();
      expect(queueReason(incident({ state: 'notified' }), { unseen: { count: 0, oldest: at(1) } })).toBeUndefined();
    });

    it('takes the first reason that applies: an answer before a hold, a hold before messages, messages before a bounce', () => {
      const everything = { hold: 'rate_limit' as const, noticeUndeliveredAt: at(1), answeredAt: at(9) };
      const unseen = { count: 1, oldest: at(2) };
      expect(queueReason(incident({ state: 'disputed', ...everything }), { unseen })?.why).toBe('disputed');
      expect(queueReason(incident({ state: 'escalated', ...everything }), { unseen })?.why).toBe('held');
      expect(queueReason(incident({ state: 'notified', noticeUndeliveredAt: at(1) }), { unseen })?.why).toBe('unseen_messages');
    });
  });

  describe('hosts: enforcement as the host page reads its dispatch status', () => {
    const base: HostDispatchFacts = { generation: 3, issuedAt: at(10), status: undefined, connected: false, inForce: ['smtp_block'] };
    const status = (s: string, g: number | undefined, reportedAt = at(11), error?: string) => ({ status: s, appliedGeneration: g, error, reportedAt });

    it('waits for nobody while nothing was ever desired, or the current generation is applied', () => {
      expect(enforcementReason({ ...base, generation: 0, issuedAt: at(0), inForce: [] })).toBeUndefined();
      expect(enforcementReason({ ...base, status: status('applied', 3) })).toBeUndefined();
      expect(enforcementReason({ ...base, status: status('applied', 3), connected: true })).toBeUndefined();
    });

    it('a disconnected agent: the restriction, or the release, has not reached the host', () => {
      expect(enforcementReason(base)).toEqual({
        why: 'agent_unreachable',
        since: at(10),
        reason: 'smtp_block (generation 3) has not reached the host: its agent is not connected (nothing reported); the restriction is not in place',
      });
      const release = enforcementReason({ ...base, inForce: [], status: status('applied', 2) });
      expect(release).toMatchObject({ why: 'agent_unreachable', reason: expect.stringMatching(/^the release \(generation 3: nothing in force\) has not reached the host: .*\(generation 2\); whatever the agent last applied is still in force$/) });
      // Never reported and nothing in force: nothing reached the host, nothing to lift.
      expect(enforcementReason({ ...base, inForce: [] })).toBeUndefined();
    });

    it('a connected agent that reported an error since the generation was issued: failed; before it, or pending: on its way', () => {
      const failed = enforcementReason({ ...base, connected: true, status: status('failed', 2, at(12), 'nft: Could not process rule') });
      expect(failed).toEqual({ why: 'enforcement_failed', since: at(10), reason: expect.stringMatching(/^the agent could not apply smtp_block \(generation 3\): nft: Could not process rule \(reported 2026-/) });
      expect(enforcementReason({ ...base, connected: true, status: status('failed', 2, at(9), 'old') })).toBeUndefined();
      expect(enforcementReason({ ...base, connected: true, status: status('pending', 2) })).toBeUndefined();
      expect(enforcementReason({ ...base, connected: true })).toBeUndefined();
    });

    it('a cut whose BMC stopped answering waits since the first failed check; an answer or no cut ends it', () => {
      const down = { cuts: ['isolate'], latest: { reachable: false, at: at(20), error: 'timeout <b>' }, downSince: at(18) };
      expect(bmcAlertReason(down)).toEqual({ why: 'bmc_alert', since: at(18), reason: expect.stringContaining('isolate in force and the BMC does not answer (latest check 2026-03-02T08:00:00.000Z: timeout <b>)') });
      expect(bmcAlertReason({ ...down, downSince: undefined })?.since).toEqual(at(20));
      expect(bmcAlertReason({ ...down, latest: { ...down.latest, reachable: true } })).toBeUndefined();
      expect(bmcAlertReason({ ...down, cuts: [] })).toBeUndefined();
    });
  });

  describe('reports no incident took', () => {
    it('needs_info and held wait since received; a held one says where admitting it goes', () => {
      expect(reportReason({ status: 'needs_info', receivedAt: at(1), reason: 'no known report format' })).toEqual({ why: 'needs_info', since: at(1), reason: expect.stringMatching(/^no known report format: /) });
      expect(reportReason({ status: 'held', receivedAt: at(2), reason: 'its event precedes', wouldJoin: 'inc-9' })?.reason).toMatch(/adds it to open incident inc-9$/);
      expect(reportReason({ status: 'held', receivedAt: at(2), reason: undefined })?.reason).toMatch(/^held for an operator; .*opens a new incident$/);
      for (const status of ['linked', 'rejected', 'duplicate']) expect(reportReason({ status, receivedAt: at(1), reason: 'x' })).toBeUndefined();
    });
  });

  describe('the order', () => {
    it('sorts every kind by the table, then the longest waiting, then by id as SQLite compares (bytes)', () => {
      const entries = [...QUEUE_ORDER].reverse().flatMap((why: QueueWhy, n) => [
        { why, since: at(n), id: `${why}-b` },
        { why, since: at(n), id: `${why}-B` },
        { why, since: at(n - 1), id: `${why}-z` },
      ]);
      const sorted = [...entries].sort(compareQueue);
      expect(sorted.map((e) => e.why)).toEqual(QUEUE_ORDER.flatMap((w) => [w, w, w]));
      // Within a reason: the earlier since first, then "B" (0x42) before "b" (0x62), as ORDER BY id does.
      expect(sorted.slice(0, 3).map((e) => e.id)).toEqual(['appealed-z', 'appealed-B', 'appealed-b']);
    });
  });
});
