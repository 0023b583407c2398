import { describe, expect, it } from 'vitest';
import { nextDueAt, transition } from '../../../controller/incidents/lifecycle.js';
import type { Incident } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { HOUR, PATHS, at, ctxAt, sig } from './fixtures.js';

/**
 * The customer's voice in the pure lifecycle: a notice that never arrived
 * stops the customer's clock (silence is not theirs), any answer or a
 * delivered notice starts it again, and an appeal against a restriction in
 * force keeps the restriction while the ladder waits for an operator.
 */
const policy = DEFAULT_POLICY;
const step = (i: Incident, event: Parameters<typeof transition>[1], now: Date) => transition(i, event, ctxAt(now));
const bounce = { type: 'notice_bounced', reason: '550 5.1.1 user unknown' } as const;

describe('a bounced notice pauses the customer deadlines', () => {
  for (const state of ['notified', 'acknowledged', 'plan_accepted'] as const) {
    it(`in ${state}: no deadline runs, an operator is alerted, and the old deadline fires nothing`, () => {
      const { incident, now } = PATHS[state]();
      const due = nextDueAt(incident, policy);
      expect(due).toBeInstanceOf(Date);
      const t = step(incident, bounce, new Date(now.getTime() + HOUR));
      expect(t.incident.noticeUndeliveredAt).toEqual(new Date(now.getTime() + HOUR));
      expect(t.incident.state).toBe(state);
      expect(nextDueAt(t.incident, policy)).toBeUndefined();
      expect(t.effects.map(sig)).toEqual(['alert']);
      expect(t.effects[0]).toMatchObject({ reason: expect.stringContaining('550 5.1.1 user unknown') });
      // The deadline the scheduler had armed before the bounce comes late and finds nothing to do.
      const late = step(t.incident, { type: 'deadline', dueAt: due! }, new Date(due!.getTime() + 1000));
      expect(late.changed).toBe(false);
      expect(late.incident.state).toBe(state);
      expect(late.incident.overdue).toBe(false);
    });
  }

  it('a second bounce while undelivered changes nothing (one alert, the first time kept)', () => {
    const { incident, now } = PATHS.notified();
    const first = step(incident, bounce, at(2 * HOUR));
    const again = step(first.incident, bounce, at(5 * HOUR));
    expect(again.changed).toBe(false);
    expect(again.incident.noticeUndeliveredAt).toEqual(at(2 * HOUR));
    expect(now.getTime()).toBeLessThan(at(2 * HOUR).getTime());
  });

  it('an enforced incident keeps its ladder clock: the restriction is no deadline of the customer', () => {
    const { incident } = PATHS.enforced();
    const before = nextDueAt(incident, policy);
    expect(before).toBeInstanceOf(Date);
    const t = step(incident, bounce, at(26 * HOUR));
    expect(t.incident.noticeUndeliveredAt).toEqual(at(26 * HOUR));
    expect(nextDueAt(t.incident, policy)).toEqual(before);
  });
});

describe('the pause ends when the customer is heard from or told', () => {
  it('an acknowledgement clears it and the original resolve deadline runs again', () => {
    const { incident } = PATHS.notified();
    const bounced = step(incident, bounce, at(2 * HOUR)).incident;
    const acked = step(bounced, { type: 'customer_ack' }, at(3 * HOUR)).incident;
    expect(acked.state).toBe('acknowledged');
    expect(acked.noticeUndeliveredAt).toBeUndefined();
    expect(nextDueAt(acked, policy)).toEqual(incident.resolveDueAt);
  });

  it('a fix or a false positive clears it too', () => {
    for (const event of [{ type: 'customer_fixed' }, { type: 'customer_false_positive' }] as const) {
      const bounced = step(PATHS.acknowledged().incident, bounce, at(2 * HOUR)).incident;
      const t = step(bounced, event, at(3 * HOUR));
      expect(t.incident.noticeUndeliveredAt, event.type).toBeUndefined();
      expect(t.incident.answeredAt).toEqual(at(3 * HOUR));
    }
  });

  it('a notice delivered after the bounce restarts both deadlines from the delivery', () => {
    const { incident } = PATHS.notified();
    const bounced = step(incident, bounce, at(2 * HOUR)).incident;
    const delivered = step(bounced, { type: 'notice_sent' }, at(10 * HOUR));
    expect(delivered.changed).toBe(true);
    const i = delivered.incident;
    expect(i.noticeUndeliveredAt).toBeUndefined();
    expect(i.notifiedAt).toEqual(at(10 * HOUR));
    expect(i.ackDueAt).toEqual(at((10 + policy.categories.spam.ackHours) * HOUR));
    expect(i.resolveDueAt).toEqual(at((10 + policy.categories.spam.resolveHours) * HOUR));
    expect(nextDueAt(i, policy)).toEqual(i.ackDueAt);
    // The deadline armed from the first notice is stale now.
    expect(step(i, { type: 'deadline', dueAt: incident.ackDueAt! }, new Date(incident.ackDueAt!.getTime() + 1)).changed).toBe(false);
  });

  it('a notice that bounced before any delivery: the first delivered one moves the incident to notified', () => {
    const { incident } = PATHS.received();
    const bounced = step(incident, bounce, at(HOUR)).incident;
    expect(nextDueAt(bounced, policy)).toBeUndefined();
    const i = step(bounced, { type: 'notice_sent' }, at(5 * HOUR)).incident;
    expect(i.state).toBe('notified');
    expect(i.notifiedAt).toEqual(at(5 * HOUR));
    expect(nextDueAt(i, policy)).toEqual(at((5 + policy.categories.spam.ackHours) * HOUR));
  });
});

