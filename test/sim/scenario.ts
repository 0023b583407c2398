import { CATEGORIES, type Category, type ReporterKind } from '../../controller/incidents/model.js';
import { DEFAULT_POLICY, type PolicyConfig } from '../../controller/incidents/policy.js';
import { clocks, expectedEnd } from './expected.js';
import { Rng } from './rng.js';

/**
 * A randomized month of abuse desk work, as ground truth: the fleet, every
 * complaint (with the host it is really about), and what each customer and
 * operator will do and when. The driver (world.ts) only sees what a real
 * controller would see: complaint IPs, customer answers and operator
 * decisions referring to a complaint. The oracle (oracle.ts, expected.ts)
 * judges the outcome from this file's ground truth.
 */

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const MONTH = 30 * DAY;
/** The simulated month starts here (UTC), so times in failure messages read as dates. */
export const MONTH_START = Date.UTC(2025, 2, 1);

export interface SimHost {
  id: string;
  customerId: string;
  ipv4: string;
  ipv6: string;
}

export type Profile = 'diligent' | 'mixed' | 'late' | 'silent';

export interface SimCustomer {
  id: string;
  profile: Profile;
  hostIds: string[];
}

export interface SimComplaint {
  id: string;
  at: number;
  ip: string;
  category: Category;
  reporterKind: ReporterKind;
  /** The report's text; a re-sent report repeats its original's text. */
  raw: string;
  // Ground truth, for the oracle only:
  hostId: string;
  customerId: string;
  episodeId: string;
}

/** How the customer answers one incident (absolute times, ms). */
export type Answer =
  | { kind: 'fix'; fixAt: number }
  | { kind: 'ack_fix'; ackAt: number; fixAt: number }
  | { kind: 'plan_fix'; planAt: number; planDue: number; fixAt: number }
  | { kind: 'dispute'; fpAt: number; decideAt: number; accept: boolean; fixAt: number | undefined }
  | { kind: 'silent' };

/** When the operator acts on the incident: close it once fixed, dismiss it, or act on a held one. */
export interface OperatorPlan {
  closeAt?: number;
  dismissAt?: number;
  enforceAt?: number;
}

/** Where the deciding answer falls relative to its due time (for coverage figures). */
export type Timing = 'early' | 'due-1ms' | 'due' | 'due+1ms' | 'late' | 'never' | 'after_intake';

/** One problem on one host and category: what must become exactly one incident. */
export interface Episode {
  id: string;
  hostId: string;
  customerId: string;
  category: Category;
  start: number;
  complaints: SimComplaint[];
  answer: Answer;
  operator: OperatorPlan;
  timing: Timing;
  /** Opened by a report re-sent after the previous incident on this host and category closed. */
  resentAfterClose: boolean;
  wave: string | undefined;
}

export type CustomerAct =
  | { at: number; ref: string; type: 'customer_ack' | 'customer_fixed' | 'customer_false_positive' }
  | { at: number; ref: string; type: 'customer_plan'; planDue: number };

export type OperatorIntent = 'close' | 'accept_dispute' | 'reject_dispute' | 'dismiss' | 'enforce_if_held';
export interface OperatorAct {
  at: number;
  /** The complaint the operator is looking at (the incident is found through it). */
  ref: string;
  intent: OperatorIntent;
}

export interface Scenario {
  seed: number;
  policy: PolicyConfig;
  /** Notice delivery latency: the notice goes out this long after the incident opens. */
  mailLatencyMs: number;
  customers: SimCustomer[];
  hosts: SimHost[];
  episodes: Episode[];
  /** Every complaint about a host of ours, in arrival order. */
  complaints: SimComplaint[];
  /** Complaints about addresses that are not ours: to be rejected, never routed. */
  strays: Array<{ id: string; at: number; ip: string; category: Category; reporterKind: ReporterKind }>;
  customerActs: CustomerAct[];
  operatorActs: OperatorAct[];
}

export interface ScenarioSize {
  customers: number;
  targetComplaints: number;
}

const REPORTERS: Record<ReporterKind, number> = {
  own_monitoring: 18,
  upstream: 10,
  cert: 14,
  rights_holder: 8,
  individual: 28,
  anonymous: 22,
};

const CATEGORY_WEIGHTS: Record<Exclude<Category, 'copyright'>, number> = {
  spam: 24,
  phishing: 10,
  malware: 8,
  botnet: 8,
  ddos: 6,
  scan: 12,
  brute_force: 12,
  open_service: 5,
  auth_failure: 4,
  child_abuse: 1,
  terrorism: 1,
  other: 3,
};

export function generateScenario(seed: number, size: ScenarioSize): Scenario {
  return new Generator(seed, size).run();
}

