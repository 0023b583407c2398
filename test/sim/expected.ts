import type { PolicyConfig } from '../../controller/incidents/policy.js';
import type { Answer, Episode, OperatorPlan } from './scenario.js';

/**
 * What the DESIGN says must happen to one episode, computed from the
 * scenario's plan alone — never from the lifecycle's output. This is the
 * independent half of the simulation: if lifecycle.ts and this file disagree,
 * one of them is wrong.
 *
 * The rules used, from DESIGN.md:
 * - the notice starts two clocks: acknowledge within ackHours, resolve within resolveHours;
 * - fixed / false positive / plan recorded at or before the running due time stops it;
 *   a plan runs to its own due date; a rejected dispute gives a fresh resolveHours;
 * - the first deadline that passes unanswered escalates 1 ms after it (the timer fires then);
 * - an immediate category escalates at the intake of a trusted report (at open, or at the
 *   first trusted report while still unanswered);
 * - an incident stops taking complaints when an operator verifies, releases, accepts a
 *   dispute or dismisses it.
 */
export interface Expectation {
  noticeAt: number;
  ackDue: number;
  resolveDue: number;
  /** The first answer that stops the clock: fixed, false positive or plan (acknowledge does not). */
  firstAnswerAt: number | undefined;
  /** The due time that passed without a qualifying answer, if any. */
  missedDue: number | undefined;
  /** When the incident stops taking complaints (Infinity: never, within the run). */
  end: number;
  /** When it must escalate, if ever. */
  escalatedAt: number | undefined;
  /** Answered every deadline in time and never escalated: must never enforce. */
  inTime: boolean;
  /** The state the incident must end in. */
  finalState: 'closed' | 'dismissed' | 'open';
}

const HOUR = 3_600_000;

export function clocks(start: number, policy: PolicyConfig, category: Episode['category'], mailLatencyMs: number) {
  const c = policy.categories[category];
  const noticeAt = start + mailLatencyMs;
  return { noticeAt, ackDue: noticeAt + c.ackHours * HOUR, resolveDue: noticeAt + c.resolveHours * HOUR };
}

/** When the incident stops taking complaints, from the customer's answer and the operator's plan. */
export function expectedEnd(answer: Answer, op: OperatorPlan): number {
  switch (answer.kind) {
    case 'silent':
      return op.dismissAt ?? Infinity;
    case 'dispute':
      if (answer.accept) return answer.decideAt;
      return need(op.closeAt, 'closeAt');
    default:
      return need(op.closeAt, 'closeAt');
  }
}

export function expectEpisode(e: Episode, policy: PolicyConfig, mailLatencyMs: number): Expectation {
  const { noticeAt, ackDue, resolveDue } = clocks(e.start, policy, e.category, mailLatencyMs);
  const a = e.answer;
  const resolveMs = policy.categories[e.category].resolveHours * HOUR;

  let firstAnswerAt: number | undefined;
  let missedDue: number | undefined;
  switch (a.kind) {
    case 'fix':
      firstAnswerAt = a.fixAt;
      missedDue = a.fixAt > ackDue ? ackDue : undefined;
      break;
    case 'ack_fix':
      firstAnswerAt = a.fixAt;
      missedDue = a.ackAt > ackDue ? ackDue : a.fixAt > resolveDue ? resolveDue : undefined;
      break;
    case 'plan_fix':
      firstAnswerAt = a.planAt;
      missedDue = a.planAt > ackDue ? ackDue : a.fixAt > a.planDue ? a.planDue : undefined;
      break;
    case 'dispute': {
      firstAnswerAt = a.fpAt;
      const freshDue = a.decideAt + resolveMs;
      missedDue = a.fpAt > ackDue ? ackDue : !a.accept && a.fixAt !== undefined && a.fixAt > freshDue ? freshDue : undefined;
      break;
    }
    case 'silent':
      missedDue = ackDue;
      break;
  }

  const end = expectedEnd(a, e.operator);
  const trustedKinds = policy.trustedReporterKinds;
  const immediate = policy.categories[e.category].immediate;
  const candidates: number[] = [];
  if (immediate) {
    const firstTrusted = e.complaints.find((c) => trustedKinds.includes(c.reporterKind));
    // At open, or at the first trusted report if no answer was recorded before it (every
    // answer comes after the notice, so after the open). A complaint and an answer in the
    // same millisecond: the complaint is taken first.
    if (firstTrusted && (firstAnswerAt === undefined || firstTrusted.at <= firstAnswerAt)) {
      candidates.push(firstTrusted.at);
    }
  }
  // The deadline timer fires 1 ms after the due time, before anything else in that millisecond.
  if (missedDue !== undefined && missedDue + 1 <= end) candidates.push(missedDue + 1);
  const escalatedAt = candidates.length > 0 ? Math.min(...candidates) : undefined;

  const finalState =
    end === Infinity ? 'open' : a.kind === 'silent' || (a.kind === 'dispute' && a.accept) ? 'dismissed' : 'closed';

  return {
    noticeAt,
    ackDue,
    resolveDue,
    firstAnswerAt,
    missedDue,
    end,
    escalatedAt,
    inTime: a.kind !== 'silent' && missedDue === undefined && escalatedAt === undefined,
    finalState,
  };
}

function need(v: number | undefined, what: string): number {
  if (v === undefined) throw new Error(`scenario bug: missing ${what}`);
  return v;
}