describe('an appeal against a restriction in force', () => {
  it('from enforced: the actions stay, nothing is sent to the host, the ladder waits for an operator', () => {
    const { incident } = PATHS.enforced();
    expect(incident.actions.map((a) => a.kind)).toEqual(['smtp_block']);
    const ladderDue = nextDueAt(incident, policy)!;
    const t = step(incident, { type: 'customer_false_positive' }, at(30 * HOUR));
    expect(t.incident.state).toBe('appealed');
    expect(t.incident.actions).toEqual(incident.actions);
    expect(t.effects.map(sig)).not.toContain('host:none');
    expect(t.effects.filter((e) => e.type === 'host_actions')).toEqual([]);
    expect(nextDueAt(t.incident, policy)).toBeUndefined();
    // The next rung's time passes while the appeal waits: no escalation to isolate.
    const late = step(t.incident, { type: 'deadline', dueAt: ladderDue }, new Date(ladderDue.getTime() + 1000));
    expect(late.changed).toBe(false);
    expect(late.incident.actions.map((a) => a.kind)).toEqual(['smtp_block']);
  });

  it('from enforcing: an appeal before the host confirmed also keeps the restriction', () => {
    const { incident } = PATHS.enforcing();
    const t = step(incident, { type: 'customer_false_positive' }, at(26 * HOUR));
    expect(t.incident.state).toBe('appealed');
    expect(t.incident.actions).toEqual(incident.actions);
  });

  it('rejected: back to enforced, the restriction kept, the ladder clock restarts from the decision', () => {
    const { incident } = PATHS.appealed();
    const t = step(incident, { type: 'operator_reject_dispute', operator: 'olga' }, at(40 * HOUR));
    expect(t.incident.state).toBe('enforced');
    expect(t.incident.actions).toEqual(incident.actions);
    expect(t.effects.filter((e) => e.type === 'host_actions')).toEqual([]);
    expect(t.incident.resolveDueAt).toEqual(at((40 + policy.ladderStepHours) * HOUR));
    expect(nextDueAt(t.incident, policy)).toEqual(t.incident.resolveDueAt);
    // When that clock runs out unanswered, the next rung (isolate) is decided.
    const next = step(t.incident, { type: 'deadline', dueAt: t.incident.resolveDueAt! }, at((41 + policy.ladderStepHours) * HOUR));
    expect(next.changed).toBe(true);
    expect(next.incident.actions.map((a) => a.kind)).toEqual(['smtp_block', 'isolate']);
  });

  it('accepted: dismissed, the restriction lifted from the host, the customer told', () => {
    const { incident } = PATHS.appealed();
    const t = step(incident, { type: 'operator_accept_dispute', operator: 'olga' }, at(40 * HOUR));
    expect(t.incident.state).toBe('dismissed');
    expect(t.incident.actions).toEqual([]);
    expect(t.incident.closedAt).toEqual(at(40 * HOUR));
    expect(t.effects.map(sig)).toEqual(['host:none', 'mail:dismissed']);
    expect(t.incident.established).toBe(false);
    expect(nextDueAt(t.incident, policy)).toBeUndefined();
  });

  it('a fix while appealed asks for release, the restriction still in place', () => {
    const { incident } = PATHS.appealed();
    const t = step(incident, { type: 'customer_fixed' }, at(35 * HOUR));
    expect(t.incident.state).toBe('release_requested');
    expect(t.incident.actions).toEqual(incident.actions);
    expect(t.effects.filter((e) => e.type === 'host_actions')).toEqual([]);
  });
});

describe('a plan is bounded by policy.maxPlanDays, wherever it comes from', () => {
  it('accepts a plan due on the last allowed day and refuses one a day later, naming the setting', () => {
    const { incident, now } = PATHS.notified();
    const when = new Date(now.getTime() + HOUR);
    const last = new Date(when.getTime() + policy.maxPlanDays * 24 * HOUR);
    expect(step(incident, { type: 'customer_plan', dueAt: last }, when).incident.state).toBe('plan_accepted');
    const late = new Date(last.getTime() + 24 * HOUR);
    expect(() => step(incident, { type: 'customer_plan', dueAt: late }, when)).toThrow(/at most 30 days from now \(policy\.maxPlanDays\)/);
  });
});
