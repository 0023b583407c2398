import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { nextDueAt, transition, type Context, type IncidentEvent, type Transition } from '../../../controller/incidents/lifecycle.js';
import { CATEGORIES, ENFORCING_STATES, TERMINAL_STATES, type Action, type Incident } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY } from '../../../controller/incidents/policy.js';
import { HOUR, T0 } from './fixtures.js';

/*
 * Random histories of one incident: an `open`, then a sequence of events at
 * monotonically increasing times. Refused events (CordonError) are skipped,
 * as the service would skip them; every accepted step is checked against the
 * invariants below.
 *
 * Time is generated relative to the incident's own clock, so that deadlines
 * and answers land exactly at, just before and just after due times instead
 * of almost never hitting them.
 */

const POLICY = DEFAULT_POLICY;
const ANSWERS = new Set<IncidentEvent['type']>(['customer_fixed', 'customer_false_positive', 'customer_plan', 'customer_ack']);

/** When a step happens: a plain delay, or relative to the incident's current due time. */
type When = { kind: 'delay'; ms: number } | { kind: 'due'; offsetMs: number };

/** The event of a step; deadlines pick their due time when applied (current, stale, or arbitrary). */
type EventSpec =
  | { type: 'event'; event: IncidentEvent | ((now: Date) => IncidentEvent) }
  | { type: 'deadline'; due: 'current' | 'previous' | 'stale' | 'random'; skewMs: number };

interface Step {
  when: When;
  spec: EventSpec;
  automaticInLastHour: number;
}

const whenArb: fc.Arbitrary<When> = fc.oneof(
  // Half the steps land on the incident's clock: just before, at, or just after its due time.
  fc.record({ kind: fc.constant('delay' as const), ms: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 3 * HOUR }), fc.integer({ min: 0, max: 120 * HOUR })) }),
  fc.record({ kind: fc.constant('due' as const), offsetMs: fc.constantFrom(-1, 0, 1, 2, HOUR) }),
);

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  fc.constant<Action>({ kind: 'smtp_block' }),
  fc.constant<Action>({ kind: 'isolate' }),
  fc.constant<Action>({ kind: 'nic_down' }),
  fc.integer({ min: 1, max: 100 }).map<Action>((m) => ({ kind: 'throttle', rateBps: m * 1_000_000 })),
);

const op = fc.constantFrom('alice', 'bob');

const eventArb: fc.Arbitrary<EventSpec> = fc.oneof(
  // Deadlines and answers are weighted up: they are what the deadline properties are about.
  { weight: 6, arbitrary: fc.record({ type: fc.constant('deadline' as const), due: fc.constantFrom('current' as const, 'current' as const, 'previous' as const, 'previous' as const, 'stale' as const, 'random' as const), skewMs: fc.integer({ min: 1, max: 48 * HOUR }) }) },
  { weight: 2, arbitrary: fc.boolean().map((trusted): EventSpec => ({ type: 'event', event: { type: 'complaint', trusted } })) },
  { weight: 2, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'notice_sent' } }) },
  { weight: 2, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'customer_ack' } }) },
  { weight: 2, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'customer_fixed' } }) },
  { weight: 1, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'customer_false_positive' } }) },
  {
    weight: 2,
    // 0 h makes an invalid plan (due not in the future): it must be refused, not accepted.
    arbitrary: fc.integer({ min: 0, max: 200 }).map((h): EventSpec => ({ type: 'event', event: (now) => ({ type: 'customer_plan', dueAt: new Date(now.getTime() + h * HOUR) }) })),
  },
  { weight: 1, arbitrary: op.map((operator): EventSpec => ({ type: 'event', event: { type: 'operator_verify', operator } })) },
  { weight: 1, arbitrary: op.map((operator): EventSpec => ({ type: 'event', event: { type: 'operator_accept_dispute', operator } })) },
  { weight: 1, arbitrary: op.map((operator): EventSpec => ({ type: 'event', event: { type: 'operator_reject_dispute', operator } })) },
  { weight: 1, arbitrary: op.map((operator): EventSpec => ({ type: 'event', event: { type: 'operator_dismiss', operator, reason: 'r' } })) },
  { weight: 1, arbitrary: fc.tuple(op, actionArb).map(([operator, action]): EventSpec => ({ type: 'event', event: { type: 'operator_enforce', operator, action, reason: 'r' } })) },
  { weight: 2, arbitrary: op.map((operator): EventSpec => ({ type: 'event', event: { type: 'operator_release', operator } })) },
  { weight: 3, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'host_applied' } }) },
  { weight: 1, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'switch_cut' } }) },
  { weight: 1, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'switch_released' } }) },
  { weight: 1, arbitrary: op.map((operator): EventSpec => ({ type: 'event', event: { type: 'operator_release_agent_gone', operator, reason: 'agent gone' } })) },
  { weight: 1, arbitrary: fc.constant<EventSpec>({ type: 'event', event: { type: 'host_failed', error: 'boom' } }) },
);