class Generator {
  private readonly rng: Rng;
  private readonly policy = DEFAULT_POLICY;
  private readonly mailLatencyMs = 45_000;
  private readonly customers: SimCustomer[] = [];
  private readonly hosts: SimHost[] = [];
  private readonly customerById = new Map<string, SimCustomer>();
  private readonly episodes: Episode[] = [];
  private readonly usedLanes = new Set<string>();
  private complaintCount = 0;
  private ipSeq = 0;

  constructor(
    private readonly seed: number,
    private readonly size: ScenarioSize,
  ) {
    this.rng = new Rng(seed);
  }

  run(): Scenario {
    this.fleet();
    // Waves first, while their lanes are free: many trusted reports within minutes,
    // so their deadlines (or, for DDoS, their intake) hit the fleet-wide hourly limit.
    this.wave('botnet-wave', 'botnet', 'own_monitoring', MONTH_START + this.rng.int(2 * DAY, 12 * DAY), 45, 15 * 60_000);
    this.wave('ddos-wave', 'ddos', 'upstream', MONTH_START + this.rng.int(14 * DAY, 25 * DAY), 35, 10 * 60_000);
    for (let attempts = 0; this.complaintCount < this.size.targetComplaints && attempts < 1_000_000; attempts++) {
      const host = this.rng.pick(this.hosts);
      const kind = this.rng.weighted(REPORTERS);
      const category: Category = kind === 'rights_holder' ? 'copyright' : this.rng.weighted(CATEGORY_WEIGHTS);
      this.chain(host, category, kind, MONTH_START + this.rng.int(0, MONTH - 1), undefined);
    }
    const complaints = this.episodes.flatMap((e) => e.complaints).sort((a, b) => a.at - b.at);
    const strays = Array.from({ length: Math.ceil(complaints.length / 100) }, (_, n) => ({
      id: `stray-${n}`,
      at: MONTH_START + this.rng.int(0, MONTH - 1),
      ip: `198.51.100.${n % 250}`, // documentation range: never ours
      category: this.rng.pick(CATEGORIES),
      reporterKind: this.rng.weighted(REPORTERS),
    }));
    return {
      seed: this.seed,
      policy: this.policy,
      mailLatencyMs: this.mailLatencyMs,
      customers: this.customers,
      hosts: this.hosts,
      episodes: this.episodes,
      complaints,
      strays,
      customerActs: this.episodes.flatMap(customerActs).sort((a, b) => a.at - b.at),
      operatorActs: this.episodes.flatMap(operatorActs).sort((a, b) => a.at - b.at),
    };
  }

  /** Customers with 1 to 15 hosts each; the big ones get most complaints, as in real fleets. */
  private fleet(): void {
    for (let c = 0; c < this.size.customers; c++) {
      const id = `cust-${c}`;
      const profile = this.rng.weighted<Profile>({ diligent: 35, mixed: 35, late: 15, silent: 15 });
      const bucket = this.rng.weighted({ one: 40, two: 20, some: 28, many: 12 });
      const count = bucket === 'one' ? 1 : bucket === 'two' ? 2 : bucket === 'some' ? this.rng.int(3, 6) : this.rng.int(7, 15);
      const customer: SimCustomer = { id, profile, hostIds: [] };
      for (let h = 0; h < count; h++) {
        const n = ++this.ipSeq;
        const host: SimHost = {
          id: `host-${n}`,
          customerId: id,
          ipv4: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
          ipv6: `2001:db8:${n.toString(16)}::1`,
        };
        this.hosts.push(host);
        customer.hostIds.push(host.id);
      }
      this.customers.push(customer);
      this.customerById.set(id, customer);
    }
  }

  private wave(name: string, category: Category, kind: ReporterKind, at: number, lanes: number, spreadMs: number): void {
    for (let n = 0, attempts = 0; n < lanes && attempts < lanes * 20; attempts++) {
      const host = this.rng.pick(this.hosts);
      if (this.usedLanes.has(`${host.id}|${category}`)) continue;
      this.chain(host, category, kind, at + this.rng.int(0, spreadMs), name);
      n++;
    }
  }

