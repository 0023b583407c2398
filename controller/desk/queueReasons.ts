import { describeAction } from '../dispatch/toProtoState.js';
import { TERMINAL_STATES, type Incident } from '../incidents/model.js';

/**
 * Everything that waits for a person at the desk, most urgent first: the
 * queue's order, read top to bottom. A restricted customer who asked to be
 * heard comes first, then a restriction that is not where the desired state
 * says (the agent failed, or cannot be reached) and a cut host whose console
 * stopped answering: each is a host cut or left open against the rules.
 * Then the customer's answers an operator verifies, escalations held back,
 * what the customer wrote, a customer who was never told, and last reports
 * that have no incident yet. Within one reason, the longest waiting first.
 *
 * `about`: what an entry names. An incident entry carries the incident; a
 * host entry the host (`host_id`) and the oldest incident holding a
 * restriction there, if any; a report entry the complaint and the incident
 * it would join, if any.
 */
export const QUEUE_REASONS = [
  { why: 'appealed', about: 'incident', means: 'a restricted customer contests the restriction; it stays until an operator decides' },
  { why: 'release_requested', about: 'incident', means: 'a restricted customer says the problem is fixed and asks for the release' },
  { why: 'releasing', about: 'incident', means: 'released by an operator, the lift not yet confirmed by the agent or the switch: the customer is not told until it is' },
  { why: 'switch_failed', about: 'host', means: 'the switch of a host Cordon may have to cut refuses or cannot be reached (host key changed, key refused, timeout): no cut or release is claimed through it' },
  { why: 'enforcement_failed', about: 'host', means: "the host's connected agent reported an error applying the current desired state" },
  { why: 'agent_unreachable', about: 'host', means: "the host's current desired state (a restriction, or its release) has not reached the agent, which is not connected" },
  { why: 'bmc_alert', about: 'host', means: "a cut (isolate, nic_down) is in force and the host's BMC did not answer its latest check: the customer has no console" },
  { why: 'customer_resolved', about: 'incident', means: 'the customer says fixed; an operator verifies' },
  { why: 'disputed', about: 'incident', means: 'the customer says false positive; an operator decides' },
  { why: 'held', about: 'incident', means: 'escalated but held back: untrusted reporter, BMC unreachable, rate limit, approval or operator decision' },
  { why: 'unseen_messages', about: 'incident', means: "the customer wrote (the page, a mail reply) and no operator has marked it seen" },
  { why: 'notice_bounced', about: 'incident', means: 'the notice bounced: the customer was not told and the deadlines wait' },
  { why: 'needs_info', about: 'report', means: 'a report that could not be read or routed with confidence (incomplete, anonymous, unparseable)' },
  { why: 'held_report', about: 'report', means: "a report about an event older than the host's last resolution (a replay or a stale copy), held for review" },
] as const;

export type QueueWhy = (typeof QUEUE_REASONS)[number]['why'];
export const QUEUE_ORDER: readonly QueueWhy[] = QUEUE_REASONS.map((r) => r.why);

/** Why one thing waits, in words, and since when. */
export interface QueueReason {
  why: QueueWhy;
  reason: string;
  since: Date;
}

export interface QueueFacts {
  /** The customer's messages no operator has seen: how many, and the oldest's time. */
  unseen?: { count: number; oldest: Date } | undefined;
  /** When the incident's current hold was set (its last `held` event), if known. */
  heldAt?: Date | undefined;
  /** When an operator released it (its last `operator_release` event), if known. */
  releasedAt?: Date | undefined;
}

const isOpen = (i: Incident) => !TERMINAL_STATES.includes(i.state) && i.state !== 'released';

/**
 * The first reason, in QUEUE_ORDER, why this incident waits for a person,
 * with since when; undefined when it waits for nobody. Pure.
 */
export function queueReason(i: Incident, facts: QueueFacts): QueueReason | undefined {
  const answered = i.answeredAt ?? i.openedAt;
  const actions = i.actions.map(describeAction).join(', ') || 'no action in force';
  switch (i.state) {
    case 'appealed':
      return { why: 'appealed', since: answered, reason: `the customer contests the restriction (${actions}); it stays until an operator decides: verify lifts it, reject-dispute keeps it (--reason)` };
    case 'release_requested':
      return { why: 'release_requested', since: answered, reason: `the customer says fixed while restricted (${actions}): release once checked` };
    case 'releasing':
      return {
        why: 'releasing',
        since: facts.releasedAt ?? answered,
        reason: `released (${actions}), the lift not confirmed yet: waits for the agent's report or the switch port; the customer is told only then (incident show for why; release --agent-gone --reason R if the agent never returns)`,
      };
    case 'customer_resolved':
      return { why: 'customer_resolved', since: answered, reason: 'the customer says fixed: verify closes it; reject-dispute --reason R (the abuse goes on) sets a new deadline; no enforcement until decided' };
    case 'disputed':
      return { why: 'disputed', since: answered, reason: 'the customer says false positive: verify accepts, reject-dispute sets a new deadline' };
    default:
      break;
  }
  if (isOpen(i) && i.hold !== undefined) {
    const pending = i.pendingAction ? `, ${describeAction(i.pendingAction)} pending` : '';
    return { why: 'held', since: facts.heldAt ?? i.escalatedAt ?? i.openedAt, reason: `${i.state}, held: ${i.hold.replace(/_/g, ' ')}${pending}` };
  }
  if (facts.unseen && facts.unseen.count > 0) {
    const n = facts.unseen.count;
    return { why: 'unseen_messages', since: facts.unseen.oldest, reason: `${n} message${n === 1 ? '' : 's'} from the customer no operator has seen (incident seen)` };
  }
  if (isOpen(i) && i.noticeUndeliveredAt !== undefined) {
    return { why: 'notice_bounced', since: i.noticeUndeliveredAt, reason: 'the notice bounced: the customer was not told and the deadlines wait; check the contact, then resend-link' };
  }
  return undefined;
}