const stepArb: fc.Arbitrary<Step> = fc.record({
  when: whenArb,
  spec: eventArb,
  // Mostly under the fleet-wide limit, sometimes at or over it.
  automaticInLastHour: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: POLICY.maxAutomaticPerHour + 5 }) }),
});

const noticeStep: Step = { when: { kind: 'delay', ms: 30_000 }, spec: { type: 'event', event: { type: 'notice_sent' } }, automaticInLastHour: 0 };

const historyArbOf = (minLength: number, maxLength: number) =>
  fc.record({
    category: fc.constantFrom(...CATEGORIES),
    trusted: fc.boolean(),
    customerEstablishedInWindow: fc.integer({ min: 0, max: 4 }),
    // Most real incidents get their notice first; without it nothing runs a clock.
    steps: fc
      .tuple(fc.boolean(), fc.array(stepArb, { minLength, maxLength, size: 'max' }))
      .map(([noticeFirst, rest]) => (noticeFirst ? [noticeStep, ...rest] : rest)),
  });
const historyArb = historyArbOf(5, 40);

/** Counts across all runs, so the test proves the interesting cases were really reached. */
const seen = { accepted: 0, refused: 0, escalations: 0, automaticActs: 0, answeredDeadlinesChecked: 0, terminalChecked: 0, ladderSecondRung: 0 };

/**
 * Turns a generated step into an event and its context. `previousDue` is the
 * last due time the incident had before its current one: a deadline for it is
 * the timer that was armed before an answer or another event moved the clock,
 * fired 1 ms after it (or later, time never runs back).
 */
function applyStep(i: Incident, step: Step, prevNow: Date, previousDue?: number): { event: IncidentEvent; ctx: Context } {
  const due = nextDueAt(i, POLICY);
  let nowMs = prevNow.getTime();
  if (step.when.kind === 'delay') nowMs += step.when.ms;
  else if (due) nowMs = Math.max(nowMs, due.getTime() + step.when.offsetMs);
  let event: IncidentEvent;
  if (step.spec.type === 'deadline') {
    let dueAt: Date;
    if (step.spec.due === 'current' && due) dueAt = due;
    else if (step.spec.due === 'previous' && previousDue !== undefined) {
      dueAt = new Date(previousDue);
      nowMs = Math.max(prevNow.getTime(), previousDue + 1);
    } else if (step.spec.due === 'stale') dueAt = new Date(nowMs - step.spec.skewMs);
    else dueAt = new Date(nowMs + step.spec.skewMs - 24 * HOUR);
    event = { type: 'deadline', dueAt };
  } else {
    event = typeof step.spec.event === 'function' ? step.spec.event(new Date(nowMs)) : step.spec.event;
  }
  const now = new Date(nowMs);
  return { event, ctx: { now, policy: POLICY, automaticInLastHour: step.automaticInLastHour, customerEstablishedInWindow: 0, bmc: { reachable: true, checkedAt: now } } };
}

