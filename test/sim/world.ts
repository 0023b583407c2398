import { CordonError } from '../../proto/runtime/CordonError.js';
import { acceptsComplaints, nextDueAt, transition, type IncidentEvent, type Transition } from '../../controller/incidents/lifecycle.js';
import { TERMINAL_STATES, type Action, type Hold, type Incident } from '../../controller/incidents/model.js';
import { isTrusted } from '../../controller/incidents/policy.js';
import { Rng } from './rng.js';
import type { OperatorAct, Scenario, SimComplaint } from './scenario.js';

/**
 * A tiny in-memory controller driven by a scenario: what IncidentService,
 * the deadline scheduler, the desired-state publisher and the agents do,
 * without I/O. It sees only what a real controller sees (complaint IPs,
 * answers and decisions referring to a complaint) and records what it did,
 * for the oracle to judge.
 *
 * - Routing: IP → host by the inventory; one open incident per host and
 *   category takes the complaint (`complaint`), otherwise a new one opens.
 * - Deadlines: for each incident's `nextDueAt`, a timer at dueAt (a timer that
 *   fires early, which must change nothing) and one at dueAt + 1 ms.
 * - Desired state per host: the union of its incidents' actions, with a
 *   generation bumped on every change. Agents apply the latest snapshot a few
 *   seconds later (sometimes failing once) and confirm: `host_applied`.
 * - Same millisecond: timers first, then complaints, notices, customers,
 *   operators, agents.
 */

const HOUR = 3_600_000;
const RECIDIVISM_MS = (s: Scenario) => s.policy.recidivism.windowDays * 24 * HOUR;

export interface ActRecord {
  t: number;
  incidentId: string;
  hostId: string;
  actions: Action[];
  /** Not an operator's decision: counts against the fleet-wide hourly limit. */
  automatic: boolean;
}

export interface Publication {
  t: number;
  hostId: string;
  generation: number;
  desired: Action[];
  /** The incidents whose actions make up this desired state. */
  contributors: string[];
}

export interface WorldResult {
  incidents: Map<string, Incident>;
  /** Which incident each complaint went to. */
  complaintIncident: Map<string, string>;
  rejectedComplaints: string[];
  acts: ActRecord[];
  publications: Publication[];
  /** Generations each host's agent applied, in order. */
  agentApplied: Map<string, number[]>;
  automaticAt: number[];
  /** When each incident first became closed or dismissed, and when it was released. */
  terminalAt: Map<string, number>;
  releasedAt: Map<string, number>;
  reviews: Set<string>;
  /** When each incident became established (counts toward a termination review), and when it stopped (dismissed). */
  establishedAt: Map<string, number>;
  unestablishedAt: Map<string, number>;
  holds: Record<Hold, number>;
  refusals: Map<string, number>;
  early: { fired: number; changed: number };
  operatorNoops: Array<OperatorAct & { state: string }>;
  finalDesired: Map<string, Action[]>;
  /** The contributions left on each host at the end, by incident. */
  finalContributions: Map<string, string[]>;
  transitions: number;
  queueEvents: number;
  lastEventAt: number;
}

interface HostState {
  contributions: Map<string, Action[]>;
  key: string;
  generation: number;
  /** Incidents waiting for the agent to confirm the generation that carries their change. */
  awaiting: Map<string, number>;
  applied: number;
}

interface Queued {
  t: number;
  prio: number;
  seq: number;
  run: () => void;
}

const PRIO = { deadline: 0, complaint: 1, notice: 2, customer: 3, operator: 4, agent: 5 } as const;

export function runWorld(s: Scenario): WorldResult {
  return new World(s).run();
}