/** A host's desired state against what its agent last said (host_desired, host_status, the agent's session). */
export interface HostDispatchFacts {
  generation: number;
  /** When the current generation was issued. */
  issuedAt: Date;
  /** The agent's last report, if it ever reported. */
  status?: { status: string; appliedGeneration: number | undefined; error: string | undefined; reportedAt: Date } | undefined;
  /** Whether the agent is connected now (hostDesk's dispatch status asks the same). */
  connected: boolean;
  /** The actions in force on the host (desired), in words; empty after a release. */
  inForce: readonly string[];
}

/**
 * Why a host's enforcement waits for a person, as the host page's dispatch
 * status reads it (hostDesk.getHost): the current generation not applied
 * while the agent is disconnected (agent_unreachable), or the connected
 * agent reported an error since that generation was issued
 * (enforcement_failed). A connected agent that has not answered yet is on
 * its way and waits for nobody; so does a host whose agent never reported
 * and that holds nothing (nothing reached it, nothing is left to lift).
 * Since: when the generation that is not in place was issued. Pure.
 */
export function enforcementReason(f: HostDispatchFacts): QueueReason | undefined {
  if (f.generation === 0) return undefined;
  if (f.status?.status === 'applied' && f.status.appliedGeneration === f.generation) return undefined;
  if (!f.status && f.inForce.length === 0) return undefined;
  const held = f.status?.appliedGeneration !== undefined ? `generation ${f.status.appliedGeneration}` : 'nothing reported';
  const what = f.inForce.length > 0 ? `${f.inForce.join(', ')} (generation ${f.generation})` : `the release (generation ${f.generation}: nothing in force)`;
  if (!f.connected) {
    const left = f.inForce.length > 0 ? 'the restriction is not in place' : 'whatever the agent last applied is still in force';
    return { why: 'agent_unreachable', since: f.issuedAt, reason: `${what} has not reached the host: its agent is not connected (${held}); ${left}` };
  }
  if (f.status?.status === 'failed' && f.status.reportedAt.getTime() >= f.issuedAt.getTime()) {
    return { why: 'enforcement_failed', since: f.issuedAt, reason: `the agent could not apply ${what}: ${f.status.error ?? 'no error given'} (reported ${f.status.reportedAt.toISOString()})` };
  }
  return undefined;
}

/** A host's switch port and the switch's failure since it last confirmed. */
export interface SwitchFailureFacts {
  switchId: string;
  port: string;
  portDown: boolean;
  failure: { kind: string; error: string; since: Date } | undefined;
}

/** A switch that fails for a host: nothing is claimed through it until it answers again. Since: its first failure. Pure. */
export function switchReason(f: SwitchFailureFacts): QueueReason | undefined {
  if (!f.failure) return undefined;
  const holds = f.portDown ? 'Cordon holds the port shut but cannot confirm or reopen it' : 'a cut that falls back to the switch cannot be made';
  return { why: 'switch_failed', since: f.failure.since, reason: `switch ${f.switchId} port ${f.port}: ${f.failure.kind}: ${f.failure.error}; ${holds}` };
}

/** A host with a cut in force and its BMC's checks. */
export interface BmcAlertFacts {
  /** The cuts in force, in words. */
  cuts: readonly string[];
  latest: { reachable: boolean; at: Date; error: string | undefined };
  /** The first check that failed since the last one that answered. */
  downSince: Date | undefined;
}

/**
 * A cut host whose console does not answer: the lifecycle's "stopped
 * answering after the cut" alert, still true. It waits until a check
 * answers again or the cut is lifted. Since: the first failed check since
 * the BMC last answered. Pure.
 */
export function bmcAlertReason(f: BmcAlertFacts): QueueReason | undefined {
  if (f.cuts.length === 0 || f.latest.reachable) return undefined;
  return {
    why: 'bmc_alert',
    since: f.downSince ?? f.latest.at,
    reason: `${f.cuts.join(', ')} in force and the BMC does not answer (latest check ${f.latest.at.toISOString()}: ${f.latest.error || 'no answer'}): the customer cannot reach the console; check the BMC or lift the cut`,
  };
}

/** A report that no incident took. */
export interface ReportFacts {
  status: string;
  receivedAt: Date;
  reason: string | undefined;
  /** For a held report: the open incident admitting it would add it to; undefined: admitting it opens one. */
  wouldJoin?: string | undefined;
}

/** Why a report waits for a person (needs_info, held); undefined for any other status. Pure. */
export function reportReason(c: ReportFacts): QueueReason | undefined {
  if (c.status === 'needs_info') {
    return { why: 'needs_info', since: c.receivedAt, reason: `${c.reason || 'incomplete'}: read the report, then submit it by hand or leave it` };
  }
  if (c.status === 'held') {
    const then = c.wouldJoin ? `admitting it adds it to open incident ${c.wouldJoin}` : 'admitting it opens a new incident';
    return { why: 'held_report', since: c.receivedAt, reason: `${c.reason || 'held for an operator'}; complaint admit|dismiss --reason: ${then}` };
  }
  return undefined;
}

/** Orders queue entries: by QUEUE_ORDER, then the longest waiting first, then by id (incident, host or complaint). Pure. */
export function compareQueue(a: { why: QueueWhy; since: Date; id: string }, b: { why: QueueWhy; since: Date; id: string }): number {
  return QUEUE_ORDER.indexOf(a.why) - QUEUE_ORDER.indexOf(b.why) || a.since.getTime() - b.since.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
