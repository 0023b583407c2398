import { expect } from 'vitest';
import { CordonError } from '../../../proto/runtime/CordonError.js';
import { transition, type Context, type Effect, type IncidentEvent, type Transition } from '../../../controller/incidents/lifecycle.js';
import type { Category, Incident, IncidentState } from '../../../controller/incidents/model.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../../../controller/incidents/policy.js';

/** Helpers shared by the lifecycle tests: a clock, a context, and real paths to every state. */

export const HOUR = 3_600_000;
export const T0 = new Date('2025-03-03T08:00:00.000Z');
export const at = (ms: number) => new Date(T0.getTime() + ms);

export function ctxAt(now: Date, over: Partial<Context> = {}): Context {
  // The host's console answered just now, unless a test says otherwise.
  return { now, policy: DEFAULT_POLICY, automaticInLastHour: 0, customerEstablishedInWindow: 0, bmc: { reachable: true, checkedAt: now }, ...over };
}

export function openEvent(category: Category = 'spam', trusted = true, id = 'inc-1'): Extract<IncidentEvent, { type: 'open' }> {
  return { type: 'open', id, hostId: 'host-1', customerId: 'cust-1', category, trusted };
}

/** Applies events in order from nothing, each at its own time; fails the test on a refusal. */
export function run(steps: Array<[IncidentEvent, Date, Partial<Context>?]>, policy: PolicyConfig = DEFAULT_POLICY): Incident {
  let incident: Incident | undefined;
  for (const [event, now, over] of steps) {
    incident = transition(incident, event, ctxAt(now, { policy, ...over })).incident;
  }
  if (!incident) throw new Error('run: no steps');
  return incident;
}

/** The one-line signature of an effect, so a table cell can list effects readably. */
export function sig(e: Effect): string {
  switch (e.type) {
    case 'mail':
      return `mail:${e.template}`;
    case 'host_actions':
      return `host:${e.actions.length === 0 ? 'none' : e.actions.map((a) => a.kind).join('+')}`;
    case 'operator_queue':
      return `queue:${e.hold}`;
    case 'termination_review':
      return 'termination_review';
    case 'bmc_check':
      return `bmc_check:${e.phase}`;
    case 'alert':
      return 'alert';
  }
}

/** Runs one transition and, when it throws, returns the CordonError instead. */
export function attempt(incident: Incident | undefined, event: IncidentEvent, ctx: Context): Transition | CordonError {
  try {
    return transition(incident, event, ctx);
  } catch (err) {
    if (err instanceof CordonError) return err;
    throw err;
  }
}

/** Asserts a refusal: a CordonError of an expected kind, and the input object untouched. */
export function expectRefused(incident: Incident, event: IncidentEvent, ctx: Context, kinds = ['conflict', 'invalid']): CordonError {
  const before = structuredClone(incident);
  const result = attempt(incident, event, ctx);
  expect(result, `${incident.state} + ${event.type} should be refused`).toBeInstanceOf(CordonError);
  const err = result as CordonError;
  expect(kinds).toContain(err.kind);
  expect(incident).toEqual(before);
  return err;
}

/**
 * One real path of events from nothing to each state (spam from a trusted
 * reporter unless said otherwise). Built through `transition` itself so every
 * fixture is a state the lifecycle can actually reach, not a hand-made object.
 * Each path returns the incident and the time of its last event.
 */
export const PATHS: Record<IncidentState, () => { incident: Incident; now: Date }> = {
  received: () => ({ incident: run([[openEvent(), at(0)]]), now: at(0) }),
  notified: () => ({ incident: run([[openEvent(), at(0)], [{ type: 'notice_sent' }, at(1000)]]), now: at(1000) }),
  acknowledged: () => ({
    incident: run([[openEvent(), at(0)], [{ type: 'notice_sent' }, at(1000)], [{ type: 'customer_ack' }, at(HOUR)]]),
    now: at(HOUR),
  }),
  customer_resolved: () => ({
    incident: run([[openEvent(), at(0)], [{ type: 'notice_sent' }, at(1000)], [{ type: 'customer_fixed' }, at(HOUR)]]),
    now: at(HOUR),
  }),
  disputed: () => ({
    incident: run([[openEvent(), at(0)], [{ type: 'notice_sent' }, at(1000)], [{ type: 'customer_false_positive' }, at(HOUR)]]),
    now: at(HOUR),
  }),
  plan_accepted: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_plan', dueAt: at(100 * HOUR) }, at(HOUR)],
    ]),
    now: at(HOUR),
  }),
  // Only an untrusted incident stays in `escalated`: a trusted one moves on to `enforcing` at once.
  escalated: () => ({
    incident: run([
      [openEvent('spam', false), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
    ]),
    now: at(1001 + 24 * HOUR),
  }),
  enforcing: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
    ]),
    now: at(1001 + 24 * HOUR),
  }),
  enforced: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
      [{ type: 'host_applied' }, at(25 * HOUR)],
    ]),
    now: at(25 * HOUR),
  }),
  release_requested: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
      [{ type: 'host_applied' }, at(25 * HOUR)],
      [{ type: 'customer_fixed' }, at(30 * HOUR)],
    ]),
    now: at(30 * HOUR),
  }),
  appealed: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
      [{ type: 'host_applied' }, at(25 * HOUR)],
      [{ type: 'customer_false_positive' }, at(30 * HOUR)],
    ]),
    now: at(30 * HOUR),
  }),
  releasing: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
      [{ type: 'host_applied' }, at(25 * HOUR)],
      [{ type: 'customer_fixed' }, at(30 * HOUR)],
      [{ type: 'operator_release', operator: 'alice' }, at(31 * HOUR)],
    ]),
    now: at(31 * HOUR),
  }),
  released: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'deadline', dueAt: at(1000 + 24 * HOUR) }, at(1001 + 24 * HOUR)],
      [{ type: 'host_applied' }, at(25 * HOUR)],
      [{ type: 'customer_fixed' }, at(30 * HOUR)],
      [{ type: 'operator_release', operator: 'alice' }, at(31 * HOUR)],
      [{ type: 'host_applied' }, at(31 * HOUR + 1000)],
    ]),
    now: at(31 * HOUR + 1000),
  }),
  closed: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'customer_fixed' }, at(HOUR)],
      [{ type: 'operator_verify', operator: 'alice' }, at(2 * HOUR)],
    ]),
    now: at(2 * HOUR),
  }),
  dismissed: () => ({
    incident: run([
      [openEvent(), at(0)],
      [{ type: 'notice_sent' }, at(1000)],
      [{ type: 'operator_dismiss', operator: 'alice', reason: 'not ours' }, at(HOUR)],
    ]),
    now: at(HOUR),
  }),
};