  /**
   * One host and category over the month: an episode, then perhaps the same
   * report re-sent after it closed (a NEW incident), or a fresh problem later.
   */
  private chain(host: SimHost, category: Category, kind: ReporterKind, start: number, wave: string | undefined): void {
    const lane = `${host.id}|${category}`;
    if (this.usedLanes.has(lane)) return;
    this.usedLanes.add(lane);
    let episode = this.episode(host, category, kind, start, undefined, wave);
    for (;;) {
      const end = expectedEnd(episode.answer, episode.operator);
      if (end === Infinity) return;
      if (this.rng.chance(0.35)) {
        // The reporter sends the same report again after the incident closed.
        const delay = this.rng.weighted({ ms: 30, second: 20, later: 50 });
        const at = end + (delay === 'ms' ? 1 : delay === 'second' ? 1000 : this.rng.int(60_000, 3 * DAY));
        episode = this.episode(host, category, episode.complaints[0]!.reporterKind, at, episode.complaints[0]!, undefined);
      } else if (this.rng.chance(0.2) && end + DAY < MONTH_START + MONTH) {
        episode = this.episode(host, category, this.rng.weighted(REPORTERS), this.rng.int(end + DAY, Math.min(end + 10 * DAY, MONTH_START + MONTH)), undefined, undefined);
      } else {
        return;
      }
    }
  }

  private episode(host: SimHost, category: Category, kind: ReporterKind, start: number, resentOf: SimComplaint | undefined, wave: string | undefined): Episode {
    const id = `ep-${this.episodes.length}`;
    const customer = this.customerById.get(host.customerId)!;
    const { answer, timing, operator } = this.plan(customer.profile, category, kind, start, wave);
    const e: Episode = { id, hostId: host.id, customerId: host.customerId, category, start, complaints: [], answer, operator, timing, resentAfterClose: resentOf !== undefined, wave };
    const end = expectedEnd(answer, operator);
    e.complaints.push(this.complaint(e, host, start, kind, resentOf?.raw));
    // Duplicates while the incident is open: the same report re-sent, or other reporters.
    const dups = this.rng.weighted({ none: 45, one: 25, two: 15, more: 15 });
    const n = dups === 'none' ? 0 : dups === 'one' ? 1 : dups === 'two' ? 2 : this.rng.int(3, 6);
    const last = Math.min(end - 1, start + 10 * DAY);
    for (let d = 0; d < n; d++) {
      const when = this.rng.weighted({ same_ms: 10, just_before_end: end === Infinity ? 0 : 10, any: 80 });
      const at = when === 'same_ms' ? start : when === 'just_before_end' ? end - 1 : this.rng.int(start, last);
      const resend = this.rng.chance(0.5);
      const dupKind = resend ? kind : category === 'copyright' ? 'rights_holder' : this.rng.weighted(REPORTERS);
      e.complaints.push(this.complaint(e, host, at, dupKind, resend ? e.complaints[0]!.raw : undefined));
    }
    e.complaints.sort((a, b) => a.at - b.at);
    this.episodes.push(e);
    return e;
  }

  private complaint(e: Episode, host: SimHost, at: number, kind: ReporterKind, raw: string | undefined): SimComplaint {
    const id = `c-${this.complaintCount++}`;
    return {
      id,
      at,
      ip: this.rng.chance(0.7) ? host.ipv4 : host.ipv6,
      category: e.category,
      reporterKind: kind,
      raw: raw ?? `${kind} report ${id}: ${e.category} from ${host.ipv4}`,
      hostId: host.id,
      customerId: host.customerId,
      episodeId: e.id,
    };
  }

