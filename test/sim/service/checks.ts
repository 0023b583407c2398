import type { Incident } from '../../../controller/incidents/model.js';
import { CUT_ACTIONS, WAITING_STATES } from '../../../controller/incidents/model.js';
import type { PolicyConfig } from '../../../controller/incidents/policy.js';
import type { StoredIncidentEvent } from '../../../controller/store/EventsRepo.js';
import { IN_TIME, type CustomerCase, type Customers } from './actors.js';
import type { Harness } from './harness.js';
import type { Scenario } from './scenario.js';
import type { Tally } from './tally.js';

/**
 * The invariants, judged from what the store holds and what the service
 * sent out — never from a model of our own:
 *
 * (1) no enforcement, ever, on a host whose customer answered every notice
 *     within the deadlines the notice stated (the desired state recorded
 *     after every step, and enforcement_starts);
 * (2) an enforcement acts on its incident's host only (table rows, starts,
 *     and every desired state pushed to an agent);
 * (3) automatic enforcement only on a trusted, linked (not duplicate)
 *     complaint; anything else needs an operator, with a second operator's
 *     approval where four eyes require one;
 * (4) every cut is preceded by a good BMC check within bmcFreshMinutes, or
 *     by an audited override;
 * (5) (checked per report in world.ts) duplicates open nothing and move no
 *     deadline;
 * (6) the audit chain verifies;
 * (7) (per step in world.ts, again here) reviews count established
 *     incidents only.
 * Also: customers' mail goes to the incident's customer and names no other
 * customer's address; the fleet-wide hourly cap on automatic enforcement.
 */

export interface DesiredRecord {
  step: number;
  at: number;
  generation: number;
  /** `${incidentId}:${kind}` of every enforcement in the host's desired state. */
  enforcements: string[];
}

interface Start {
  id: number;
  at: number;
  host_id: string;
  incident_id: string;
  kind: string;
  automatic: number;
}

const HOUR = 3_600_000;
const iso = (t: number) => new Date(t).toISOString();
const detailOf = (e: StoredIncidentEvent) => (e.detail ?? {}) as Record<string, unknown>;
/** SIM_DEBUG=1 prints the history of an incident a check fails on, one event a line, for reading a replayed seed. */
function debugHistory(evs: readonly StoredIncidentEvent[]): void {
  if (process.env.SIM_DEBUG) console.log(evs.map((e) => `${e.at.toISOString()} ${e.type} ${e.fromState}->${e.toState} ${e.actor} ${JSON.stringify(detailOf(e))}`).join('\n'));
}

