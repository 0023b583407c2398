import { describe, expect, it } from 'vitest';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { nextDueAt, transition, type IncidentEvent } from '../../../controller/incidents/lifecycle.js';
import { CATEGORIES, INCIDENT_STATES, type Incident, type IncidentState } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { HOUR, PATHS, T0, at, attempt, ctxAt, expectRefused, openEvent, run, sig } from './fixtures.js';

/*
 * The lifecycle as a table: every state (reached by a real path, see
 * fixtures.ts) × every event. A cell says what must happen:
 *   R              refused: a CordonError ('conflict' or 'invalid'), input untouched
 *   U              accepted but nothing changes: changed=false, no effects, same incident
 *   to(s, …fx)     changed=true, the new state s, and exactly these effects in order
 *                  (mail:<template>, host:<action kinds>|none, queue:<hold>, termination_review)
 *
 * Fixtures: spam from a trusted reporter (ladder smtp_block → isolate), except
 * `escalated`, which is spam from an untrusted reporter held for an operator
 * (a trusted one would have gone straight on to `enforcing`).
 */

type EventName =
  | 'open'
  | 'complaint'
  | 'complaint_trusted'
  | 'notice_sent'
  | 'notice_bounced'
  | 'customer_ack'
  | 'customer_fixed'
  | 'customer_false_positive'
  | 'customer_plan'
  | 'deadline'
  | 'operator_verify'
  | 'operator_accept_dispute'
  | 'operator_reject_dispute'
  | 'operator_dismiss'
  | 'operator_enforce'
  | 'operator_release'
  | 'host_applied'
  | 'host_failed'
  | 'bmc_result'
  | 'operator_override_bmc'
  | 'switch_cut'
  | 'switch_released'
  | 'operator_release_agent_gone';

type Cell = 'R' | 'U' | { to: IncidentState; effects: string[] };
const R = 'R' as const;
const U = 'U' as const;
const to = (state: IncidentState, ...effects: string[]): Cell => ({ to: state, effects });

/**
 * Each named event, built for a given incident at the fixture's time. Ordinary
 * events happen one hour after the fixture's last event; the deadline fires
 * 1 ms after the incident's current due time (or, for a state with no clock,
 * carries a due time that is not the incident's, one hour later).
 */
const EVENTS: Record<EventName, (i: Incident, now: Date) => { event: IncidentEvent; now: Date }> = {
  open: (_i, now) => ({ event: openEvent(), now: plusHour(now) }),
  complaint: (_i, now) => ({ event: { type: 'complaint', trusted: false }, now: plusHour(now) }),
  complaint_trusted: (_i, now) => ({ event: { type: 'complaint', trusted: true }, now: plusHour(now) }),
  notice_sent: (_i, now) => ({ event: { type: 'notice_sent' }, now: plusHour(now) }),
  notice_bounced: (_i, now) => ({ event: { type: 'notice_bounced', reason: '550 5.1.1 user unknown' }, now: plusHour(now) }),
  customer_ack: (_i, now) => ({ event: { type: 'customer_ack' }, now: plusHour(now) }),
  customer_fixed: (_i, now) => ({ event: { type: 'customer_fixed' }, now: plusHour(now) }),
  customer_false_positive: (_i, now) => ({ event: { type: 'customer_false_positive' }, now: plusHour(now) }),
  customer_plan: (_i, now) => ({ event: { type: 'customer_plan', dueAt: new Date(now.getTime() + 48 * HOUR) }, now: plusHour(now) }),
  deadline: (i, now) => {
    const due = nextDueAt(i, DEFAULT_POLICY);
    if (due) return { event: { type: 'deadline', dueAt: due }, now: new Date(due.getTime() + 1) };
    return { event: { type: 'deadline', dueAt: now }, now: plusHour(now) };
  },
  operator_verify: (_i, now) => ({ event: { type: 'operator_verify', operator: 'alice' }, now: plusHour(now) }),
  operator_accept_dispute: (_i, now) => ({ event: { type: 'operator_accept_dispute', operator: 'alice' }, now: plusHour(now) }),
  operator_reject_dispute: (_i, now) => ({ event: { type: 'operator_reject_dispute', operator: 'alice' }, now: plusHour(now) }),
  operator_dismiss: (_i, now) => ({ event: { type: 'operator_dismiss', operator: 'alice', reason: 'duplicate' }, now: plusHour(now) }),
  operator_enforce: (_i, now) => ({
    event: { type: 'operator_enforce', operator: 'alice', action: { kind: 'isolate' }, reason: 'seen live' },
    now: plusHour(now),
  }),
  operator_release: (_i, now) => ({ event: { type: 'operator_release', operator: 'alice' }, now: plusHour(now) }),
  host_applied: (_i, now) => ({ event: { type: 'host_applied' }, now: plusHour(now) }),
  host_failed: (_i, now) => ({ event: { type: 'host_failed', error: 'nft: permission denied' }, now: plusHour(now) }),
  bmc_result: (_i, now) => ({ event: { type: 'bmc_result', phase: 'before', reachable: true, checkedAt: plusHour(now) }, now: plusHour(now) }),
  operator_override_bmc: (_i, now) => ({ event: { type: 'operator_override_bmc', operator: 'alice', reason: 'console checked by phone' }, now: plusHour(now) }),
  switch_cut: (_i, now) => ({ event: { type: 'switch_cut' }, now: plusHour(now) }),
  switch_released: (_i, now) => ({ event: { type: 'switch_released' }, now: plusHour(now) }),
  operator_release_agent_gone: (_i, now) => ({ event: { type: 'operator_release_agent_gone', operator: 'alice', reason: 'agent never came back' }, now: plusHour(now) }),
};

