import { CordonError } from '../../proto/runtime/CordonError.js';
import {
  ENFORCING_STATES,
  TERMINAL_STATES,
  WAITING_STATES,
  WAITING_FOR_OPERATOR,
  CUT_ACTIONS,
  type Action,
  type BmcFact,
  type Category,
  type Hold,
  type Incident,
  type IncidentState,
} from './model.js';
import type { PolicyConfig } from './policy.js';

/**
 * `termination`: the migration notice, sent only when an operator confirms a termination review.
 * `complaint_digest`: complaints that joined an open incident, at most one mail an hour; queued by
 * IncidentService on a merge, never by the lifecycle.
 */
export type MailTemplate =
  | 'notice'
  | 'escalated'
  | 'enforced'
  | 'released'
  /** Released by an operator while the agent is gone: the network side is open, the server's own rules may remain. */
  | 'released_agent_gone'
  | 'closed'
  | 'dismissed'
  | 'termination'
  | 'complaint_digest'
  /** An operator did not accept the customer's answer (a fix that does not hold, a dispute, an appeal): why, and what now. */
  | 'answer_rejected';

/** The customer's answer an operator did not accept, and the operator's reason, for the 'answer_rejected' mail. */
export interface RejectedAnswer {
  answer: 'fixed' | 'false_positive' | 'appeal';
  answeredAt: Date | undefined;
  reason: string;
}

/** What a transition asks the edges to do, written to the outbox in the same transaction. */
export type Effect =
  /** `actions`: what the mail names, when not the incident's own (a release names what it lifted). */
  | { type: 'mail'; template: MailTemplate; terminationReview: boolean; actions?: Action[]; rejected?: RejectedAnswer }
  /** Set this incident's actions on its own host (empty: remove them). */
  /** `automatic`: the policy decided it (counted against the hourly cap), not an operator. */
  | { type: 'host_actions'; actions: Action[]; reason: string; automatic: boolean }
  | { type: 'operator_queue'; hold: Hold; reason: string }
  | { type: 'termination_review' }
  /** Check the host's BMC now: before a held cut, or after a cut took effect. */
  | { type: 'bmc_check'; phase: 'before' | 'after' }
  /** The BMC stopped answering after a cut: operators must know at once. */
  | { type: 'alert'; reason: string };

export type IncidentEvent =
  | { type: 'open'; id: string; hostId: string; customerId: string; category: Category; trusted: boolean; openedBy?: 'complaint' | 'operator' }
  | { type: 'complaint'; trusted: boolean }
  | { type: 'notice_sent' }
  /** A delivery status notification said the notice did not reach the customer. */
  | { type: 'notice_bounced'; reason: string }
  | { type: 'customer_ack' }
  | { type: 'customer_fixed' }
  | { type: 'customer_false_positive' }
  | { type: 'customer_plan'; dueAt: Date }
  | { type: 'deadline'; dueAt: Date }
  | { type: 'operator_verify'; operator: string }
  | { type: 'operator_accept_dispute'; operator: string }
  /** `reason`: why, as the customer is told it (the desk requires one). */
  | { type: 'operator_reject_dispute'; operator: string; reason?: string | undefined }
  | { type: 'operator_dismiss'; operator: string; reason: string }
  /** An operator's action; `approvalId` names the second operator's grant when policy needed one. */
  | { type: 'operator_enforce'; operator: string; action: Action; reason: string; approvalId?: string | undefined }
  | { type: 'operator_release'; operator: string }
  /** The agent reported the host's current generation applied. */
  | { type: 'host_applied' }
  | { type: 'host_failed'; error: string }
  /** The switch confirmed the host's port shut (read back admin-down): a cut in force without the agent. */
  | { type: 'switch_cut' }
  /** The switch confirmed the host's port open again, and no cut of this incident is left on the agent's side. */
  | { type: 'switch_released' }
  /**
   * The agent never confirmed the lift and an operator finishes the release
   * anyway: the network side is open, the customer is told to remove what the
   * agent may have left on the server through its console (BMC). Reason required.
   */
  | { type: 'operator_release_agent_gone'; operator: string; reason: string }
  /** A BMC check of the incident's host finished. */
  | { type: 'bmc_result'; phase: 'before' | 'after'; reachable: boolean; checkedAt: Date; error?: string | undefined }
  /** An operator allows a cut although the BMC could not be verified. */
  | { type: 'operator_override_bmc'; operator: string; reason: string };

