import type { Enforcement } from '../../../proto/gen/cordon/v1/agent.js';
import { Answer, Decision } from '../../../proto/gen/cordon/v1/desk.js';
import { asCordonError } from '../../../proto/runtime/CordonError.js';
import type { Action, Incident } from '../../../controller/incidents/model.js';
import type { PolicyConfig } from '../../../controller/incidents/policy.js';
import { Rng } from '../rng.js';
import type { DeliveredMail, Harness } from './harness.js';
import type { Scenario } from './scenario.js';
import type { Tally } from './tally.js';

/**
 * The people around the controller. Customers read their notices (the
 * deadlines the mail states) and answer through the desk — in time, late, or
 * never, as their disposition draws. Operators go through the desk in
 * sweeps: approve or reject each other's requests, admit or dismiss held
 * complaints, verify, release, dismiss, enforce by hand, override a dead
 * BMC, decide termination reviews. Every decision is drawn from an RNG keyed
 * by stable names (host, category, opening time, sweep number), never by the
 * service's random ids, so a seed replays the same story.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export type Behaviour = 'fix' | 'ack_fix' | 'plan' | 'dispute' | 'late' | 'silent';
export const IN_TIME: readonly Behaviour[] = ['fix', 'ack_fix', 'plan', 'dispute'];

export interface AnswerRecord {
  kind: 'ack' | 'fixed' | 'false_positive' | 'plan';
  /** When the desk took it, and the deadline it was meant to meet (Infinity: none, a late answer). */
  at: number;
  due: number;
  ok: boolean;
  /** The incident's state when the desk refused the answer. */
  refusedIn?: string | undefined;
  error?: string | undefined;
}

/** What one customer meant to do about one incident, what the notice told them, and what they did. */
export interface CustomerCase {
  incidentId: string;
  hostId: string;
  customerId: string;
  behaviour: Behaviour;
  noticeAt: number;
  statedAckDue: number;
  statedResolveDue: number;
  answers: AnswerRecord[];
}

/** Something to do at a time; the world runs them in time order. */
export interface Agenda {
  add(at: number, label: string, run: () => Promise<void>): void;
}

function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** An RNG for one named decision of this world. */
export const rngFor = (seed: number, name: string) => new Rng((seed ^ hashOf(name)) >>> 0);

const stableKey = (i: Incident) => `${i.hostId}|${i.category}|${i.openedAt.getTime()}`;

export function toProto(a: Action): Enforcement {
  const action: Enforcement['action'] =
    a.kind === 'smtp_block'
      ? { $case: 'smtpBlock', value: { ports: [], allowedRelays: [] } }
      : a.kind === 'throttle'
        ? { $case: 'throttle', value: { rateBps: BigInt(a.rateBps) } }
        : a.kind === 'isolate'
          ? { $case: 'isolate', value: {} }
          : { $case: 'nicDown', value: {} };
  return { id: '', incidentId: '', reason: '', action };
}

export class Customers {
  readonly cases = new Map<string, CustomerCase>();
  private readonly disposition: Map<string, string>;

  constructor(
    private readonly s: Scenario,
    private readonly h: Harness,
    private readonly agenda: Agenda,
    private readonly tally: Tally,
  ) {
    this.disposition = new Map(s.customers.map((c) => [c.id, c.disposition]));
  }

  onMail(m: DeliveredMail): void {
    const i = m.payload?.incident;
    if (!m.incidentId || !i) return;
    if (m.template === 'notice') this.onNotice(m, i as unknown as Record<string, unknown>);
    else if (m.template === 'enforced') this.onEnforced(m.incidentId);
  }

