import { expectEpisode, type Expectation } from './expected.js';
import type { Episode, Scenario } from './scenario.js';
import type { WorldResult } from './world.js';

/**
 * Judges a simulated month against the scenario's ground truth. Every
 * expectation comes from the scenario (who really sent what about which host,
 * who answered when) and the design's rules in expected.ts, never from the
 * lifecycle's own output. Returns the violations (empty when all is well) and
 * coverage figures that show the interesting cases really happened.
 */
export interface Verdict {
  violations: string[];
  figures: Record<string, number>;
}

const HOUR = 3_600_000;
const iso = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : String(t));
const DAY = 24 * HOUR;

export function judge(s: Scenario, r: WorldResult): Verdict {
  // Violations are grouped by check, with a few examples each, so one broken rule
  // does not hide the others.
  const byCheck = new Map<string, { count: number; examples: string[] }>();
  let check = '';
  const fail = (msg: string) => {
    const c = byCheck.get(check) ?? { count: 0, examples: [] };
    c.count++;
    if (c.examples.length < 5) c.examples.push(msg);
    byCheck.set(check, c);
  };
  const hostOwner = new Map(s.hosts.map((h) => [h.id, h.customerId]));
  const complaintTruth = new Map(s.complaints.map((c) => [c.id, c]));
  const expectations = new Map<string, Expectation>(s.episodes.map((e) => [e.id, expectEpisode(e, s.policy, s.mailLatencyMs)]));

  check = 'routing';
  // 1. Routing: each episode's complaints (duplicates and re-sends included) land in
  //    exactly one incident, and no incident mixes episodes. A report re-sent after
  //    its incident closed is a new episode, so it must have opened a new incident.
  const episodeOfIncident = new Map<string, Episode>();
  const incidentOfEpisode = new Map<string, string>();
  for (const e of s.episodes) {
    const ids = new Set(e.complaints.map((c) => r.complaintIncident.get(c.id)));
    if (ids.size !== 1 || ids.has(undefined)) {
      fail(`${e.id} (${e.hostId} ${e.category}): complaints went to ${[...ids].join(', ')}`);
      continue;
    }
    const id = [...ids][0]!;
    const other = episodeOfIncident.get(id);
    if (other) fail(`${id} took complaints of ${other.id} and ${e.id}: merged across episodes`);
    episodeOfIncident.set(id, e);
    incidentOfEpisode.set(e.id, id);
  }
  if (r.incidents.size !== s.episodes.length) fail(`${r.incidents.size} incidents for ${s.episodes.length} episodes`);
  for (const st of s.strays) if (r.complaintIncident.has(st.id)) fail(`stray ${st.id} (${st.ip}) was routed to an incident`);
  if (r.rejectedComplaints.length !== s.strays.length) fail(`${r.rejectedComplaints.length} rejected, ${s.strays.length} strays`);

  check = 'per-episode';
  // 2. Per episode: identity, escalation time, final state, and no action when answered in time.
  const acted = new Set(r.acts.filter((a) => a.actions.length > 0).map((a) => a.incidentId));
  for (const e of s.episodes) {
    const id = incidentOfEpisode.get(e.id);
    const i = id ? r.incidents.get(id) : undefined;
    if (!id || !i) continue;
    const x = expectations.get(e.id)!;
    if (i.hostId !== e.hostId || i.customerId !== e.customerId || i.category !== e.category) fail(`${id}: identity ${i.hostId}/${i.customerId}/${i.category}, truth ${e.hostId}/${e.customerId}/${e.category}`);
    if (i.complaintCount !== e.complaints.length) fail(`${id}: ${i.complaintCount} complaints counted, ${e.complaints.length} sent`);
    if (i.escalatedAt?.getTime() !== x.escalatedAt) fail(`${id} (${e.id} ${e.category} ${e.answer.kind} ${e.timing}): escalated at ${i.escalatedAt?.toISOString()}, expected ${x.escalatedAt === undefined ? 'never' : new Date(x.escalatedAt).toISOString()}`);
    const final = i.state === 'closed' || i.state === 'dismissed' ? i.state : 'open';
    if (final !== x.finalState) fail(`${id} (${e.id} ${e.answer.kind}): ends ${i.state}, expected ${x.finalState}`);
    if (x.inTime && acted.has(id)) fail(`${id} (${e.id}): answered in time, yet enforced`);
  }

  check = 'answered-in-time customers';
  // 3. Customers who answered every incident in time: nothing ever enforced on any of their hosts.
  const published = new Set(r.publications.map((p) => p.hostId));
  const episodesOfCustomer = groupBy(s.episodes, (e) => e.customerId);
  const allInTime = s.customers.filter((c) => {
    const eps = episodesOfCustomer.get(c.id) ?? [];
    return eps.length > 0 && eps.every((e) => expectations.get(e.id)!.inTime);
  });
  for (const c of allInTime) for (const h of c.hostIds) if (published.has(h)) fail(`${h} of ${c.id} (answered everything in time) got a desired state`);

  check = 'own host and customer';
  // 4. Enforcement only ever lands on the incident's own host, of the incident's own customer.
  const complaintsOf = new Map<string, string[]>();
  for (const [cid, iid] of r.complaintIncident) {
    const list = complaintsOf.get(iid) ?? [];
    list.push(cid);
    complaintsOf.set(iid, list);
  }
  const contributedTo = (incidentId: string, hostId: string, what: string) => {
    for (const cid of complaintsOf.get(incidentId) ?? []) {
      const truth = complaintTruth.get(cid);
      if (!truth) fail(`${what}: ${incidentId} holds unknown complaint ${cid}`);
      else if (truth.hostId !== hostId) fail(`${what}: ${incidentId} (complaint ${cid} about ${truth.hostId}) acts on ${hostId}`);
      else if (truth.customerId !== hostOwner.get(hostId)) fail(`${what}: ${incidentId} of ${truth.customerId} acts on ${hostId} of ${hostOwner.get(hostId)}`);
    }
  };
  for (const a of r.acts) contributedTo(a.incidentId, a.hostId, 'act');
  for (const p of r.publications) for (const id of p.contributors) contributedTo(id, p.hostId, `generation ${p.generation}`);

  check = 'trusted reports only';
  // 4b. Automatic enforcement only after a report from a trusted reporter kind about that
  //     host and category had arrived (untrusted ones wait for an operator).
  const trustedKinds = s.policy.trustedReporterKinds;
  for (const a of r.acts) {
    if (!a.automatic || a.actions.length === 0) continue;
    const e = episodeOfIncident.get(a.incidentId);
    if (e && !e.complaints.some((c) => c.at <= a.t && trustedKinds.includes(c.reporterKind))) {
      fail(`${a.incidentId} (${e.id}) enforced automatically at ${iso(a.t)} with no trusted report yet`);
    }
  }

  check = 'closed stays closed';
  // 5. Closed (or released) incidents never act again, and hold nothing at the end.
  for (const a of r.acts) {
    if (a.actions.length === 0) continue;
    const ended = Math.min(r.terminalAt.get(a.incidentId) ?? Infinity, r.releasedAt.get(a.incidentId) ?? Infinity);
    if (a.t >= ended) fail(`${a.incidentId} set ${a.actions.map((x) => x.kind)} on ${a.hostId} at ${iso(a.t)}, after it ended at ${iso(ended)}`);
  }
  for (const [hostId, ids] of r.finalContributions) {
    for (const id of ids) {
      const st = r.incidents.get(id)?.state;
      if (st !== 'enforcing' && st !== 'enforced' && st !== 'release_requested' && st !== 'appealed') fail(`${id} (${st}) still holds actions on ${hostId} at the end`);
    }
  }
  // Independently: a host whose every episode ended has nothing left in force.
  for (const [hostId, eps] of groupBy(s.episodes, (e) => e.hostId)) {
    if (eps.every((e) => expectations.get(e.id)!.end !== Infinity) && r.finalDesired.get(hostId)!.length > 0) {
      fail(`${hostId}: every incident ended, yet desired state ${JSON.stringify(r.finalDesired.get(hostId))}`);
    }
  }

  check = 'generations';
  // 6. Generations only grow: each host's publications are 1, 2, 3… each a real change,
  //    and its agent applied a non-decreasing sequence.
  const lastGen = new Map<string, { generation: number; key: string }>();
  for (const p of r.publications) {
    const prev = lastGen.get(p.hostId) ?? { generation: 0, key: '[]' };
    const key = JSON.stringify(p.desired);
    if (p.generation !== prev.generation + 1) fail(`${p.hostId}: generation ${p.generation} after ${prev.generation}`);
    if (key === prev.key) fail(`${p.hostId}: generation ${p.generation} published an unchanged desired state`);
    lastGen.set(p.hostId, { generation: p.generation, key });
  }
  for (const [hostId, seq] of r.agentApplied) {
    for (let k = 1; k < seq.length; k++) if (seq[k]! < seq[k - 1]!) fail(`${hostId}: agent went from generation ${seq[k - 1]} to ${seq[k]}`);
  }

  check = 'rate limit';
  // 7. At most maxAutomaticPerHour automatic enforcements in any rolling hour.
  const auto = r.automaticAt;
  for (let k = 0, lo = 0; k < auto.length; k++) {
    while (auto[lo]! <= auto[k]! - HOUR) lo++;
    if (k - lo + 1 > s.policy.maxAutomaticPerHour) fail(`${k - lo + 1} automatic enforcements in the hour up to ${new Date(auto[k]!).toISOString()}`);
  }

  check = 'termination review';
  // 8. Termination review exactly when an incident becomes established (a trusted complaint the customer
  //    acknowledged or fixed, or left unanswered until enforced) while the customer already has
  //    incidents - 1 other established ones opened within 90 days; opening counts for nothing.
  const windowMs = s.policy.recidivism.windowDays * DAY;
  const expectedReviews = new Set<string>();
  for (const [id, t] of r.establishedAt) {
    const i = r.incidents.get(id)!;
    const others = [...r.establishedAt].filter(([o, ot]) => {
      const other = r.incidents.get(o)!;
      const dropped = r.unestablishedAt.get(o);
      return o !== id && other.customerId === i.customerId && ot <= t && (dropped === undefined || dropped > t) && other.openedAt.getTime() >= t - windowMs;
    }).length;
    if (!i.trusted) fail(`${id}: established though untrusted`);
    if (others + 1 >= s.policy.recidivism.incidents) expectedReviews.add(id);
  }
  for (const id of expectedReviews) if (!r.reviews.has(id)) fail(`${id} (${episodeOfIncident.get(id)?.id}): no termination review`);
  for (const id of r.reviews) if (!expectedReviews.has(id)) fail(`${id} (${episodeOfIncident.get(id)?.id}): unexpected termination review`);

  check = 'timers and plans';
  // 9. Timers that fire at the due time (not after it) never change anything, and every
  //    planned operator decision found the incident in the state the plan predicts.
  if (r.early.changed > 0) fail(`${r.early.changed} deadlines acted at their due time, not strictly after`);
  for (const n of r.operatorNoops) fail(`operator ${n.intent} at ${iso(n.at)} on ${n.ref}: incident was ${n.state}`);

  const violations = [...byCheck].map(([name, c]) => `${name}: ${c.count} violation(s), e.g. ${c.examples.join(' | ')}`);
  return { violations, figures: figures(s, r, expectations, allInTime.length, acted) };
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const list = m.get(key(t)) ?? [];
    list.push(t);
    m.set(key(t), list);
  }
  return m;
}