/** Facts the pure function needs from outside, gathered by the caller. */
export interface Context {
  now: Date;
  policy: PolicyConfig;
  /** Automatic enforcements started fleet-wide in the last hour. */
  automaticInLastHour: number;
  /** The customer's other established incidents within the recidivism window (this one excluded). */
  customerEstablishedInWindow: number;
  /** The latest check of the incident's host's BMC; undefined when it was never checked (or it has none). */
  bmc: BmcFact | undefined;
}

export interface Transition {
  incident: Incident;
  effects: Effect[];
  /** False when the event changed nothing (e.g. a stale deadline): nothing to record. */
  changed: boolean;
}

const HOUR = 3_600_000;
const addHours = (d: Date, h: number) => new Date(d.getTime() + h * HOUR);

function refuse(incident: Incident, event: IncidentEvent): never {
  throw new CordonError('conflict', `incident ${incident.id} is ${incident.state}: ${event.type.replace(/_/g, ' ')} does not apply`, {
    field: 'state',
  });
}

const ANSWER_WORDS: Partial<Record<IncidentState, string>> = {
  customer_resolved: 'says it is fixed: verify closes it; reject-dispute --reason R (the fix does not hold) sets a new deadline',
  disputed: 'says it is a false positive: verify accepts that; reject-dispute --reason R sets a new deadline',
  appealed: 'contests the restriction in force: verify --reason R lifts it; reject-dispute --reason R keeps it',
  release_requested: 'says it is fixed while restricted: release once checked',
};

function refuseOverAnswer(incident: Incident): never {
  const since = incident.answeredAt ? ` (since ${incident.answeredAt.toISOString()})` : '';
  throw new CordonError('conflict', `incident ${incident.id} is ${incident.state}: the customer ${ANSWER_WORDS[incident.state] ?? 'answered'}${since}; an operator's enforcement waits until that answer is decided`, {
    field: 'state',
  });
}

// A release waiting for its confirmation is over for complaints and decisions, as a released incident is.
const isOpen = (s: IncidentState) => !TERMINAL_STATES.includes(s) && s !== 'released' && s !== 'releasing';