  private onNotice(m: DeliveredMail, i: Record<string, unknown>): void {
    const incidentId = m.incidentId!;
    if (this.cases.has(incidentId)) return;
    const hostId = String(i.hostId);
    const customerId = String(i.customerId);
    // The deadlines as the customer was told them (the payload is stored JSON: dates are ISO strings).
    const statedAckDue = Date.parse(String(i.ackDueAt));
    const statedResolveDue = Date.parse(String(i.resolveDueAt));
    const rng = rngFor(this.s.seed, `customer|${hostId}|${String(i.category)}|${Date.parse(String(i.openedAt))}`);
    const d = this.disposition.get(customerId);
    const behaviour = (
      d === 'diligent'
        ? rng.weighted({ fix: 35, ack_fix: 30, plan: 20, dispute: 15 })
        : d === 'mixed'
          ? rng.weighted({ fix: 20, ack_fix: 15, plan: 10, dispute: 10, late: 20, silent: 25 })
          : rng.weighted({ fix: 5, ack_fix: 5, late: 35, silent: 55 })
    ) as Behaviour;
    const c: CustomerCase = { incidentId, hostId, customerId, behaviour, noticeAt: m.at, statedAckDue, statedResolveDue, answers: [] };
    this.cases.set(incidentId, c);
    this.tally.count(`customer ${behaviour}`);
    const now = m.at;
    // Some answers land on the stated due millisecond itself: that is still in time.
    const before = (due: number, from = now) => (rng.chance(0.15) ? due : rng.int(from, due));
    switch (behaviour) {
      case 'fix':
        this.answer(c, before(statedAckDue), statedAckDue, 'fixed');
        break;
      case 'ack_fix': {
        const ackAt = before(statedAckDue);
        this.answer(c, ackAt, statedAckDue, 'ack');
        this.answer(c, before(statedResolveDue, ackAt + 1), statedResolveDue, 'fixed');
        break;
      }
      case 'plan': {
        const planAt = before(statedAckDue);
        const planDue = planAt + rng.int(DAY, 6 * DAY);
        this.answer(c, planAt, statedAckDue, 'plan', planDue);
        this.answer(c, before(planDue, planAt + 1), planDue, 'fixed');
        break;
      }
      case 'dispute':
        this.answer(c, before(statedAckDue), statedAckDue, 'false_positive');
        break;
      case 'late':
        this.answer(c, statedAckDue + (rng.chance(0.2) ? 1 : rng.int(1, 2 * DAY)), Infinity, rng.chance(0.5) ? 'ack' : 'fixed');
        break;
      case 'silent':
        break;
    }
  }

  /** A silent or late customer may wake up once their server is restricted, and say it is fixed. */
  private onEnforced(incidentId: string): void {
    const c = this.cases.get(incidentId);
    if (!c || IN_TIME.includes(c.behaviour) || c.answers.some((a) => a.kind === 'fixed' && a.ok)) return;
    const rng = rngFor(this.s.seed, `wakeup|${c.hostId}|${c.noticeAt}|${c.answers.length}`);
    if (rng.chance(0.5)) this.answer(c, this.h.clock.now().getTime() + rng.int(HOUR, 3 * DAY), Infinity, 'fixed');
  }

  /** The operator rejected the customer's dispute: an in-time customer fixes well within the fresh resolve deadline. */
  onDisputeRejected(incidentId: string): void {
    const c = this.cases.get(incidentId);
    if (!c) return;
    const rng = rngFor(this.s.seed, `rejected|${c.hostId}|${c.noticeAt}`);
    const now = this.h.clock.now().getTime();
    // The fresh resolve deadline the rejection set (lifecycle: now + resolveHours).
    const due = now + this.resolveHours(c) * HOUR;
    this.answer(c, now + rng.int(HOUR, DAY), due, 'fixed');
  }

  private resolveHours(c: CustomerCase): number {
    return (c.statedResolveDue - c.noticeAt) / HOUR;
  }

  private answer(c: CustomerCase, at: number, due: number, kind: AnswerRecord['kind'], planDue?: number): void {
    this.agenda.add(at, `customer ${kind} ${c.incidentId}`, async () => {
      const answer = { ack: Answer.ANSWER_ACK, fixed: Answer.ANSWER_FIXED, false_positive: Answer.ANSWER_FALSE_POSITIVE, plan: Answer.ANSWER_PLAN }[kind];
      const rec: AnswerRecord = { kind, at: this.h.clock.now().getTime(), due, ok: true };
      try {
        await this.h.desk.answerIncident({ incidentId: c.incidentId, answer, planDueAt: planDue === undefined ? undefined : new Date(planDue), note: `the customer says ${kind}` }, this.h.ctx('helpdesk'));
        this.tally.count(`answer ${kind}`);
      } catch (err) {
        rec.ok = false;
        rec.error = asCordonError(err).message;
        rec.refusedIn = (await this.h.store.incidents.get(c.incidentId))?.state;
        this.tally.desk('answerIncident', err);
        this.tally.count(`refused ${kind} of a ${c.behaviour} customer in ${rec.refusedIn}`);
      }
      c.answers.push(rec);
    });
  }
}