class World {
  private readonly rng: Rng;
  private readonly heap = new Heap();
  private readonly inventory = new Map<string, { hostId: string; customerId: string }>();
  private readonly lanes = new Map<string, string>();
  private readonly hostStates = new Map<string, HostState>();
  private readonly armed = new Map<string, Set<number>>();
  private automaticWindowStart = 0;
  private now = 0;
  private incidentSeq = 0;
  private readonly r: WorldResult = {
    incidents: new Map(),
    complaintIncident: new Map(),
    rejectedComplaints: [],
    acts: [],
    publications: [],
    agentApplied: new Map(),
    automaticAt: [],
    terminalAt: new Map(),
    releasedAt: new Map(),
    reviews: new Set(),
    establishedAt: new Map(),
    unestablishedAt: new Map(),
    holds: { operator_decision: 0, untrusted_reporter: 0, approval: 0, rate_limit: 0, bmc_unreachable: 0 },
    refusals: new Map(),
    early: { fired: 0, changed: 0 },
    operatorNoops: [],
    finalDesired: new Map(),
    finalContributions: new Map(),
    transitions: 0,
    queueEvents: 0,
    lastEventAt: 0,
  };

  constructor(private readonly s: Scenario) {
    this.rng = new Rng(s.seed).fork(0x5eed);
    for (const h of s.hosts) {
      this.inventory.set(h.ipv4, { hostId: h.id, customerId: h.customerId });
      this.inventory.set(h.ipv6, { hostId: h.id, customerId: h.customerId });
      this.hostStates.set(h.id, { contributions: new Map(), key: '[]', generation: 0, awaiting: new Map(), applied: 0 });
    }
  }

  run(): WorldResult {
    // Only what a controller would receive: the IP, category and reporter, not the ground truth.
    for (const c of this.s.complaints) this.push(c.at, PRIO.complaint, () => this.intake(c.id, c.ip, c.category, c.reporterKind));
    for (const c of this.s.strays) this.push(c.at, PRIO.complaint, () => this.intake(c.id, c.ip, c.category, c.reporterKind));
    for (const a of this.s.customerActs) {
      const event: IncidentEvent = a.type === 'customer_plan' ? { type: 'customer_plan', dueAt: new Date(a.planDue) } : { type: a.type };
      this.push(a.at, PRIO.customer, () => this.apply(this.incidentOf(a.ref), event));
    }
    for (const a of this.s.operatorActs) this.push(a.at, PRIO.operator, () => this.operator(a));

    for (let q = this.heap.pop(); q; q = this.heap.pop()) {
      if (q.t < this.now) throw new Error(`time ran backwards: ${q.t} < ${this.now}`);
      this.now = q.t;
      this.r.queueEvents++;
      q.run();
    }
    this.r.lastEventAt = this.now;
    for (const [hostId, h] of this.hostStates) {
      this.r.finalDesired.set(hostId, union(h.contributions.values()));
      this.r.finalContributions.set(hostId, [...h.contributions.keys()]);
    }
    return this.r;
  }

  private push(t: number, prio: number, run: () => void): void {
    this.heap.push({ t, prio, seq: this.heap.nextSeq(), run });
  }

  private incidentOf(ref: string): string {
    const id = this.r.complaintIncident.get(ref);
    if (!id) throw new Error(`an answer or decision about complaint ${ref}, which was never routed`);
    return id;
  }

  private intake(complaintId: string, ip: string, category: SimComplaint['category'], kind: SimComplaint['reporterKind']): void {
    const owner = this.inventory.get(ip);
    if (!owner) {
      this.r.rejectedComplaints.push(complaintId); // not our address: rejected at validation
      return;
    }
    const trusted = isTrusted(kind, this.s.policy);
    const lane = `${owner.hostId}|${category}`;
    const openId = this.lanes.get(lane);
    const open = openId ? this.r.incidents.get(openId) : undefined;
    if (open && acceptsComplaints(open)) {
      this.r.complaintIncident.set(complaintId, open.id);
      this.apply(open.id, { type: 'complaint', trusted });
      return;
    }
    const id = `inc-${++this.incidentSeq}`;
    this.lanes.set(lane, id);
    this.r.complaintIncident.set(complaintId, id);
    this.apply(undefined, { type: 'open', id, hostId: owner.hostId, customerId: owner.customerId, category, trusted });
    this.push(this.now + this.s.mailLatencyMs, PRIO.notice, () => this.apply(id, { type: 'notice_sent' }));
  }