/** The next time at which this incident's clock fires, if any. The scheduler keeps one timer for the earliest. */
export function nextDueAt(i: Incident, policy: PolicyConfig): Date | undefined {
  // The customer was never told: silence is not theirs, so no deadline runs (an enforced ladder still does).
  if (i.noticeUndeliveredAt !== undefined && WAITING_STATES.includes(i.state)) return undefined;
  switch (i.state) {
    case 'notified':
      return [i.ackDueAt, i.resolveDueAt].filter((d): d is Date => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0];
    case 'acknowledged':
    case 'plan_accepted':
      return i.resolveDueAt;
    case 'enforced': {
      const ladder = policy.categories[i.category].ladder;
      return i.hold === undefined && i.step + 1 < ladder.length && i.escalatedAt ? i.resolveDueAt : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The incident lifecycle: (incident, event, context) → (incident, effects).
 * Pure: no clock but ctx.now, no I/O. Refused events throw a `conflict`
 * CordonError and change nothing. A deadline event escalates only when the
 * incident still waits for exactly that deadline and `now` is past it, so an
 * answer recorded first always wins.
 */
export function transition(current: Incident | undefined, event: IncidentEvent, ctx: Context): Transition {
  if (event.type === 'open') {
    if (current) throw new CordonError('conflict', `incident ${current.id} already exists`);
    return open(event, ctx);
  }
  if (!current) throw new CordonError('not_found', `no incident for ${event.type}`);
  const i: Incident = { ...current, actions: [...current.actions] };
  const effects: Effect[] = [];
  const now = ctx.now;
  // Any answer of the customer shows the notice reached them.
  if (event.type.startsWith('customer_')) i.noticeUndeliveredAt = undefined;
  const done = (changed = true): Transition => {
    if (changed) settleEstablished(i, effects, ctx);
    return { incident: i, effects, changed };
  };

  switch (event.type) {
    case 'complaint':
      if (!isOpen(i.state)) refuse(i, event);
      i.complaintCount++;
      if (event.trusted && !i.trusted) {
        i.trusted = true;
        // A trusted report unblocks an incident held only for distrust.
        if (i.state === 'escalated' && i.hold === 'untrusted_reporter') decide(i, effects, ctx);
        // An immediate category escalates at the intake of its first trusted report, as it
        // would have at open had that report come first; an answer recorded before still wins.
        else if (ctx.policy.categories[i.category].immediate && ['received', 'notified', 'acknowledged'].includes(i.state)) {
          escalate(i, effects, ctx);
        }
      }
      return done();

    case 'notice_sent':
      if (i.noticeUndeliveredAt !== undefined && isOpen(i.state)) {
        // A notice delivered after one bounced: the customer hears of it only now, so the clock starts over.
        i.noticeUndeliveredAt = undefined;
        const stepClock = i.state === 'enforced' ? i.resolveDueAt : undefined;
        startClock(i, ctx);
        if (stepClock) i.resolveDueAt = stepClock;
        if (i.state === 'received') i.state = 'notified';
        return done();
      }
      if (i.state !== 'received') {
        // The notice of an incident escalated at intake: its deadlines run too.
        if (i.notifiedAt !== undefined || !isOpen(i.state)) return done(false);
        // An enforced incident's resolveDueAt is the ladder's step clock (see host_applied):
        // a notice recorded after the host's confirmation must not move the next rung.
        const stepClock = i.state === 'enforced' ? i.resolveDueAt : undefined;
        startClock(i, ctx);
        if (stepClock) i.resolveDueAt = stepClock;
        return done();
      }
      startClock(i, ctx);
      i.state = 'notified';
      return done();

    case 'notice_bounced':
      if (!isOpen(i.state) || i.noticeUndeliveredAt !== undefined) return done(false);
      i.noticeUndeliveredAt = now;
      effects.push({
        type: 'alert',
        reason: `the notice to the customer of ${i.hostId} was not delivered (${event.reason}); its deadlines are paused until a notice reaches them`,
      });
      return done();

    case 'customer_ack':
      if (i.state !== 'notified') refuse(i, event);
      i.state = 'acknowledged';
      i.acknowledgedAt = now;
      return done();

    case 'customer_fixed':
      if (['notified', 'acknowledged', 'plan_accepted', 'escalated', 'disputed'].includes(i.state)) {
        i.state = 'customer_resolved';
        i.answeredAt = now;
        clearHold(i);
        return done();
      }
      if (i.state === 'enforcing' || i.state === 'enforced' || i.state === 'appealed') {
        i.state = 'release_requested';
        i.answeredAt = now;
        // A cut still waiting for the BMC must not go ahead after the customer confirmed the fix.
        clearHold(i);
        return done();
      }
      return refuse(i, event);

    case 'customer_false_positive':
      if (i.state === 'enforcing' || i.state === 'enforced') {
        // An appeal: the restriction stays while an operator, asked at once, decides.
        i.state = 'appealed';
        i.answeredAt = now;
        clearHold(i);
        return done();
      }
      if (!['notified', 'acknowledged', 'plan_accepted', 'escalated'].includes(i.state)) refuse(i, event);
      i.state = 'disputed';
      i.answeredAt = now;
      clearHold(i);
      return done();

    case 'customer_plan':
      if (!['notified', 'acknowledged', 'escalated'].includes(i.state)) refuse(i, event);
      if (event.dueAt.getTime() <= now.getTime()) {
        throw new CordonError('invalid', 'a plan needs a due date in the future', { field: 'dueAt' });
      }
      // The same bound wherever the plan comes from (the page, an operator, the desk).
      if (event.dueAt.getTime() > now.getTime() + ctx.policy.maxPlanDays * 24 * HOUR) {
        throw new CordonError('invalid', `a plan may be due at most ${ctx.policy.maxPlanDays} days from now (policy.maxPlanDays)`, { field: 'dueAt' });
      }
      i.state = 'plan_accepted';
      i.answeredAt = now;
      i.resolveDueAt = event.dueAt;
      clearHold(i);
      return done();

    case 'deadline': {
      const due = nextDueAt(i, ctx.policy);
      // Stale or early: an answer or another event got there first.
      if (!due || due.getTime() !== event.dueAt.getTime() || now.getTime() <= due.getTime()) return done(false);
      if (i.state === 'enforced') {
        decide(i, effects, ctx); // next rung of the ladder
        return done();
      }
      // The customer let a deadline pass: the incident is overdue, which is what makes an enforcement established.
      i.overdue = true;
      escalate(i, effects, ctx);
      return done();
    }

    case 'operator_verify':
      if (i.state !== 'customer_resolved') refuse(i, event);
      close(i, effects, now, 'closed');
      return done();

    case 'operator_accept_dispute':
      if (i.state === 'appealed') {
        // The appeal holds: what this incident put on the host goes.
        if (i.actions.length > 0) effects.push({ type: 'host_actions', actions: [], reason: `appeal accepted by ${event.operator}`, automatic: false });
        close(i, effects, now, 'dismissed');
        return done();
      }
      if (i.state !== 'disputed') refuse(i, event);
      close(i, effects, now, 'dismissed');
      return done();

    case 'operator_reject_dispute': {
      const answer = ({ customer_resolved: 'fixed', disputed: 'false_positive', appealed: 'appeal' } as const)[i.state as 'customer_resolved' | 'disputed' | 'appealed'];
      if (!answer) refuse(i, event);
      // The customer hears that their answer was not accepted, why, and what now.
      const rejected: RejectedAnswer = { answer, answeredAt: i.answeredAt, reason: event.reason?.trim() || 'no reason given' };
      if (i.state === 'appealed') {
        // The restriction stays; the ladder's clock starts again from the decision.
        i.state = 'enforced';
        i.resolveDueAt = addHours(now, ctx.policy.ladderStepHours);
      } else {
        // A fix that does not hold, or a dispute that fails: the complaint stands, with a fresh resolve deadline.
        i.state = 'acknowledged';
        i.resolveDueAt = addHours(now, ctx.policy.categories[i.category].resolveHours);
      }
      effects.push({ type: 'mail', template: 'answer_rejected', terminationReview: false, rejected });
      return done();
    }

    case 'operator_dismiss':
      // A release in flight ends by confirmation or by release --agent-gone, never by a dismissal that would claim nothing remains.
      if (!isOpen(i.state)) refuse(i, event);
      if (i.actions.length > 0) effects.push({ type: 'host_actions', actions: [], reason: `dismissed by ${event.operator}: ${event.reason}`, automatic: false });
      close(i, effects, now, 'dismissed');
      return done();

    case 'operator_enforce': {
      if (!isOpen(i.state)) refuse(i, event);
      // The customer answered and waits to be heard: no operator acts over that answer (an approval
      // asked for before it came in included); the answer is decided first, with its reason on record.
      if (WAITING_FOR_OPERATOR.includes(i.state)) refuseOverAnswer(i);
      i.escalatedAt ??= now;
      if (event.approvalId) i.approvalId = event.approvalId;
      // An operator's cut passes the same gate as the policy's: the console must answer first.
      const why = CUT_ACTIONS.includes(event.action.kind) ? bmcVerified(ctx) : undefined;
      if (why) {
        i.pendingAction = event.action;
        i.pendingReason = `by ${event.operator}: ${event.reason}`;
        if (!ENFORCING_STATES.includes(i.state)) i.state = 'escalated';
        i.hold = 'bmc_unreachable';
        effects.push({ type: 'operator_queue', hold: 'bmc_unreachable', reason: `${event.action.kind} by ${event.operator} waits: ${why}` });
        effects.push({ type: 'bmc_check', phase: 'before' });
        return done();
      }
      if (CUT_ACTIONS.includes(event.action.kind)) i.bmcVerifiedAt = ctx.bmc!.checkedAt;
      operatorAct(i, effects, event.action, `by ${event.operator}: ${event.reason}`);
      return done();
    }

    case 'operator_release':
      // Asked again while the lift waits for its confirmation: nothing new to do, nothing sent twice.
      if (i.state === 'releasing') return done(false);
      if (i.state !== 'release_requested') {
        throw new CordonError(
          'conflict',
          i.state === 'enforced' || i.state === 'enforcing'
            ? `incident ${i.id} has no customer confirmation of the fix; record it first (incident answer --fixed)`
            : `incident ${i.id} is ${i.state}: nothing to release`,
          { field: 'state' },
        );
      }
      // The lift is asked of the host; the customer hears of it once the agent (or the switch) confirms it.
      // The incident keeps naming what it lifts until then.
      i.state = 'releasing';
      effects.push({ type: 'host_actions', actions: [], reason: `released by ${event.operator} after the customer confirmed the fix`, automatic: false });
      return done();

    case 'operator_release_agent_gone': {
      if (i.state !== 'releasing') {
        throw new CordonError('conflict', `incident ${i.id} is ${i.state}: only a release waiting for its agent can be finished without it (incident release first)`, { field: 'state' });
      }
      if (!event.reason.trim()) throw new CordonError('invalid', 'finishing a release without the agent needs a reason', { field: 'reason' });
      const lifted = i.actions;
      i.state = 'released';
      i.actions = [];
      effects.push({ type: 'mail', template: 'released_agent_gone', terminationReview: false, actions: lifted });
      return done();
    }

    case 'switch_cut':
      // The switch holds the cut where the agent could not confirm it: enforced by the network side.
      if (i.state !== 'enforcing' || !i.actions.some((a) => CUT_ACTIONS.includes(a.kind))) return done(false);
      confirmEnforced(i, effects, ctx);
      return done();

    case 'switch_released': {
      if (i.state !== 'releasing') return done(false);
      const lifted = i.actions;
      i.state = 'released';
      i.actions = [];
      effects.push({ type: 'mail', template: 'released', terminationReview: false, actions: lifted });
      return done();
    }

    case 'host_applied':
      if (i.state === 'enforcing') {
        confirmEnforced(i, effects, ctx);
        return done();
      }
      if (i.state === 'releasing') {
        // The agent holds the generation without this incident's actions: the lift is real, the customer is told.
        const lifted = i.actions;
        i.state = 'released';
        i.actions = [];
        effects.push({ type: 'mail', template: 'released', terminationReview: false, actions: lifted });
        return done();
      }
      if (i.state === 'released') {
        close(i, effects, now, 'closed');
        return done();
      }
      return done(false);

    case 'host_failed':
      if (i.state !== 'enforcing') return done(false);
      effects.push({ type: 'operator_queue', hold: 'operator_decision', reason: `the host could not apply: ${event.error}` });
      return done();

    case 'bmc_result': {
      const fact: BmcFact = { reachable: event.reachable, checkedAt: event.checkedAt, error: event.error };
      if (event.phase === 'before') {
        // Only a cut held for its BMC moves on; anything else ignores the result.
        if (i.hold !== 'bmc_unreachable' || !isOpen(i.state) || i.state === 'release_requested') return done(false);
        if (!event.reachable) return done(false);
        if (i.pendingAction) {
          i.bmcVerifiedAt = event.checkedAt;
          operatorAct(i, effects, i.pendingAction, i.pendingReason ?? 'by an operator');
        } else decide(i, effects, { ...ctx, bmc: fact });
        return done();
      }
      if (!ENFORCING_STATES.includes(i.state) || !i.actions.some((a) => CUT_ACTIONS.includes(a.kind))) return done(false);
      if (event.reachable) {
        i.bmcVerifiedAt = event.checkedAt;
        return done();
      }
      effects.push({ type: 'alert', reason: `the BMC of ${i.hostId} stopped answering after the cut: ${event.error ?? 'no answer'}` });
      return done();
    }

    case 'operator_override_bmc':
      if (i.hold !== 'bmc_unreachable' || !isOpen(i.state) || i.state === 'release_requested') refuse(i, event);
      if (i.pendingAction) operatorAct(i, effects, i.pendingAction, `${i.pendingReason ?? 'by an operator'}; BMC check overridden by ${event.operator}: ${event.reason}`);
      else decide(i, effects, ctx, { bmcOverride: `${event.operator}: ${event.reason}` });
      return done();
  }
}

/** The host (its agent, or the switch for a cut) confirmed the incident's actions in force. */
function confirmEnforced(i: Incident, effects: Effect[], ctx: Context): void {
  i.state = 'enforced';
  // The next rung waits ladderStepHours from now, reusing resolveDueAt as the step clock.
  i.resolveDueAt = addHours(ctx.now, ctx.policy.ladderStepHours);
  effects.push({ type: 'mail', template: 'enforced', terminationReview: false });
  // A cut is in place: make sure the console still answers.
  if (i.actions.some((a) => CUT_ACTIONS.includes(a.kind))) effects.push({ type: 'bmc_check', phase: 'after' });
}

function open(event: Extract<IncidentEvent, { type: 'open' }>, ctx: Context): Transition {
  const policy = ctx.policy.categories[event.category];
  const i: Incident = {
    id: event.id,
    hostId: event.hostId,
    customerId: event.customerId,
    category: event.category,
    state: 'received',
    trusted: event.trusted,
    openedAt: ctx.now,
    notifiedAt: undefined,
    ackDueAt: undefined,
    resolveDueAt: undefined,
    acknowledgedAt: undefined,
    answeredAt: undefined,
    escalatedAt: undefined,
    step: -1,
    actions: [],
    hold: undefined,
    closedAt: undefined,
    complaintCount: 1,
    established: false,
    overdue: false,
    openedBy: event.openedBy ?? 'complaint',
  };
  const effects: Effect[] = [];
  // Opening counts for nothing: an incident counts toward a termination review only once established.
  effects.push({ type: 'mail', template: 'notice', terminationReview: false });
  if (policy.immediate && event.trusted) escalate(i, effects, ctx);
  return { incident: i, effects, changed: true };
}

function startClock(i: Incident, ctx: Context): void {
  const policy = ctx.policy.categories[i.category];
  i.notifiedAt = ctx.now;
  i.ackDueAt = addHours(ctx.now, policy.ackHours);
  i.resolveDueAt = addHours(ctx.now, policy.resolveHours);
}

function escalate(i: Incident, effects: Effect[], ctx: Context): void {
  i.state = 'escalated';
  i.escalatedAt = ctx.now;
  effects.push({ type: 'mail', template: 'escalated', terminationReview: false });
  decide(i, effects, ctx);
}

/** Whether the host's console answered recently enough to cut its public network. */
function bmcVerified(ctx: Context): string | undefined {
  const b = ctx.bmc;
  if (!b) return 'the BMC was never checked';
  if (!b.reachable) return `the BMC did not answer (${b.error ?? 'no reply'})`;
  const ageMin = (ctx.now.getTime() - b.checkedAt.getTime()) / 60_000;
  if (ageMin > ctx.policy.bmcFreshMinutes) return `the last BMC check is ${Math.round(ageMin)} min old`;
  return undefined;
}

/** The policy's decision for an escalated (or enforced, unanswered) incident: the next rung, or a hold. */
function decide(i: Incident, effects: Effect[], ctx: Context, opts: { bmcOverride?: string } = {}): void {
  const ladder = ctx.policy.categories[i.category].ladder;
  const next = ladder[i.step + 1];
  const hold = (h: Hold, reason: string) => {
    i.hold = h;
    effects.push({ type: 'operator_queue', hold: h, reason });
  };
  if (!next) return hold('operator_decision', i.step < 0 ? `${i.category}: no automatic action, an operator decides` : 'the ladder is exhausted');
  if (!i.trusted) return hold('untrusted_reporter', 'only untrusted reporters: an operator decides');
  if (ctx.automaticInLastHour >= ctx.policy.maxAutomaticPerHour) {
    return hold('rate_limit', `${ctx.automaticInLastHour} automatic enforcements in the last hour (limit ${ctx.policy.maxAutomaticPerHour})`);
  }
  if (CUT_ACTIONS.includes(next.kind) && !opts.bmcOverride) {
    const why = bmcVerified(ctx);
    if (why) {
      // The customer could not repair the server without its console: ask for
      // a check now; the cut waits for a good answer or an operator's override.
      hold('bmc_unreachable', `${next.kind} waits: ${why}`);
      effects.push({ type: 'bmc_check', phase: 'before' });
      return;
    }
    i.bmcVerifiedAt = ctx.bmc!.checkedAt;
  }
  i.hold = undefined;
  i.step++;
  i.actions = mergeAction(i.actions, next);
  i.state = 'enforcing';
  effects.push({ type: 'host_actions', actions: i.actions, reason: `${i.category} unanswered: ladder step ${i.step + 1} (${next.kind})`, automatic: true });
}

/** An operator's action takes effect on the incident's own host. */
function operatorAct(i: Incident, effects: Effect[], action: Action, reason: string): void {
  clearHold(i);
  i.actions = mergeAction(i.actions, action);
  i.state = 'enforcing';
  effects.push({ type: 'host_actions', actions: i.actions, reason, automatic: false });
}

function clearHold(i: Incident): void {
  i.hold = undefined;
  i.pendingAction = undefined;
  i.pendingReason = undefined;
}

/**
 * Whether the incident counts toward the customer's termination review:
 * a trusted complaint (not an operator's own incident) that the customer
 * acknowledged, said fixed, or left unanswered past a deadline until an
 * enforcement took effect. Dismissed never counts. Becoming established
 * flags a review when the customer's other established incidents in the
 * window reach the threshold; the review is an operator's to confirm.
 */
function settleEstablished(i: Incident, effects: Effect[], ctx: Context): void {
  if (i.state === 'dismissed') {
    i.established = false;
    return;
  }
  if (i.established || !i.trusted || i.openedBy !== 'complaint') return;
  const answered = i.acknowledgedAt !== undefined || i.state === 'customer_resolved' || i.state === 'release_requested';
  const enforcedOverdue = i.overdue && i.state === 'enforced';
  if (!answered && !enforcedOverdue) return;
  i.established = true;
  if (ctx.customerEstablishedInWindow + 1 >= ctx.policy.recidivism.incidents) effects.push({ type: 'termination_review' });
}

function mergeAction(actions: Action[], add: Action): Action[] {
  return [...actions.filter((a) => a.kind !== add.kind), add];
}

function close(i: Incident, effects: Effect[], now: Date, state: 'closed' | 'dismissed'): void {
  i.state = state;
  i.closedAt = now;
  clearHold(i);
  i.actions = [];
  effects.push({ type: 'mail', template: state, terminationReview: false });
}

/** An incident whose host currently carries (or is getting) its actions. */
export function holdsHost(i: Incident): boolean {
  return ENFORCING_STATES.includes(i.state) && i.actions.length > 0;
}

/** Whether this incident still counts as open for merging complaints (one per host and category). */
export function acceptsComplaints(i: Incident): boolean {
  return isOpen(i.state);
}

export { WAITING_STATES };