const identity = (i: Incident) => ({ id: i.id, hostId: i.hostId, customerId: i.customerId, category: i.category });
const isTerminal = (i: Incident) => TERMINAL_STATES.includes(i.state);

describe('lifecycle properties over random histories', () => {
  it('hold after every accepted event', () => {
    fc.assert(
      fc.property(historyArb, ({ category, trusted, customerEstablishedInWindow, steps }) => {
        const opened = transition(
          undefined,
          { type: 'open', id: 'inc-p', hostId: 'host-7', customerId: 'cust-3', category, trusted },
          { now: T0, policy: POLICY, automaticInLastHour: 0, customerEstablishedInWindow, bmc: { reachable: true, checkedAt: T0 } },
        );
        let i = opened.incident;
        // The open itself (an immediate category acts at once): actions only in an enforcing state.
        if (i.actions.length > 0) expect(ENFORCING_STATES).toContain(i.state);
        if (i.actions.length > 0) expect(i.trusted).toBe(true);
        let now = T0;
        const firstIdentity = identity(i);
        /** Due times the customer answered in time, while they were the incident's current due time. */
        const answeredInTime = new Set<number>();
        let wasTerminal = false;
        let previousDue: number | undefined;

        for (const step of steps) {
          const { event, ctx } = applyStep(i, step, now, previousDue);
          const before = structuredClone(i);
          const dueBefore = nextDueAt(i, POLICY);
          let r: Transition;
          try {
            r = transition(i, event, ctx);
          } catch (err) {
            // A refusal is a typed conflict/invalid and leaves the input as it was.
            expect(err).toBeInstanceOf(CordonError);
            expect(['conflict', 'invalid']).toContain((err as CordonError).kind);
            expect(i).toEqual(before);
            seen.refused++;
            now = ctx.now;
            continue;
          }
          seen.accepted++;
          now = ctx.now;
          const after = r.incident;
          const nonEmptyHostActions = r.effects.filter((e) => e.type === 'host_actions' && e.actions.length > 0);

          // Purity: the caller's object is never mutated, accepted or not.
          expect(i).toEqual(before);
          // An unchanged result really is unchanged.
          if (!r.changed) {
            expect(r.effects).toEqual([]);
            expect(after).toEqual(before);
          }

          // (a) closed/dismissed is final: same state, and never a non-empty host_actions effect.
          if (wasTerminal) {
            seen.terminalChecked++;
            expect(after.state).toBe(before.state);
            expect(nonEmptyHostActions).toEqual([]);
          }

          // (b) precise: let D be the incident's due time when an answer (fixed, false
          // positive, plan, or acknowledge) is accepted at now <= D. Unless a later
          // transition makes D the due time again, a deadline event for D changes nothing.
          if (event.type === 'deadline' && answeredInTime.has(event.dueAt.getTime())) {
            seen.answeredDeadlinesChecked++;
            expect(r.changed).toBe(false);
          }
          // (b') a deadline acts only for the current due time and strictly after it.
          if (event.type === 'deadline' && r.changed) {
            expect(dueBefore?.getTime()).toBe(event.dueAt.getTime());
            expect(ctx.now.getTime()).toBeGreaterThan(event.dueAt.getTime());
            seen.escalations++;
          }
          if (ANSWERS.has(event.type) && dueBefore && ctx.now.getTime() <= dueBefore.getTime()) answeredInTime.add(dueBefore.getTime());
          const dueAfter = nextDueAt(after, POLICY);
          if (dueAfter) answeredInTime.delete(dueAfter.getTime());
          if (dueBefore && dueBefore.getTime() !== dueAfter?.getTime()) previousDue = dueBefore.getTime();

          // (c) one incident, one host: identity never changes (host_actions carries no
          // host of its own, so the incident's hostId is where its actions go).
          expect(identity(after)).toEqual(firstIdentity);

          // (d) actions only in enforcing/enforced/release_requested, or releasing (what it lifts,
          // not yet confirmed gone); an effect setting actions is the incident's complete set
          // and leaves it in one of the enforcing states.
          if (after.actions.length > 0) expect([...ENFORCING_STATES, 'releasing']).toContain(after.state);
          for (const e of nonEmptyHostActions) {
            expect(ENFORCING_STATES).toContain(after.state);
            expect(e.type === 'host_actions' && e.actions).toEqual(after.actions);
          }

          // (e) the ladder never goes back down.
          expect(after.step).toBeGreaterThanOrEqual(before.step);
          if (after.step >= 1) seen.ladderSecondRung++;

          // (f) automatic actions need a trusted reporter and room under the fleet-wide limit;
          // only an operator acts otherwise.
          if (nonEmptyHostActions.length > 0 && event.type !== 'operator_enforce') {
            expect(after.trusted).toBe(true);
            expect(ctx.automaticInLastHour).toBeLessThan(POLICY.maxAutomaticPerHour);
            seen.automaticActs++;
          }

          wasTerminal ||= isTerminal(after);
          i = after;
        }
      }),
      { numRuns: 400 },
    );
    // The properties above are only worth something if the histories reached these cases.
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.escalations).toBeGreaterThan(0);
    expect(seen.automaticActs).toBeGreaterThan(0);
    expect(seen.answeredDeadlinesChecked).toBeGreaterThan(0);
    expect(seen.terminalChecked).toBeGreaterThan(0);
    expect(seen.ladderSecondRung).toBeGreaterThan(0);
  });

  it('an answer at due time or earlier beats that deadline, whatever happened before', () => {
    let raced = 0;
    // Targeted version of (b): a random prefix, then an answer at due + offset (offset <= 0),
    // then the deadline fired at due + 1 ms. The deadline must not change anything.
    fc.assert(
      fc.property(
        historyArbOf(0, 8), // short prefixes: long ones mostly end closed, with no clock left to race
        fc.constantFrom<IncidentEvent>({ type: 'customer_fixed' }, { type: 'customer_false_positive' }, { type: 'customer_ack' }),
        fc.constantFrom(0, -1, -HOUR),
        ({ category, trusted, steps }, answer, offset) => {
          let i = transition(undefined, { type: 'open', id: 'x', hostId: 'h', customerId: 'c', category, trusted }, ctxAt0()).incident;
          let now = T0;
          for (const step of steps) {
            const { event, ctx } = applyStep(i, step, now);
            now = ctx.now;
            try {
              i = transition(i, event, ctx).incident;
            } catch (err) {
              if (!(err instanceof CordonError)) throw err;
            }
          }
          const due = nextDueAt(i, POLICY);
          fc.pre(due !== undefined && due.getTime() + offset >= now.getTime());
          let answered: Incident;
          try {
            answered = transition(i, answer, { ...ctxAt0(), now: new Date(due!.getTime() + offset) }).incident;
          } catch (err) {
            if (!(err instanceof CordonError)) throw err;
            fc.pre(false); // this answer does not apply in this state (e.g. acknowledge when already acknowledged)
            return;
          }
          const fired = transition(answered, { type: 'deadline', dueAt: due! }, { ...ctxAt0(), now: new Date(due!.getTime() + 1) });
          expect(fired.changed).toBe(false);
          expect(fired.incident).toEqual(answered);
          raced++;
        },
      ),
      { numRuns: 300 },
    );
    expect(raced).toBeGreaterThan(100); // most runs reached the race rather than being filtered out
  });
});

function ctxAt0(): Context {
  return { now: T0, policy: POLICY, automaticInLastHour: 0, customerEstablishedInWindow: 0, bmc: { reachable: true, checkedAt: T0 } };
}