export async function checkStore(w: { s: Scenario; h: Harness; policy: PolicyConfig; customers: Customers; history: Map<string, DesiredRecord[]>; tally: Tally }): Promise<void> {
  const { s, h, policy, customers, history, tally } = w;
  const { store } = h;
  const ids = (await store.db.all<{ id: string }>('SELECT id FROM incidents ORDER BY opened_at, id')).map((r) => r.id);
  const incidents = new Map<string, Incident>();
  const events = new Map<string, StoredIncidentEvent[]>();
  for (const id of ids) {
    incidents.set(id, (await store.incidents.get(id))!);
    events.set(id, await store.events.list(id));
  }
  const starts = await store.db.all<Start>('SELECT id, at, host_id, incident_id, kind, automatic FROM enforcement_starts ORDER BY at, id');
  tally.count('incidents', incidents.size);
  tally.count('enforcements', starts.length);
  tally.count('cuts', starts.filter((x) => (CUT_ACTIONS as readonly string[]).includes(x.kind)).length);
  tally.count('overrides', [...events.values()].flat().filter((e) => e.type === 'operator_override_bmc').length);
  tally.count('reviews', (await store.terminationReviews.list()).length);

  // (2) Own host: the starts and every pushed desired state.
  for (const x of starts) {
    const i = incidents.get(x.incident_id);
    if (i?.hostId !== x.host_id) tally.fail('(2) own host only', `start ${x.id}: ${x.incident_id} (host ${i?.hostId}) started ${x.kind} on ${x.host_id}`);
  }
  for (const p of h.pushes) {
    for (const e of p.state.enforcements) {
      const i = incidents.get(e.incidentId);
      if (i?.hostId !== p.hostId) tally.fail('(2) own host only', `pushed to ${p.hostId} at ${iso(p.at)}: ${e.id} of ${e.incidentId} (host ${i?.hostId})`);
    }
  }

  // When each incident became trusted (its first trusted, linked complaint) and overdue (its first escalating deadline).
  const trustedAt = new Map<string, number>();
  for (const r of await store.db.all<{ incident_id: string; t: number }>("SELECT incident_id, MIN(received_at) AS t FROM complaints WHERE status = 'linked' AND trusted = 1 GROUP BY incident_id")) {
    trustedAt.set(r.incident_id, r.t);
  }
  const overdueAt = (id: string) => events.get(id)!.find((e) => e.type === 'deadline' && e.fromState && (WAITING_STATES as readonly string[]).includes(e.fromState))?.at.getTime();
  const approvals = new Map((await store.approvals.list()).map((a) => [a.id, a]));
  const cutKinds = CUT_ACTIONS as readonly string[];

  const checkApproval = (x: Start, approvalId: unknown, what: string): boolean => {
    const a = typeof approvalId === 'string' ? approvals.get(approvalId) : undefined;
    if (!a) return false;
    const ok = a.status === 'approved' && a.decidedBy !== undefined && a.decidedBy !== a.requestedBy && (a.incidentId ? a.incidentId === x.incident_id : a.targets.includes(x.host_id)) && (a.decidedAt?.getTime() ?? Infinity) <= x.at;
    if (!ok) tally.fail('(3) four eyes', `${what}: approval ${a.id} is ${a.status}, requested by ${a.requestedBy}, decided by ${a.decidedBy} at ${a.decidedAt?.toISOString()}`);
    return ok;
  };

  const byPolicy: Start[] = [];
  for (const x of starts) {
    const i = incidents.get(x.incident_id)!;
    const evs = events.get(x.incident_id)!;
    const atT = evs.filter((e) => e.at.getTime() === x.at);
    const what = `${x.kind} on ${x.host_id} by ${x.incident_id} (${i.category}, ${i.trusted ? 'trusted' : 'untrusted'}) at ${iso(x.at)}`;
    // What caused it: an operator's enforce now, an override, a held operator cut released by a BMC answer, or the policy.
    let operatorEvent = atT.find((e) => e.type === 'operator_enforce');
    const override = atT.find((e) => e.type === 'operator_override_bmc');
    // A cut held for its BMC goes ahead on a good check ('before') or an override: whose cut was it?
    const release = [...atT].reverse().find((e) => e.type === 'operator_override_bmc' || (e.type === 'bmc_result' && detailOf(e).phase === 'before' && e.toState === 'enforcing'));
    if (!operatorEvent && release) {
      const at = evs.indexOf(release);
      const held = evs.slice(0, at).reverse().find((e) => e.type === 'held' && detailOf(e).hold === 'bmc_unreachable');
      const pendingBy = /^\S+ by (\S+) waits/.exec(String(held ? detailOf(held).reason : ''))?.[1];
      if (held && pendingBy) operatorEvent = evs.slice(0, evs.indexOf(held) + 1).reverse().find((e) => e.type === 'operator_enforce' && detailOf(e).operator === pendingBy);
    }
    if (operatorEvent) {
      tally.count('enforcements by operators');
      if (x.automatic === 1) tally.fail('operator cut counted as automatic', `${what}: ${operatorEvent.actor}'s ${x.kind} waited for the BMC and counts against the hourly cap of automatic enforcement`);
      const d = detailOf(operatorEvent);
      const t = operatorEvent.at.getTime();
      const standing = i.openedBy === 'complaint' && (trustedAt.get(i.id) ?? Infinity) <= t && (overdueAt(i.id) ?? Infinity) <= t;
      if (d.approvalId !== undefined) checkApproval(x, d.approvalId, what);
      else if (cutKinds.includes(x.kind) && !standing) tally.fail('(3) four eyes', `${what}: ${operatorEvent.actor} cut alone without a trusted, overdue complaint`);
    } else {
      byPolicy.push(x);
      // (3) The policy acts on a trusted, linked complaint only, and only once a deadline passed (or the category is immediate).
      tally.count('enforcements by policy');
      if ((trustedAt.get(i.id) ?? Infinity) > x.at) tally.fail('(3) automatic only on trusted complaints', `${what}: no trusted, linked complaint by then`);
      const due = overdueAt(i.id);
      if (!policy.categories[i.category].immediate && (due ?? Infinity) > x.at) tally.fail('(3) automatic only on trusted complaints', `${what}: no deadline had passed`);
    }
    // (4) A cut: a good BMC check within bmcFreshMinutes before it, or an override recorded with it.
    if (cutKinds.includes(x.kind)) {
      const good = await store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM bmc_checks WHERE host_id = ? AND reachable = 1 AND at <= ? AND at >= ?', [x.host_id, x.at, x.at - policy.bmcFreshMinutes * 60_000]);
      if (override) tally.count('cuts by override');
      else if (!good?.n) tally.fail('(4) BMC before every cut', `${what}: no answering BMC check in the ${policy.bmcFreshMinutes} min before, and no override`);
    }
    // The customer said it is fixed: nothing new may start on that incident afterwards.
    const fixed = evs.find((e) => e.type === 'customer_fixed' && e.at.getTime() < x.at);
    if (fixed) {
      const cause = operatorEvent ? `${operatorEvent.actor}'s ${String(detailOf(operatorEvent).action && (detailOf(operatorEvent).action as { kind?: string }).kind)}` : `the policy (${atT.map((e) => e.type).join(', ')})`;
      debugHistory(evs);
      tally.fail('enforcement after the customer confirmed the fix', `${what}, caused by ${cause}: the fix was recorded at ${fixed.at.toISOString()} (${fixed.fromState} -> ${fixed.toState}); the incident is now ${i.state}`);
    }
  }

  // Four eyes, hourly: no operator acts alone on more than operatorHostsPerHour hosts in any hour.
  const alone = [...events.values()].flat().filter((e) => e.type === 'operator_enforce' && detailOf(e).approvalId === undefined);
  for (const e of alone) {
    const t = e.at.getTime();
    const hosts = new Set(alone.filter((o) => o.actor === e.actor && o.at.getTime() <= t && o.at.getTime() >= t - HOUR).map((o) => incidents.get(o.incidentId)!.hostId));
    if (hosts.size > policy.fourEyes.operatorHostsPerHour) tally.fail('(3) four eyes', `${e.actor} acted alone on ${hosts.size} hosts in the hour up to ${e.at.toISOString()}`);
  }

  // The fleet-wide cap: what the policy started by itself, in any rolling hour (an operator's cut that
  // waited for its BMC is recorded as automatic too: a finding above, not counted here).
  const automatic = byPolicy.filter((x) => x.automatic === 1);
  for (let k = 0, lo = 0; k < automatic.length; k++) {
    while (automatic[lo]!.at <= automatic[k]!.at - HOUR) lo++;
    if (k - lo + 1 > policy.maxAutomaticPerHour) {
      const window = automatic.slice(lo, k + 1).map((x) => `${x.kind} by ${x.incident_id} at ${iso(x.at)} (${events.get(x.incident_id)!.filter((e) => e.at.getTime() === x.at).map((e) => e.type).join('+')})`);
      tally.fail('hourly cap', `${k - lo + 1} automatic starts in the hour up to ${iso(automatic[k]!.at)}: ${window.join('; ')}`);
    }
  }

  // (1) An incident whose customer answered within the deadlines its notice stated never holds an action;
  //     a host whose every incident was answered so is never restricted at all.
  const terminal = (state: string | undefined) => state === 'closed' || state === 'dismissed';
  // Escalated at intake by design (an immediate category on a trusted report), or opened by an operator's own action.
  const exempt = (i: Incident) => (policy.categories[i.category].immediate && i.trusted) || i.openedBy === 'operator';
  const inTime = new Set<string>();
  for (const i of incidents.values()) {
    const c: CustomerCase | undefined = customers.cases.get(i.id);
    if (exempt(i)) continue;
    if (!c) {
      if (i.notifiedAt === undefined) inTime.add(i.id); // never notified: no clock ran
      continue;
    }
    if (!IN_TIME.includes(c.behaviour)) continue;
    const refused = c.answers.filter((a) => !a.ok && !terminal(a.refusedIn));
    if (refused.length > 0) debugHistory(events.get(i.id)!);
    for (const a of refused) tally.fail('(1) answers in time are taken', `${i.id} (${i.category}, ${c.behaviour}): ${a.kind} at ${iso(a.at)}, due ${iso(a.due)}, refused in ${a.refusedIn}: ${a.error}`);
    // The world itself may run an answer a millisecond or two after its planned time: then it is not in time.
    const late = c.answers.filter((a) => a.at > a.due);
    if (late.length > 0) tally.count('answers run after their deadline by the world');
    if (refused.length === 0 && late.length === 0) inTime.add(i.id);
  }
  tally.count('incidents answered in time', [...inTime].filter((id) => customers.cases.has(id)).length);
  // (1) is about what Cordon decides by itself. Operators may still act on such an incident (a customer-wide
  // action lands on the host's open incident): that is their decision, with its reason, its actor and, for a
  // customer or several hosts, a second operator's approval, checked under (3). From an operator's first
  // action on, the incident's holds are theirs; before it, and every automatic start, are the policy's.
  const operatorFrom = (id: string) => events.get(id)!.find((e) => e.type === 'operator_enforce')?.at.getTime() ?? Infinity;
  for (const id of inTime) {
    const i = incidents.get(id)!;
    const byOperator = operatorFrom(id);
    if (byOperator < Infinity) tally.count('incidents answered in time an operator acted on');
    const held = (history.get(i.hostId) ?? []).find((r) => r.at < byOperator && r.enforcements.some((e) => e.startsWith(`${id}:`)));
    if (held) tally.fail('(1) answered in time, never enforced', `${id} (${i.category}) held ${held.enforcements.join(', ')} on ${i.hostId} at step ${held.step} (${iso(held.at)})`);
    const started = starts.find((x) => x.incident_id === id && (x.automatic === 1 || x.at < byOperator));
    if (started && !held) tally.fail('(1) answered in time, never enforced', `${id} (${i.category}) started ${started.kind} on ${i.hostId} at ${iso(started.at)}`);
  }
  const byHost = new Map<string, Incident[]>();
  for (const i of incidents.values()) byHost.set(i.hostId, [...(byHost.get(i.hostId) ?? []), i]);
  for (const [hostId, list] of byHost) {
    if (!list.every((i) => inTime.has(i.id))) continue;
    tally.count('hosts answered in time');
    const restricted = (history.get(hostId) ?? []).find((r) => r.enforcements.some((e) => r.at < operatorFrom(e.slice(0, e.lastIndexOf(':')))));
    if (restricted) tally.fail('(1) answered in time, never enforced', `${hostId}, all of whose incidents were answered in time, held ${restricted.enforcements.join(', ')} at step ${restricted.step} (${iso(restricted.at)})`);
  }

  // (6) The audit chain.
  const audit = await store.audit.verify();
  tally.count('audit rows', audit.rows);
  if (!audit.ok) tally.fail('(6) audit chain', `broken at row ${audit.firstBroken.id}: ${audit.firstBroken.reason}`);

  // (7) Reviews: an incident counted when flagged (checked then, in world.ts) and dismissed since.
  for (const r of await store.terminationReviews.list()) {
    for (const id of r.incidentIds) {
      const i = incidents.get(id);
      if (!i || i.established) continue;
      // Decided reviews are history; an open one is what an operator is about to decide on.
      if (r.status === 'open') tally.finding('open review still counts an incident no longer established', `review ${r.id} of ${r.customerId} counts ${id}, now ${i.state}`);
      else tally.count('decided reviews counting an incident dismissed since');
    }
  }

  // Mail: to the incident's own customer, naming none of another customer's addresses.
  const owner = new Map(s.hosts.map((x) => [x.id, x.customerId]));
  const emails = new Map(s.customers.map((c) => [c.id, c.email]));
  const addresses = s.hosts.flatMap((x) => x.ips.map((ip) => ({ ip, customerId: x.customerId, re: addressPattern(ip) })));
  for (const m of h.mails) {
    tally.count('mails');
    const i = m.incidentId ? incidents.get(m.incidentId) : undefined;
    if (!i) continue;
    if (m.to !== emails.get(owner.get(i.hostId)!)) tally.fail('mail to its own customer', `${m.template} of ${i.id} (${i.hostId}) went to ${m.to}`);
    for (const a of addresses) {
      if (a.customerId !== i.customerId && a.re.test(m.text)) tally.fail("mail names no other customer's address", `${m.template} of ${i.id} to ${m.to} names ${a.ip} of ${a.customerId}`);
    }
  }
}

/** An address as a whole token in text (198.18.0.1 is not inside 198.18.0.17). */
function addressPattern(ip: string): RegExp {
  const esc = ip.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return ip.includes(':') ? new RegExp(`(?<![0-9a-f:])${esc}(?![0-9a-f:])`, 'i') : new RegExp(`(?<![0-9.])${esc}(?![0-9])`);
}