  /** The operator looks at the incident and does what the plan intends, if its state allows. */
  private operator(a: OperatorAct): void {
    const id = this.incidentOf(a.ref);
    const i = this.r.incidents.get(id)!;
    const op = 'op';
    let event: IncidentEvent | undefined;
    switch (a.intent) {
      case 'close':
        if (i.state === 'customer_resolved') event = { type: 'operator_verify', operator: op };
        else if (i.state === 'release_requested') event = { type: 'operator_release', operator: op };
        break;
      case 'accept_dispute':
        if (i.state === 'disputed') event = { type: 'operator_accept_dispute', operator: op };
        break;
      case 'reject_dispute':
        if (i.state === 'disputed') event = { type: 'operator_reject_dispute', operator: op };
        break;
      case 'dismiss':
        if (acceptsComplaints(i)) event = { type: 'operator_dismiss', operator: op, reason: 'no answer, handled by phone' };
        break;
      case 'enforce_if_held': {
        // Only a held escalation needs the operator; anything else is not a planned decision.
        if (i.state !== 'escalated' || i.hold === undefined) return;
        const action = this.s.policy.categories[i.category].ladder[0] ?? { kind: 'throttle', rateBps: 10_000_000 };
        event = { type: 'operator_enforce', operator: op, action, reason: 'held, reviewed' };
        break;
      }
    }
    // The plan expected a state this decision applies to: finding another is for the oracle to report.
    if (event) this.apply(id, event);
    else this.r.operatorNoops.push({ ...a, state: i.state });
  }

  /** One lifecycle transition and its effects; refusals are counted and change nothing. */
  /** The customer's other established incidents opened within the recidivism window. */
  private establishedInWindow(customerId: string, except: string | undefined): number {
    let n = 0;
    for (const [id, i] of this.r.incidents) {
      if (id !== except && i.customerId === customerId && i.established && i.openedAt.getTime() >= this.now - RECIDIVISM_MS(this.s)) n++;
    }
    return n;
  }

  private apply(id: string | undefined, event: IncidentEvent): Transition | undefined {
    const before = id ? this.r.incidents.get(id) : undefined;
    const customerId = before?.customerId ?? (event.type === 'open' ? event.customerId : '');
    if (id && !before) throw new Error(`unknown incident ${id}`);
    let result: Transition;
    try {
      result = transition(before, event, {
        now: new Date(this.now),
        policy: this.s.policy,
        automaticInLastHour: this.automaticInLastHour(),
        customerEstablishedInWindow: this.establishedInWindow(customerId, id),
        // Every simulated BMC answers: the console gate is tested in the lifecycle tables.
        bmc: { reachable: true, checkedAt: new Date(this.now) },
      });
    } catch (err) {
      if (!(err instanceof CordonError)) throw err;
      this.r.refusals.set(event.type, (this.r.refusals.get(event.type) ?? 0) + 1);
      return undefined;
    }
    this.r.transitions++;
    if (!result.changed) return result;
    const i = result.incident;
    this.r.incidents.set(i.id, i);
    if (i.established && !before?.established) this.r.establishedAt.set(i.id, this.now);
    if (!i.established && before?.established) this.r.unestablishedAt.set(i.id, this.now);
    for (const e of result.effects) {
      if (e.type === 'host_actions') this.hostActions(i, e.actions, !event.type.startsWith('operator_'));
      else if (e.type === 'operator_queue') this.r.holds[e.hold]++;
      else if (e.type === 'termination_review') this.r.reviews.add(i.id);
    }
    if (TERMINAL_STATES.includes(i.state) && !this.r.terminalAt.has(i.id)) this.r.terminalAt.set(i.id, this.now);
    // The operator's release ends it (releasing waits only for the agent's confirmation).
    if ((i.state === 'released' || i.state === 'releasing') && !this.r.releasedAt.has(i.id)) this.r.releasedAt.set(i.id, this.now);
    this.arm(i);
    return result;
  }

  private automaticInLastHour(): number {
    const a = this.r.automaticAt;
    while (this.automaticWindowStart < a.length && a[this.automaticWindowStart]! <= this.now - HOUR) this.automaticWindowStart++;
    return a.length - this.automaticWindowStart;
  }