  /** The customer's answer and the operator's plan for one episode, with times around the due times. */
  private plan(profile: Profile, category: Category, kind: ReporterKind, start: number, wave: string | undefined): { answer: Answer; timing: Timing; operator: OperatorPlan } {
    const r = this.rng;
    const { noticeAt, ackDue, resolveDue } = clocks(start, this.policy, category, this.mailLatencyMs);
    const resolveMs = this.policy.categories[category].resolveHours * HOUR;
    const immediate = this.policy.categories[category].immediate;
    const behaviour =
      wave && r.chance(0.6)
        ? 'never'
        : r.weighted(
            profile === 'diligent'
              ? { in_time: 1, late: 0, never: 0 }
              : profile === 'late'
                ? { in_time: 20, late: 80, never: 0 }
                : profile === 'silent'
                  ? { in_time: 0, late: 15, never: 85 }
                  : { in_time: 50, late: 25, never: 25 },
          );
    const close = (fixAt: number): OperatorPlan => ({ closeAt: fixAt + (r.chance(0.1) ? 1 : r.int(10 * 60_000, DAY)) });

    if (behaviour === 'never') {
      const operator: OperatorPlan = {};
      const dismiss = r.weighted({ no: 55, before_due: 10, after_due: 35 });
      if (dismiss === 'before_due') operator.dismissAt = start + r.int(HOUR, 23 * HOUR);
      if (dismiss === 'after_due') operator.dismissAt = start + r.int(36 * HOUR, 20 * DAY);
      if (r.chance(0.4)) {
        const at = ackDue + 1 + r.int(HOUR, 2 * DAY);
        if (operator.dismissAt === undefined || at < operator.dismissAt) operator.enforceAt = at;
      }
      return { answer: { kind: 'silent' }, timing: 'never', operator };
    }

    // Escalated at intake: the customer can only fix (the host is already being acted on).
    if (immediate && this.policy.trustedReporterKinds.includes(kind)) {
      const fixAt = noticeAt + r.int(0, 4 * DAY);
      return { answer: { kind: 'fix', fixAt }, timing: 'after_intake', operator: close(fixAt) };
    }

    const late = behaviour === 'late';
    const timing: Timing = late ? r.weighted({ 'due+1ms': 50, late: 50 }) : r.weighted({ early: 50, 'due-1ms': 25, due: 25 });
    /** The deciding answer's time for a due time: early, at due - 1 ms, at due, at due + 1 ms, or hours late. */
    const around = (from: number, due: number) =>
      timing === 'early' ? r.int(from, due - 2) : timing === 'due-1ms' ? due - 1 : timing === 'due' ? due : timing === 'due+1ms' ? due + 1 : due + r.int(HOUR, 4 * DAY);
    const inTime = (from: number, due: number) => r.int(from, due);
    // Immediate categories (from an untrusted reporter here) stay with plain fixes: a later
    // trusted report may escalate them at intake, after which a plan or a dispute is refused.
    const kindOfAnswer = immediate ? r.weighted({ fix: 60, ack_fix: 40 }) : r.weighted({ fix: 30, ack_fix: 25, plan_fix: 25, dispute: 20 });

    switch (kindOfAnswer) {
      case 'fix': {
        const fixAt = around(noticeAt, ackDue);
        return { answer: { kind: 'fix', fixAt }, timing, operator: close(fixAt) };
      }
      case 'ack_fix': {
        const ackAt = inTime(noticeAt, ackDue);
        const fixAt = around(ackAt, resolveDue);
        return { answer: { kind: 'ack_fix', ackAt, fixAt }, timing, operator: close(fixAt) };
      }
      case 'plan_fix': {
        const planAt = inTime(noticeAt, ackDue);
        const planDue = planAt + r.int(HOUR, 10 * DAY);
        const fixAt = around(planAt, planDue);
        return { answer: { kind: 'plan_fix', planAt, planDue, fixAt }, timing, operator: close(fixAt) };
      }
      default: {
        const fpAt = inTime(noticeAt, ackDue);
        const decideAt = fpAt + r.int(HOUR, 2 * DAY);
        // A late customer's dispute is rejected and the fix then comes late.
        const accept = !late && r.chance(0.5);
        if (accept) return { answer: { kind: 'dispute', fpAt, decideAt, accept, fixAt: undefined }, timing, operator: {} };
        const fixAt = around(decideAt, decideAt + resolveMs);
        return { answer: { kind: 'dispute', fpAt, decideAt, accept, fixAt }, timing, operator: close(fixAt) };
      }
    }
  }
}

function customerActs(e: Episode): CustomerAct[] {
  const ref = e.complaints[0]!.id;
  const a = e.answer;
  switch (a.kind) {
    case 'fix':
      return [{ at: a.fixAt, ref, type: 'customer_fixed' }];
    case 'ack_fix':
      return [
        { at: a.ackAt, ref, type: 'customer_ack' },
        { at: a.fixAt, ref, type: 'customer_fixed' },
      ];
    case 'plan_fix':
      return [
        { at: a.planAt, ref, type: 'customer_plan', planDue: a.planDue },
        { at: a.fixAt, ref, type: 'customer_fixed' },
      ];
    case 'dispute':
      return [{ at: a.fpAt, ref, type: 'customer_false_positive' }, ...(a.fixAt === undefined ? [] : [{ at: a.fixAt, ref, type: 'customer_fixed' as const }])];
    case 'silent':
      return [];
  }
}

function operatorActs(e: Episode): OperatorAct[] {
  const ref = e.complaints[0]!.id;
  const acts: OperatorAct[] = [];
  const op = e.operator;
  if (e.answer.kind === 'dispute') acts.push({ at: e.answer.decideAt, ref, intent: e.answer.accept ? 'accept_dispute' : 'reject_dispute' });
  if (op.closeAt !== undefined) acts.push({ at: op.closeAt, ref, intent: 'close' });
  if (op.dismissAt !== undefined) acts.push({ at: op.dismissAt, ref, intent: 'dismiss' });
  if (op.enforceAt !== undefined) acts.push({ at: op.enforceAt, ref, intent: 'enforce_if_held' });
  return acts;
}