function plusHour(d: Date): Date {
  return new Date(d.getTime() + HOUR);
}

// prettier-ignore
const TABLE: Record<IncidentState, Record<EventName, Cell>> = {
  received: {
    open: R, complaint: to('received'), complaint_trusted: to('received'),
    notice_sent: to('notified'), notice_bounced: to('received', 'alert'),
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:isolate'),
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  notified: {
    open: R, complaint: to('notified'), complaint_trusted: to('notified'),
    notice_sent: U, notice_bounced: to('notified', 'alert'),
    customer_ack: to('acknowledged'),
    customer_fixed: to('customer_resolved'),
    customer_false_positive: to('disputed'),
    customer_plan: to('plan_accepted'),
    deadline: to('enforcing', 'mail:escalated', 'host:smtp_block'),
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:isolate'),
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  acknowledged: {
    open: R, complaint: to('acknowledged'), complaint_trusted: to('acknowledged'),
    notice_sent: U, notice_bounced: to('acknowledged', 'alert'),
    customer_ack: R,
    customer_fixed: to('customer_resolved'),
    customer_false_positive: to('disputed'),
    customer_plan: to('plan_accepted'),
    deadline: to('enforcing', 'mail:escalated', 'host:smtp_block'),
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:isolate'),
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  customer_resolved: {
    open: R, complaint: to('customer_resolved'), complaint_trusted: to('customer_resolved'),
    notice_sent: U, notice_bounced: to('customer_resolved', 'alert'),
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: to('closed', 'mail:closed'),
    operator_accept_dispute: R, operator_reject_dispute: to('acknowledged', 'mail:answer_rejected'),
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: R, // the customer's answer is decided first
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  disputed: {
    open: R, complaint: to('disputed'), complaint_trusted: to('disputed'),
    notice_sent: U, notice_bounced: to('disputed', 'alert'),
    customer_ack: R,
    customer_fixed: to('customer_resolved'),
    customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R,
    operator_accept_dispute: to('dismissed', 'mail:dismissed'),
    operator_reject_dispute: to('acknowledged', 'mail:answer_rejected'),
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: R, // the customer's answer is decided first
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  plan_accepted: {
    open: R, complaint: to('plan_accepted'), complaint_trusted: to('plan_accepted'),
    notice_sent: U, notice_bounced: to('plan_accepted', 'alert'),
    customer_ack: R,
    customer_fixed: to('customer_resolved'),
    customer_false_positive: to('disputed'),
    customer_plan: R,
    deadline: to('enforcing', 'mail:escalated', 'host:smtp_block'),
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:isolate'),
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  escalated: { // untrusted, held for an operator
    open: R, complaint: to('escalated'),
    complaint_trusted: to('enforcing', 'host:smtp_block'), // the trusted report lifts the hold
    notice_sent: U, notice_bounced: to('escalated', 'alert'),
    customer_ack: R,
    customer_fixed: to('customer_resolved'),
    customer_false_positive: to('disputed'),
    customer_plan: to('plan_accepted'),
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:isolate'),
    operator_release: R, host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  enforcing: {
    open: R, complaint: to('enforcing'), complaint_trusted: to('enforcing'),
    notice_sent: U, notice_bounced: to('enforcing', 'alert'),
    customer_ack: R,
    customer_fixed: to('release_requested'),
    customer_false_positive: to('appealed'), customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'host:none', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:smtp_block+isolate'),
    operator_release: R, // "record the customer's confirmation first"
    host_applied: to('enforced', 'mail:enforced'),
    host_failed: to('enforcing', 'queue:operator_decision'),
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  enforced: {
    open: R, complaint: to('enforced'), complaint_trusted: to('enforced'),
    notice_sent: U, notice_bounced: to('enforced', 'alert'),
    customer_ack: R,
    customer_fixed: to('release_requested'),
    customer_false_positive: to('appealed'), customer_plan: R, // an appeal: the restriction stays
    deadline: to('enforcing', 'host:smtp_block+isolate'), // the next rung after ladderStepHours
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'host:none', 'mail:dismissed'),
    operator_enforce: to('enforcing', 'host:smtp_block+isolate'),
    operator_release: R, // "record the customer's confirmation first"
    host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  release_requested: {
    open: R, complaint: to('release_requested'), complaint_trusted: to('release_requested'),
    notice_sent: U, notice_bounced: to('release_requested', 'alert'),
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: to('dismissed', 'host:none', 'mail:dismissed'),
    operator_enforce: R, // the customer says fixed: release or dismiss, not harder
    operator_release: to('releasing', 'host:none'), // the customer hears once the host confirms the lift
    host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  appealed: { // the customer contests an enforcement in force
    open: R, complaint: to('appealed'), complaint_trusted: to('appealed'),
    notice_sent: U, notice_bounced: to('appealed', 'alert'),
    customer_ack: R,
    customer_fixed: to('release_requested'),
    customer_false_positive: R, customer_plan: R,
    deadline: U, // the ladder waits for the operator
    operator_verify: R,
    operator_accept_dispute: to('dismissed', 'host:none', 'mail:dismissed'),
    operator_reject_dispute: to('enforced', 'mail:answer_rejected'),
    operator_dismiss: to('dismissed', 'host:none', 'mail:dismissed'),
    operator_enforce: R, // the appeal is decided first
    operator_release: R,
    host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  releasing: { // the lift is asked of the host, not yet confirmed: nothing says released; a new complaint opens a new incident
    open: R, complaint: R, complaint_trusted: R,
    notice_sent: U, notice_bounced: U,
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: R, // a dismissal would claim nothing remains: release --agent-gone says what does
    operator_enforce: R,
    operator_release: U, // asked twice: nothing new, no second mail
    host_applied: to('released', 'mail:released'), // the agent confirmed the generation without the actions
    host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U,
    switch_released: to('released', 'mail:released'),
    operator_release_agent_gone: to('released', 'mail:released_agent_gone'),
  },
  released: { // no longer takes complaints: a new one opens a new incident
    open: R, complaint: R, complaint_trusted: R,
    notice_sent: U, notice_bounced: U,
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: R, operator_enforce: R, operator_release: R,
    host_applied: to('closed', 'mail:closed'), // the host confirmed the removal
    host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  closed: {
    open: R, complaint: R, complaint_trusted: R,
    notice_sent: U, notice_bounced: U,
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: R, operator_enforce: R, operator_release: R,
    host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
  dismissed: {
    open: R, complaint: R, complaint_trusted: R,
    notice_sent: U, notice_bounced: U,
    customer_ack: R, customer_fixed: R, customer_false_positive: R, customer_plan: R,
    deadline: U,
    operator_verify: R, operator_accept_dispute: R, operator_reject_dispute: R,
    operator_dismiss: R, operator_enforce: R, operator_release: R,
    host_applied: U, host_failed: U,
    bmc_result: U, operator_override_bmc: R,
    switch_cut: U, switch_released: U, operator_release_agent_gone: R,
  },
};

/** Compile-time list of every event type: adding one to IncidentEvent breaks this until the table covers it. */
const EVENT_TYPES: Record<IncidentEvent['type'], true> = {
  open: true,
  complaint: true,
  notice_sent: true,
  notice_bounced: true,
  customer_ack: true,
  customer_fixed: true,
  customer_false_positive: true,
  customer_plan: true,
  deadline: true,
  operator_verify: true,
  operator_accept_dispute: true,
  operator_reject_dispute: true,
  operator_dismiss: true,
  operator_enforce: true,
  operator_release: true,
  host_applied: true,
  host_failed: true,
  bmc_result: true,
  operator_override_bmc: true,
  switch_cut: true,
  switch_released: true,
  operator_release_agent_gone: true,
};

describe('lifecycle table: every state × every event', () => {
  it('covers every state and every event type', () => {
    expect(Object.keys(TABLE).sort()).toEqual([...INCIDENT_STATES].sort());
    const covered = new Set(Object.values(EVENTS).map((build) => build(PATHS.received().incident, T0).event.type));
    expect([...covered].sort()).toEqual(Object.keys(EVENT_TYPES).sort());
  });

  it('every fixture path really ends in its state', () => {
    for (const state of INCIDENT_STATES) expect(PATHS[state]().incident.state, state).toBe(state);
  });

  for (const state of INCIDENT_STATES) {
    for (const [name, cell] of Object.entries(TABLE[state]) as Array<[EventName, Cell]>) {
      const label = cell === R ? 'refused' : cell === U ? 'unchanged' : `→ ${cell.to} [${cell.effects.join(', ')}]`;
      it(`${state} + ${name}: ${label}`, () => {
        const { incident, now: fixtureNow } = PATHS[state]();
        const { event, now } = EVENTS[name](incident, fixtureNow);
        const ctx = ctxAt(now);
        if (cell === R) {
          expectRefused(incident, event, ctx);
          return;
        }
        const before = structuredClone(incident);
        const result = transition(incident, event, ctx);
        // Pure: whatever happens, the caller's object is not mutated.
        expect(incident).toEqual(before);
        // The identity of an incident never changes.
        expect(pickIdentity(result.incident)).toEqual(pickIdentity(before));
        if (cell === U) {
          expect(result.changed).toBe(false);
          expect(result.effects).toEqual([]);
          expect(result.incident).toEqual(before);
          return;
        }
        expect(result.changed).toBe(true);
        expect(result.incident.state).toBe(cell.to);
        expect(result.effects.map(sig)).toEqual(cell.effects);
      });
    }
  }
});

function pickIdentity(i: Incident) {
  return { id: i.id, hostId: i.hostId, customerId: i.customerId, category: i.category };
}

describe('deadline semantics', () => {
  const notified = () => PATHS.notified(); // trusted spam, notice at T0+1s
  const ackDue = at(1000 + 24 * HOUR);

  it('the clock of a notified incident is its acknowledge deadline (24 h after the notice)', () => {
    const { incident } = notified();
    expect(nextDueAt(incident, DEFAULT_POLICY)).toEqual(ackDue);
    expect(incident.resolveDueAt).toEqual(at(1000 + 72 * HOUR));
  });

  it('escalates only strictly after the due time: at dueAt exactly nothing happens', () => {
    const { incident } = notified();
    const early = transition(incident, { type: 'deadline', dueAt: ackDue }, ctxAt(ackDue));
    expect(early).toEqual({ incident, effects: [], changed: false });
    const late = transition(incident, { type: 'deadline', dueAt: ackDue }, ctxAt(new Date(ackDue.getTime() + 1)));
    expect(late.changed).toBe(true);
    expect(late.incident.state).toBe('enforcing');
  });

  it('ignores a deadline whose due time is not the incident’s current one (stale timer)', () => {
    const { incident } = notified();
    for (const dueAt of [new Date(ackDue.getTime() - 1), new Date(ackDue.getTime() + 1), at(1000 + 72 * HOUR)]) {
      const r = transition(incident, { type: 'deadline', dueAt }, ctxAt(new Date(dueAt.getTime() + HOUR)));
      expect(r.changed, dueAt.toISOString()).toBe(false);
      expect(r.incident).toEqual(incident);
    }
  });

  // An answer recorded first wins, even in the deadline's own millisecond.
  const answers: Array<[string, IncidentEvent, IncidentState]> = [
    ['fixed', { type: 'customer_fixed' }, 'customer_resolved'],
    ['false positive', { type: 'customer_false_positive' }, 'disputed'],
    ['plan', { type: 'customer_plan', dueAt: at(200 * HOUR) }, 'plan_accepted'],
    ['acknowledge (stops the acknowledge clock only)', { type: 'customer_ack' }, 'acknowledged'],
  ];
  for (const [label, answer, state] of answers) {
    for (const offset of [-1, 0]) {
      it(`answer "${label}" at due ${offset === 0 ? 'exactly' : '- 1 ms'}, deadline at due + 1 ms: nothing happens`, () => {
        const { incident } = notified();
        const answered = transition(incident, answer, ctxAt(new Date(ackDue.getTime() + offset)));
        expect(answered.incident.state).toBe(state);
        const fired = transition(answered.incident, { type: 'deadline', dueAt: ackDue }, ctxAt(new Date(ackDue.getTime() + 1)));
        expect(fired.changed).toBe(false);
        expect(fired.effects).toEqual([]);
        expect(fired.incident.state).toBe(state);
      });
    }
  }

  it('an acknowledged incident still escalates on the resolve deadline', () => {
    const i = run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_ack' }, ackDue],
    ]);
    const resolveDue = at(1000 + 72 * HOUR);
    expect(nextDueAt(i, DEFAULT_POLICY)).toEqual(resolveDue);
    const r = transition(i, { type: 'deadline', dueAt: resolveDue }, ctxAt(new Date(resolveDue.getTime() + 1)));
    expect(r.incident.state).toBe('enforcing');
  });

  it('a plan moves the clock to the plan’s due date and escalates after it', () => {
    const planDue = at(100 * HOUR);
    const i = transition(notified().incident, { type: 'customer_plan', dueAt: planDue }, ctxAt(at(HOUR))).incident;
    expect(nextDueAt(i, DEFAULT_POLICY)).toEqual(planDue);
    expect(transition(i, { type: 'deadline', dueAt: planDue }, ctxAt(planDue)).changed).toBe(false);
    expect(transition(i, { type: 'deadline', dueAt: planDue }, ctxAt(new Date(planDue.getTime() + 1))).incident.state).toBe('enforcing');
  });

  it('refuses a plan whose due date is not in the future (kind invalid)', () => {
    const { incident } = notified();
    const err = expectRefused(incident, { type: 'customer_plan', dueAt: at(HOUR) }, ctxAt(at(HOUR)), ['invalid']);
    expect(err.field).toBe('dueAt');
  });

  it('a rejected dispute starts a fresh resolve deadline from the rejection', () => {
    const i = run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_false_positive' }, at(HOUR)],
      [{ type: 'operator_reject_dispute', operator: 'alice' }, at(100 * HOUR)],
    ]);
    expect(i.state).toBe('acknowledged');
    expect(nextDueAt(i, DEFAULT_POLICY)).toEqual(at(172 * HOUR));
  });
});

describe('intake', () => {
  const immediate = CATEGORIES.filter((c) => DEFAULT_POLICY.categories[c].immediate);

  it('the immediate categories are the design’s: DDoS, malware, child abuse, terrorism', () => {
    expect([...immediate].sort()).toEqual(['child_abuse', 'ddos', 'malware', 'terrorism']);
  });

  for (const category of immediate) {
    const first = DEFAULT_POLICY.categories[category].ladder[0]!.kind;
    it(`${category} from a trusted reporter escalates and acts at open (the notice still goes out)`, () => {
      const r = transition(undefined, openEvent(category, true), ctxAt(T0));
      expect(r.incident.state).toBe('enforcing');
      expect(r.incident.escalatedAt).toEqual(T0);
      expect(r.effects.map(sig)).toEqual(['mail:notice', 'mail:escalated', `host:${first}`]);
    });
    it(`${category} from an untrusted reporter only notifies`, () => {
      const r = transition(undefined, openEvent(category, false), ctxAt(T0));
      expect(r.incident.state).toBe('received');
      expect(r.effects.map(sig)).toEqual(['mail:notice']);
    });
  }

  // Regression: an anonymous report used to shield a later CERT report of the same
  // malware from the intake escalation it gets on its own (the merge made it wait 24 h).
  for (const [label, prefix] of [
    ['received', []],
    ['notified', [[{ type: 'notice_sent' }, at(1000)]]],
    ['acknowledged', [[{ type: 'notice_sent' }, at(1000)], [{ type: 'customer_ack' }, at(HOUR)]]],
  ] as Array<[string, Array<[IncidentEvent, Date]>]>) {
    it(`a first trusted report merged into an unanswered untrusted immediate incident (${label}) escalates it`, () => {
      const i = run([[openEvent('malware', false), at(0)], ...prefix]);
      const r = transition(i, { type: 'complaint', trusted: true }, ctxAt(at(2 * HOUR)));
      expect(r.incident.state).toBe('enforcing');
      expect(r.incident.escalatedAt).toEqual(at(2 * HOUR));
      expect(r.effects.map(sig)).toEqual(['mail:escalated', 'host:isolate']);
    });
  }

  it('a trusted report merged after the customer answered an immediate incident does not escalate it', () => {
    for (const answer of [{ type: 'customer_fixed' }, { type: 'customer_false_positive' }, { type: 'customer_plan', dueAt: at(50 * HOUR) }] as IncidentEvent[]) {
      const i = run([
        [openEvent('malware', false), at(0)],
        [{ type: 'notice_sent' }, at(1000)],
        [answer, at(HOUR)],
      ]);
      const r = transition(i, { type: 'complaint', trusted: true }, ctxAt(at(2 * HOUR)));
      expect(r.incident.state, answer.type).toBe(i.state);
      expect(r.incident.trusted).toBe(true);
      expect(r.effects).toEqual([]);
    }
  });

  it('a non-immediate category from a trusted reporter only notifies', () => {
    for (const category of CATEGORIES.filter((c) => !DEFAULT_POLICY.categories[c].immediate)) {
      const r = transition(undefined, openEvent(category, true), ctxAt(T0));
      expect(r.incident.state, category).toBe('received');
      expect(r.effects.map(sig), category).toEqual(['mail:notice']);
    }
  });

  it('the notice of an incident escalated at intake starts the customer’s clocks without changing its state', () => {
    const opened = transition(undefined, openEvent('malware', true), ctxAt(T0)).incident;
    const r = transition(opened, { type: 'notice_sent' }, ctxAt(at(1000)));
    expect(r.incident.state).toBe('enforcing');
    expect(r.incident.notifiedAt).toEqual(at(1000));
    expect(r.effects).toEqual([]);
  });

  it('refuses open on an existing incident and anything but open on no incident', () => {
    expectRefused(PATHS.notified().incident, openEvent(), ctxAt(at(HOUR)), ['conflict']);
    const err = attempt(undefined, { type: 'customer_ack' }, ctxAt(T0));
    expect(err).toBeInstanceOf(CordonError);
    expect((err as CordonError).kind).toBe('not_found');
  });

  it('opening an incident never flags a termination review nor tells the customer of one, however many came before', () => {
    for (const count of [0, 2, 7]) {
      const r = transition(undefined, openEvent(), ctxAt(T0, { customerEstablishedInWindow: count }));
      expect(r.effects.some((e) => e.type === 'termination_review'), `count ${count}`).toBe(false);
      expect(r.effects.find((e) => e.type === 'mail'), `count ${count}`).toEqual({ type: 'mail', template: 'notice', terminationReview: false });
    }
  });
});

describe('holds', () => {
  const escalateAt = at(1001 + 24 * HOUR);
  const notifiedSpam = (trusted: boolean) =>
    run([
      [openEvent('spam', trusted), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
    ]);
  const fire = (i: Incident, over = {}) => transition(i, { type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, ctxAt(escalateAt, over));

  it('an escalation from untrusted reporters only holds for an operator', () => {
    const r = fire(notifiedSpam(false));
    expect(r.incident.state).toBe('escalated');
    expect(r.incident.hold).toBe('untrusted_reporter');
    expect(r.incident.actions).toEqual([]);
    expect(r.effects.map(sig)).toEqual(['mail:escalated', 'queue:untrusted_reporter']);
  });

  it('a later trusted complaint lifts the untrusted hold and acts; an untrusted one does not', () => {
    const held = fire(notifiedSpam(false)).incident;
    const untrusted = transition(held, { type: 'complaint', trusted: false }, ctxAt(at(30 * HOUR)));
    expect(untrusted.incident.hold).toBe('untrusted_reporter');
    expect(untrusted.incident.complaintCount).toBe(2);
    const trusted = transition(held, { type: 'complaint', trusted: true }, ctxAt(at(30 * HOUR)));
    expect(trusted.incident.state).toBe('enforcing');
    expect(trusted.incident.hold).toBeUndefined();
    expect(trusted.incident.trusted).toBe(true);
    expect(trusted.effects.map(sig)).toEqual(['host:smtp_block']);
  });

  it('a trusted complaint still respects the rate limit when it lifts the untrusted hold', () => {
    const held = fire(notifiedSpam(false)).incident;
    const r = transition(held, { type: 'complaint', trusted: true }, ctxAt(at(30 * HOUR), { automaticInLastHour: DEFAULT_POLICY.maxAutomaticPerHour }));
    expect(r.incident.state).toBe('escalated');
    expect(r.incident.hold).toBe('rate_limit');
  });

  it('holds for the rate limit at maxAutomaticPerHour, acts one below it', () => {
    const max = DEFAULT_POLICY.maxAutomaticPerHour;
    const limited = fire(notifiedSpam(true), { automaticInLastHour: max });
    expect(limited.incident.state).toBe('escalated');
    expect(limited.incident.hold).toBe('rate_limit');
    expect(limited.incident.actions).toEqual([]);
    expect(limited.effects.map(sig)).toEqual(['mail:escalated', 'queue:rate_limit']);
    const below = fire(notifiedSpam(true), { automaticInLastHour: max - 1 });
    expect(below.incident.state).toBe('enforcing');
  });

  it('copyright (empty ladder) escalates to an operator even from a trusted reporter, who may then act', () => {
    const i = run([
      [openEvent('copyright', true), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
    ]);
    const r = fire(i);
    expect(r.incident.state).toBe('escalated');
    expect(r.incident.hold).toBe('operator_decision');
    expect(r.effects.map(sig)).toEqual(['mail:escalated', 'queue:operator_decision']);
    expect(nextDueAt(r.incident, DEFAULT_POLICY)).toBeUndefined(); // nothing will fire on its own
    const acted = transition(r.incident, { type: 'operator_enforce', operator: 'bob', action: { kind: 'isolate' }, reason: 'repeat' }, ctxAt(at(30 * HOUR)));
    expect(acted.incident.state).toBe('enforcing');
    expect(acted.incident.hold).toBeUndefined();
    expect(acted.effects.map(sig)).toEqual(['host:isolate']);
  });

  it('a customer answer clears a hold', () => {
    const held = fire(notifiedSpam(false)).incident;
    const r = transition(held, { type: 'customer_fixed' }, ctxAt(at(30 * HOUR)));
    expect(r.incident.state).toBe('customer_resolved');
    expect(r.incident.hold).toBeUndefined();
  });
});

describe('ladder', () => {
  const step = DEFAULT_POLICY.ladderStepHours;

  it('an unanswered enforced incident takes the next rung ladderStepHours after the host applied the first', () => {
    const enforced = PATHS.enforced().incident; // host_applied at T0+25h
    expect(enforced.step).toBe(0);
    const due = at((25 + step) * HOUR);
    expect(nextDueAt(enforced, DEFAULT_POLICY)).toEqual(due);
    expect(transition(enforced, { type: 'deadline', dueAt: due }, ctxAt(due)).changed).toBe(false);
    const next = transition(enforced, { type: 'deadline', dueAt: due }, ctxAt(new Date(due.getTime() + 1)));
    expect(next.incident.state).toBe('enforcing');
    expect(next.incident.step).toBe(1);
    expect(next.incident.actions.map((a) => a.kind)).toEqual(['smtp_block', 'isolate']);
    expect(next.effects.map(sig)).toEqual(['host:smtp_block+isolate']);
    // The ladder is exhausted: once applied, no clock runs any more.
    const applied = transition(next.incident, { type: 'host_applied' }, ctxAt(at(60 * HOUR))).incident;
    expect(applied.state).toBe('enforced');
    expect(nextDueAt(applied, DEFAULT_POLICY)).toBeUndefined();
  });

  it('the next rung respects the rate limit and then stops its clock', () => {
    const enforced = PATHS.enforced().incident;
    const due = at((25 + step) * HOUR);
    const r = transition(enforced, { type: 'deadline', dueAt: due }, ctxAt(new Date(due.getTime() + 1), { automaticInLastHour: 99 }));
    expect(r.incident.state).toBe('enforced');
    expect(r.incident.hold).toBe('rate_limit');
    expect(r.incident.actions.map((a) => a.kind)).toEqual(['smtp_block']);
    expect(nextDueAt(r.incident, DEFAULT_POLICY)).toBeUndefined();
  });

  // Regression: the agent's confirmation and the customer's notice race after an
  // intake escalation. The ladder's step clock must not depend on which is
  // recorded first (the notice used to overwrite it with the 72 h resolve deadline).
  it('the step clock does not depend on whether the notice or the host confirmation is recorded first', () => {
    const open = openEvent('malware', true);
    const noticeFirst = run([
      [open, at(0)],
      [{ type: 'notice_sent' }, at(60_000)],
      [{ type: 'host_applied' }, at(120_000)],
    ]);
    const hostFirst = run([
      [open, at(0)],
      [{ type: 'host_applied' }, at(60_000)],
      [{ type: 'notice_sent' }, at(120_000)],
    ]);
    expect(noticeFirst.state).toBe('enforced');
    expect(hostFirst.state).toBe('enforced');
    expect(nextDueAt(noticeFirst, DEFAULT_POLICY)).toEqual(at(120_000 + step * HOUR));
    expect(nextDueAt(hostFirst, DEFAULT_POLICY)).toEqual(at(60_000 + step * HOUR));
  });
});

describe('release and close', () => {
  it('refuses release from enforced or enforcing, telling to record the customer’s confirmation first', () => {
    for (const state of ['enforced', 'enforcing'] as const) {
      const { incident, now } = PATHS[state]();
      const err = expectRefused(incident, { type: 'operator_release', operator: 'alice' }, ctxAt(plus(now)), ['conflict']);
      expect(err.message).toMatch(/no customer confirmation of the fix; record it first/);
    }
  });

  it('refuses release from any other state but release_requested (and releasing, where it changes nothing)', () => {
    for (const state of INCIDENT_STATES.filter((s) => !['enforced', 'enforcing', 'release_requested', 'releasing'].includes(s))) {
      const { incident, now } = PATHS[state]();
      const err = expectRefused(incident, { type: 'operator_release', operator: 'alice' }, ctxAt(plus(now)), ['conflict']);
      expect(err.message, state).toMatch(/nothing to release/);
    }
  });

  it('release_requested → releasing removes the incident’s actions from its host and tells the customer nothing yet; the agent’s confirmation releases, the next closes', () => {
    const { incident, now } = PATHS.release_requested();
    expect(incident.actions.length).toBeGreaterThan(0); // still held while the operator checks
    const releasing = transition(incident, { type: 'operator_release', operator: 'alice' }, ctxAt(plus(now)));
    expect(releasing.incident.state).toBe('releasing');
    // It still names what it lifts, for the operator and for the mail once confirmed.
    expect(releasing.incident.actions).toEqual(incident.actions);
    expect(releasing.effects.map(sig)).toEqual(['host:none']);
    const again = transition(releasing.incident, { type: 'operator_release', operator: 'bob' }, ctxAt(plus(plus(now))));
    expect(again).toEqual({ incident: releasing.incident, effects: [], changed: false });
    const released = transition(releasing.incident, { type: 'host_applied' }, ctxAt(plus(plus(now))));
    expect(released.incident.state).toBe('released');
    expect(released.incident.actions).toEqual([]);
    expect(released.effects).toEqual([{ type: 'mail', template: 'released', terminationReview: false, actions: incident.actions }]);
    const closed = transition(released.incident, { type: 'host_applied' }, ctxAt(plus(plus(plus(now)))));
    expect(closed.incident.state).toBe('closed');
    expect(closed.incident.closedAt).toEqual(plus(plus(plus(now))));
    expect(closed.effects.map(sig)).toEqual(['mail:closed']);
  });

  it('finishing a release without the agent needs a releasing incident and a reason, and says so in its own mail', () => {
    const { incident, now } = PATHS.releasing();
    const blank = expectRefused(incident, { type: 'operator_release_agent_gone', operator: 'alice', reason: '  ' }, ctxAt(plus(now)), ['invalid']);
    expect(blank.message).toMatch(/reason/);
    const r = transition(incident, { type: 'operator_release_agent_gone', operator: 'alice', reason: 'agent gone for a week' }, ctxAt(plus(now)));
    expect(r.incident.state).toBe('released');
    expect(r.effects).toEqual([{ type: 'mail', template: 'released_agent_gone', terminationReview: false, actions: incident.actions }]);
    const early = expectRefused(PATHS.release_requested().incident, { type: 'operator_release_agent_gone', operator: 'alice', reason: 'x' }, ctxAt(plus(now)), ['conflict']);
    expect(early.message).toMatch(/incident release first/);
  });

  it('a cut the switch confirms is enforced without the agent (mail, BMC check after); a non-cut one is not', () => {
    const base = PATHS.enforcing().incident;
    const cut: Incident = { ...base, actions: [{ kind: 'isolate' }] };
    const now = plus(PATHS.enforcing().now);
    const r = transition(cut, { type: 'switch_cut' }, ctxAt(now));
    expect(r.incident.state).toBe('enforced');
    expect(r.effects.map(sig)).toEqual(['mail:enforced', 'bmc_check:after']);
    expect(transition(base, { type: 'switch_cut' }, ctxAt(now)).changed).toBe(false);
  });

  it('dismissing an enforced incident removes its actions', () => {
    const { incident, now } = PATHS.enforced();
    const r = transition(incident, { type: 'operator_dismiss', operator: 'alice', reason: 'wrong host' }, ctxAt(plus(now)));
    expect(r.incident.actions).toEqual([]);
    expect(r.effects[0]).toMatchObject({ type: 'host_actions', actions: [] });
  });
});

function plus(d: Date): Date {
  return new Date(d.getTime() + HOUR);
}