const OPERATORS = ['olga', 'omar', 'ada'] as const;

/** The abuse desk's operators, going through the queue in sweeps. */
export class Operators {
  private sweepNo = 0;

  constructor(
    private readonly s: Scenario,
    private readonly h: Harness,
    private readonly policy: PolicyConfig,
    private readonly customers: Customers,
    private readonly tally: Tally,
  ) {}

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      const r = await fn();
      this.tally.count(`desk ${method}`);
      return r;
    } catch (err) {
      this.tally.desk(method, err);
      return undefined;
    }
  }

  async sweep(): Promise<void> {
    const n = this.sweepNo++;
    const rng = rngFor(this.s.seed, `sweep|${n}`);
    const lead = OPERATORS[n % OPERATORS.length]!;
    const other = (not: string) => OPERATORS.find((o) => o !== not && rng.chance(0.5)) ?? OPERATORS.find((o) => o !== not)!;
    const { desk, store, ctx } = this.h;
    const now = this.h.clock.now().getTime();

    // 1. Each other's requests: approve, reject, or let them expire. Now and then someone tries their own.
    const approvals = (await store.approvals.list({ pending: true })).sort((a, b) => a.requestedAt.getTime() - b.requestedAt.getTime() || a.reason.localeCompare(b.reason));
    for (const a of approvals) {
      if (a.expiresAt && a.expiresAt.getTime() <= now && !rng.chance(0.3)) continue;
      const self = rng.chance(0.08);
      const by = self ? a.requestedBy : other(a.requestedBy);
      const pick = rng.weighted({ approve: 70, reject: 18, wait: 12 });
      if (self) {
        const r = await this.call('approve (own request)', () => desk.approve({ approvalId: a.id }, ctx(by)));
        if (r) this.tally.fail('(3) four eyes', `${by} approved their own request ${a.id}`);
      } else if (pick === 'approve') await this.call('approve', () => desk.approve({ approvalId: a.id }, ctx(by)));
      else if (pick === 'reject') await this.call('rejectApproval', () => desk.rejectApproval({ approvalId: a.id, reason: 'not enough evidence' }, ctx(by)));
    }

    // 2. Complaints held because their event precedes the last resolution.
    const held = (await store.complaints.listByStatus('held', 1000)).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || a.ip.localeCompare(b.ip));
    for (const c of held) {
      if (rng.chance(0.3)) continue;
      const decision = rng.chance(0.5) ? 'admit' : 'dismiss';
      await this.call(`decideComplaint ${decision}`, () => desk.decideComplaint({ complaintId: c.id, decision, reason: decision === 'admit' ? 'a new occurrence' : 'already handled' }, ctx(lead)));
    }

    // 3. Termination reviews a day old: confirm or decline.
    for (const r of (await store.terminationReviews.list('open')).sort((a, b) => a.flaggedAt.getTime() - b.flaggedAt.getTime())) {
      if (now - r.flaggedAt.getTime() < DAY || rng.chance(0.4)) continue;
      const confirm = rng.chance(0.4);
      await this.call(`decideTerminationReview ${confirm ? 'confirm' : 'decline'}`, () => desk.decideTerminationReview({ id: r.id, confirm, reason: confirm ? 'repeated established abuse' : 'customer improved' }, ctx(lead)));
    }

    // 4. The open incidents, in a stable order.
    const rows = await store.db.all<{ id: string }>("SELECT id FROM incidents WHERE state NOT IN ('closed', 'dismissed')");
    const open = (await Promise.all(rows.map((r) => store.incidents.get(r.id)))).filter((i): i is Incident => i !== undefined).sort((a, b) => stableKey(a).localeCompare(stableKey(b)));
    let actions = 0;
    for (const i of open) {
      if (actions >= 12) break; // an operator does so much per sweep
      const op = rng.chance(0.5) ? lead : other(lead);
      const decide = (decision: Decision, reason: string) => this.call(`decide ${Decision[decision]}`, () => desk.decideIncident({ incidentId: i.id, decision, reason }, ctx(op)));
      const enforce = (a: Action, reason: string) => this.call(`enforce ${a.kind}`, () => desk.enforce({ incidentId: i.id, hostIds: [], customerId: '', reason, action: toProto(a) }, ctx(op)));
      const ladder = this.policy.categories[i.category].ladder;
      const nonCut: Action = i.category === 'spam' ? { kind: 'smtp_block' } : { kind: 'throttle', rateBps: 1_000_000 };
      const r = rng.next();
      const age = now - i.openedAt.getTime();
      // A cut held for its BMC shows in the queue whatever the incident's state: check the BMC again, or override.
      if (i.hold === 'bmc_unreachable') {
        actions++;
        if (r < 0.25) await decide(Decision.DECISION_OVERRIDE_BMC, 'console reachable over the OOB VPN, checked by phone');
        else if (r < 0.6) await this.call('checkBmc', () => desk.checkBmc({ id: i.hostId }, ctx(op)));
        else if (i.state === 'release_requested' && r < 0.9) await decide(Decision.DECISION_RELEASE, '');
        else actions--;
        continue;
      }
      switch (i.state) {
        case 'customer_resolved':
          if (r < 0.8) (actions++, await decide(Decision.DECISION_VERIFY, ''));
          break;
        case 'disputed':
          if (r < 0.4) (actions++, await decide(Decision.DECISION_VERIFY, 'false positive accepted'));
          else if (r < 0.8) {
            actions++;
            if (await decide(Decision.DECISION_REJECT_DISPUTE, 'evidence holds')) this.customers.onDisputeRejected(i.id);
          }
          break;
        case 'release_requested':
          if (r < 0.9) (actions++, await decide(Decision.DECISION_RELEASE, ''));
          break;
        case 'appealed':
          // The customer contests a restriction in force: a person looks at once, and gives a reason either way.
          if (r < 0.4) (actions++, await decide(Decision.DECISION_VERIFY, 'the appeal holds: evidence shows a false positive'));
          else if (r < 0.9) (actions++, await decide(Decision.DECISION_REJECT_DISPUTE, 'the evidence stands'));
          break;
        case 'escalated':
        case 'enforcing':
        case 'enforced':
          actions++;
          switch (i.hold) {
            case 'untrusted_reporter':
            case 'operator_decision':
              if (r < 0.35) await decide(Decision.DECISION_DISMISS, 'not actionable');
              else if (r < 0.55) await enforce(nonCut, 'seen it ourselves');
              else if (r < 0.7) await enforce({ kind: 'isolate' }, 'serious enough to cut');
              else actions--;
              break;
            case 'rate_limit': {
              const next = ladder[i.step + 1];
              if (next && r < 0.7) await enforce(next, 'held by the hourly cap; decided by hand');
              else actions--;
              break;
            }
            default:
              if (i.state === 'enforced' && i.overdue && i.trusted && !i.actions.some((a) => a.kind === 'isolate') && r < 0.06) await enforce({ kind: 'isolate' }, 'still abusing: cut it');
              else if (i.state === 'enforced' && r < 0.1) await this.call('checkBmc', () => desk.checkBmc({ id: i.hostId }, ctx(op)));
              else actions--;
          }
          break;
        default:
          // Untrusted floods and stale untrusted incidents get dismissed, sooner or later.
          if (!i.trusted && (i.complaintCount >= 4 || age > 12 * DAY) && r < 0.3) (actions++, await decide(Decision.DECISION_DISMISS, 'untrusted reports only'));
      }
    }

    // 5. Now and then an operator acts on a host with no incident, or on a whole customer (always a second
    //    operator's call) — on the customers who give them reason to, never on the diligent ones.
    const suspects = this.s.customers.filter((c) => c.disposition !== 'diligent');
    if (suspects.length > 0 && rng.chance(0.04)) {
      const host = rng.pick(this.s.hosts.filter((x) => suspects.some((c) => c.id === x.customerId)));
      await this.call('enforce host smtp_block', () => desk.enforce({ incidentId: '', hostIds: [host.id], customerId: '', reason: 'spam seen on our relay', action: toProto({ kind: 'smtp_block' }) }, ctx(lead)));
    }
    if (suspects.length > 0 && rng.chance(0.015)) {
      const c = rng.pick(suspects);
      await this.call('enforce customer throttle', () => desk.enforce({ incidentId: '', hostIds: [], customerId: c.id, reason: 'botnet across the account', action: toProto({ kind: 'throttle', rateBps: 1_000_000 }) }, ctx(lead)));
    }
  }
}