  /** Timers for the incident's next due time: one that fires early (at it) and the real one 1 ms after. */
  private arm(i: Incident): void {
    const due = nextDueAt(i, this.s.policy)?.getTime();
    if (due === undefined) return;
    const armed = this.armed.get(i.id) ?? new Set<number>();
    this.armed.set(i.id, armed);
    if (armed.has(due)) return;
    armed.add(due);
    const fire = (early: boolean) => () => {
      const r = this.apply(i.id, { type: 'deadline', dueAt: new Date(due) });
      if (early) {
        this.r.early.fired++;
        if (r?.changed) this.r.early.changed++;
      }
    };
    // A due time already past (overdue work) fires at once, as the real scheduler does.
    if (due >= this.now) this.push(due, PRIO.deadline, fire(true));
    this.push(Math.max(due + 1, this.now), PRIO.deadline, fire(false));
  }

  /** The incident's actions on its own host: recompute the host's union, publish on change, let the agent confirm. */
  private hostActions(i: Incident, actions: Action[], automatic: boolean): void {
    const h = this.hostStates.get(i.hostId)!;
    this.r.acts.push({ t: this.now, incidentId: i.id, hostId: i.hostId, actions, automatic });
    if (automatic && actions.length > 0) this.r.automaticAt.push(this.now);
    if (actions.length > 0) h.contributions.set(i.id, actions);
    else h.contributions.delete(i.id);
    const desired = union(h.contributions.values());
    const key = JSON.stringify(desired);
    if (key !== h.key) {
      h.key = key;
      h.generation++;
      this.r.publications.push({ t: this.now, hostId: i.hostId, generation: h.generation, desired, contributors: [...h.contributions.keys()] });
    }
    h.awaiting.set(i.id, h.generation);
    this.push(this.now + this.rng.int(1_000, 30_000), PRIO.agent, () => this.agentReport(i.hostId));
  }

  /** The host's agent applies the latest snapshot and reports; once in a while it fails and retries. */
  private agentReport(hostId: string): void {
    const h = this.hostStates.get(hostId)!;
    if (this.rng.chance(0.02)) {
      for (const id of h.awaiting.keys()) this.apply(id, { type: 'host_failed', error: 'nft: resource busy' });
      this.push(this.now + 5 * 60_000, PRIO.agent, () => this.agentReport(hostId));
      return;
    }
    // An agent refuses a generation older than the one it holds; it only ever moves forward.
    if (h.generation < h.applied) throw new Error(`agent on ${hostId} offered generation ${h.generation} < ${h.applied}`);
    h.applied = h.generation;
    const seq = this.r.agentApplied.get(hostId) ?? [];
    seq.push(h.applied);
    this.r.agentApplied.set(hostId, seq);
    for (const [id, gen] of [...h.awaiting]) {
      if (gen > h.applied) continue;
      h.awaiting.delete(id);
      const before = this.r.incidents.get(id)?.state;
      this.apply(id, { type: 'host_applied' });
      // As the report tracker does: the report that confirms a lift releases, and closes.
      if (before === 'releasing' && this.r.incidents.get(id)?.state === 'released') this.apply(id, { type: 'host_applied' });
    }
  }
}

/** A host's desired state: one action per kind, the strictest throttle. */
export function union(lists: Iterable<Action[]>): Action[] {
  const byKind = new Map<Action['kind'], Action>();
  for (const list of lists) {
    for (const a of list) {
      const had = byKind.get(a.kind);
      if (a.kind === 'throttle' && had?.kind === 'throttle') byKind.set('throttle', { kind: 'throttle', rateBps: Math.min(had.rateBps, a.rateBps) });
      else if (!had) byKind.set(a.kind, a);
    }
  }
  return [...byKind.values()].sort((a, b) => a.kind.localeCompare(b.kind));
}

/** A binary min-heap on (time, priority, insertion order): a deterministic event queue. */
class Heap {
  private readonly items: Queued[] = [];
  private seq = 0;

  nextSeq(): number {
    return this.seq++;
  }

  push(q: Queued): void {
    const a = this.items;
    a.push(q);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }

  pop(): Queued | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Queued, y: Queued): boolean {
  return x.t !== y.t ? x.t < y.t : x.prio !== y.prio ? x.prio < y.prio : x.seq < y.seq;
}