function figures(s: Scenario, r: WorldResult, x: Map<string, Expectation>, inTimeCustomers: number, acted: Set<string>): Record<string, number> {
  const eps = s.episodes;
  const count = (f: (e: Episode) => boolean) => eps.filter(f).length;
  const endsOfLane = new Set(eps.map((e) => `${e.hostId}|${e.category}|${x.get(e.id)!.end}`));
  const trustedKinds = s.policy.trustedReporterKinds;
  const ladder = (e: Episode) => s.policy.categories[e.category].ladder.length > 0;
  return {
    customers: s.customers.length,
    hosts: s.hosts.length,
    maxHostsPerCustomer: Math.max(...s.customers.map((c) => c.hostIds.length)),
    complaints: s.complaints.length + s.strays.length,
    strayComplaints: s.strays.length,
    episodes: eps.length,
    incidents: r.incidents.size,
    mergedDuplicates: s.complaints.length - eps.length,
    resentAfterClose: count((e) => e.resentAfterClose),
    resentWithin1ms: count((e) => e.resentAfterClose && endsOfLane.has(`${e.hostId}|${e.category}|${e.start - 1}`)),
    answeredDueMinus1ms: count((e) => e.timing === 'due-1ms'),
    answeredAtDue: count((e) => e.timing === 'due'),
    answeredDuePlus1ms: count((e) => e.timing === 'due+1ms'),
    neverAnswered: count((e) => e.answer.kind === 'silent'),
    inTimeTrustedWithLadder: count((e) => x.get(e.id)!.inTime && trustedKinds.includes(e.complaints[0]!.reporterKind) && ladder(e)),
    customersAllInTime: inTimeCustomers,
    escalated: count((e) => x.get(e.id)!.escalatedAt !== undefined),
    escalatedByLaterTrustedReport: count((e) => {
      const at = x.get(e.id)!.escalatedAt;
      return at !== undefined && at !== e.start && e.complaints.some((c) => c.at === at && c.at !== e.start);
    }),
    incidentsEnforced: acted.size,
    automaticEnforcements: r.automaticAt.length,
    secondRungs: r.acts.filter((a) => a.actions.length >= 2).length,
    releases: r.releasedAt.size,
    rateLimitHolds: r.holds.rate_limit,
    untrustedHolds: r.holds.untrusted_reporter,
    operatorDecisionHolds: r.holds.operator_decision,
    publications: r.publications.length,
    refusals: [...r.refusals.values()].reduce((a, b) => a + b, 0),
    earlyDeadlinesIgnored: r.early.fired,
    transitions: r.transitions,
  };
}
