import type { SubmitResult } from '../../../controller/services/IncidentService.js';
import type { PolicyConfig } from '../../../controller/incidents/policy.js';
import { asCordonError } from '../../../proto/runtime/CordonError.js';
import { Customers, Operators, type Agenda } from './actors.js';
import { checkStore, type DesiredRecord } from './checks.js';
import { Composer } from './compose.js';
import { createHarness, type Sabotage } from './harness.js';
import type { PlannedReport, Scenario } from './scenario.js';
import { Tally } from './tally.js';

/**
 * Runs a scenario through the real controller (harness.ts): reports are
 * ingested at their time, customers and operators act through the desk, and
 * the ManualClock moves from one thing to do to the next — the next planned
 * action, or the next moment the controller itself acts (a deadline, a mail
 * retry) — so every deadline fires at its own millisecond. After every step
 * the host desired states, the termination reviews and overdue deadlines are
 * read back from the store; after every report, what it opened and changed.
 * At the end checks.ts judges the whole store.
 */

export interface WorldResult {
  tally: Tally;
  steps: number;
  /** The simulated time covered, and the wall time it took. */
  simulatedDays: number;
  wallMs: number;
}

class AgendaQueue implements Agenda {
  private items: { at: number; seq: number; label: string; run: () => Promise<void> }[] = [];
  private seq = 0;

  add(at: number, label: string, run: () => Promise<void>): void {
    const item = { at, seq: this.seq++, label, run };
    // Sorted insert (by time, then order of planning); the agenda holds a few thousand items at most.
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const m = this.items[mid]!;
      if (m.at < at || (m.at === at && m.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
  }

  peek(): number | undefined {
    return this.items[0]?.at;
  }

  pop() {
    return this.items.shift()!;
  }
}

interface IncidentSnapshot {
  state: string;
  ack: number | null;
  resolve: number | null;
  next: number | null;
  complaints: number;
}

/** A first copy stored so that a re-send must match it (a rejected or needs_info one is not). */
const RECOGNISABLE = new Set(['linked', 'held', 'duplicate']);

export async function runServiceWorld(s: Scenario, policy: PolicyConfig, sabotage: Sabotage = {}): Promise<WorldResult> {
  const started = performance.now();
  const h = await createHarness(s, policy, sabotage);
  const tally = new Tally();
  const agenda = new AgendaQueue();
  const customers = new Customers(s, h, agenda, tally);
  h.onMail = (m) => customers.onMail(m);
  const operators = new Operators(s, h, policy, customers, tally);
  const byId = new Map(s.reports.map((r) => [r.id, r]));
  const composer = new Composer(s.seed, byId);
  const results = new Map<string, SubmitResult[]>();
  const history = new Map<string, DesiredRecord[]>(s.hosts.map((x) => [x.id, [{ step: 0, at: s.t0, generation: 0, enforcements: [] }]]));

  const snapshot = async (): Promise<Map<string, IncidentSnapshot>> => {
    const rows = await h.store.db.all<{ id: string; state: string; ack_due_at: number | null; resolve_due_at: number | null; next_due_at: number | null; complaint_count: number }>(
      'SELECT id, state, ack_due_at, resolve_due_at, next_due_at, complaint_count FROM incidents',
    );
    return new Map(rows.map((r) => [r.id, { state: r.state, ack: r.ack_due_at, resolve: r.resolve_due_at, next: r.next_due_at, complaints: r.complaint_count }]));
  };

  const ingest = async (p: PlannedReport): Promise<void> => {
    const c = await composer.compose(p);
    const before = await snapshot();
    let out;
    try {
      out = await h.service.ingestReport(c.bytes, c.actor, c.filename, c.channel);
    } catch (err) {
      tally.fail('intake', `${p.id} (${p.kind} ${p.format}) was refused: ${asCordonError(err).message}`);
      return;
    }
    const after = await snapshot();
    results.set(p.id, out.results);
    tally.count('reports');
    tally.count(`reports ${p.kind}`);
    for (const r of out.results) {
      tally.count('complaints');
      tally.count(`outcome ${r.outcome}`);
      if (r.outcome === 'needs_info') tally.fail('intake', `${p.id} (${p.kind} ${p.format}) not understood: ${r.reason}`);
      // Trust: only a genuine report of a trusted reporter; never a forgery, an anonymous or an unsigned copy.
      if (r.trusted && !c.shouldTrust) tally.fail('untrusted report trusted', `${p.id} (${p.kind} ${p.forgery ?? ''} ${p.format}): ${out.authentication.reason}`);
      if (!r.trusted && c.shouldTrust && r.outcome !== 'rejected') tally.fail('genuine report not trusted', `${p.id} (${p.kind} ${p.format}): ${out.authentication.reason}`);
      if ((p.kind === 'forged' || p.kind === 'preempt') && !r.trusted) tally.count('forged held untrusted');
    }

    // (5) A duplicate opens nothing and changes no incident's deadlines or state.
    const opened = new Set(out.results.filter((r) => r.outcome === 'opened').map((r) => r.incidentId!));
    for (const id of after.keys()) if (!before.has(id) && !opened.has(id)) tally.fail('(5) duplicates open nothing', `${p.id}: incident ${id} appeared without an 'opened' complaint`);
    const touched = new Set(out.results.filter((r) => r.outcome === 'opened' || r.outcome === 'merged').map((r) => r.incidentId!));
    for (const r of out.results.filter((x) => x.outcome === 'duplicate')) {
      tally.count('duplicates recognised');
      const stored = await h.store.complaints.get(r.complaintId);
      if (stored?.status !== 'duplicate' || !stored.duplicateOf) tally.fail('(5) duplicates open nothing', `${p.id}: duplicate ${r.complaintId} stored as ${stored?.status}`);
      const first = stored?.duplicateOf ? await h.store.complaints.get(stored.duplicateOf) : undefined;
      if (first && r.trusted && !first.trusted) {
        tally.fail('trusted report swallowed as a duplicate of an untrusted copy', `${p.id} (${p.kind}${p.resendHow ? ` ${p.resendHow}` : ''}): ${r.reason}; the first copy ${first.id} is untrusted (${first.reporter}), so the trusted report never counts`);
      }
      if (!r.incidentId || touched.has(r.incidentId)) continue;
      const [b, a] = [before.get(r.incidentId), after.get(r.incidentId)];
      if (JSON.stringify(b) !== JSON.stringify(a)) tally.fail('(5) duplicates open nothing', `${p.id}: duplicate ${r.complaintId} changed ${r.incidentId}: ${JSON.stringify(b)} -> ${JSON.stringify(a)}`);
    }

    // A re-send of a report already counted must be recognised, address by address.
    if (p.kind === 'resend') {
      tally.count(`resend ${p.resendHow}`);
      const firstIncident = (results.get(p.resendOf!) ?? []).find((r) => r.incidentId)?.incidentId;
      const state = firstIncident ? before.get(firstIncident)?.state : undefined;
      if (state === 'closed' || state === 'dismissed') tally.count('resends after closure');
      const first = await keyed(results.get(p.resendOf!) ?? []);
      for (const [key, r] of await keyed(out.results)) {
        const f = first.get(key);
        const firstStatus = f ? (await h.store.complaints.get(f.complaintId))?.status : undefined;
        if (firstStatus && RECOGNISABLE.has(firstStatus) && r.outcome !== 'duplicate') {
          tally.fail('(5) re-sends recognised', `${p.id} (${p.resendHow} of ${p.resendOf}, ${key}): ${r.outcome} (${r.reason}); the first copy is ${firstStatus}`);
        }
      }
    }
  };

  /** A report's results by the address and category of their complaints (as stored). */
  const keyed = async (list: SubmitResult[]): Promise<Map<string, SubmitResult>> => {
    const m = new Map<string, SubmitResult>();
    for (const r of list) {
      const c = await h.store.complaints.get(r.complaintId);
      if (c) m.set(`${c.ip}|${c.category}`, r);
    }
    return m;
  };

  for (const p of s.reports) agenda.add(p.at, `report ${p.id}`, () => ingest(p));
  for (const t of s.sweeps) agenda.add(t, 'sweep', () => operators.sweep());
  // An agent back from an outage reports at once: wake up then.
  for (const o of s.agentOutages) agenda.add(o.to, `agent ${o.hostId} back`, async () => {});

  let last = new Map<string, string>();
  const reviewSeen = new Map<string, string>();
  const stale = new Set<string>();
  const observe = async (step: number): Promise<void> => {
    const now = h.clock.now().getTime();
    const rows = await h.store.db.all<{ host_id: string; incident_id: string; kind: string; incident_host: string }>(
      'SELECT e.host_id, e.incident_id, e.kind, i.host_id AS incident_host FROM enforcements e JOIN incidents i ON i.id = e.incident_id ORDER BY e.host_id, e.incident_id, e.kind',
    );
    const current = new Map<string, string[]>();
    for (const r of rows) {
      // (2) An enforcement acts on its incident's own host.
      if (r.host_id !== r.incident_host) tally.fail('(2) own host only', `${r.incident_id} (host ${r.incident_host}) holds ${r.kind} on ${r.host_id}`);
      current.set(r.host_id, [...(current.get(r.host_id) ?? []), `${r.incident_id}:${r.kind}`]);
    }
    const next = new Map([...current].map(([k, v]) => [k, v.join(',')]));
    for (const hostId of new Set([...last.keys(), ...next.keys()])) {
      if (last.get(hostId) === next.get(hostId)) continue;
      const d = await h.store.desired.get(hostId);
      const ids = d.enforcements.map((e) => e.id);
      if (ids.join(',') !== (next.get(hostId) ?? '')) tally.fail('desired state', `${hostId}: desired.get says ${ids.join(',')}, the table ${next.get(hostId)}`);
      history.get(hostId)?.push({ step, at: now, generation: d.generation, enforcements: ids });
    }
    last = next;

    // (7) A termination review counts only established incidents, the moment it is flagged or grows.
    for (const r of await h.store.terminationReviews.list()) {
      const key = r.incidentIds.join(',');
      if (reviewSeen.get(r.id) === key) continue;
      reviewSeen.set(r.id, key);
      tally.count('review flags');
      for (const id of r.incidentIds) {
        const i = await h.store.incidents.get(id);
        if (!i || !i.established || !i.trusted || i.openedBy !== 'complaint' || i.customerId !== r.customerId) {
          tally.fail('(7) reviews count established incidents only', `review ${r.id} of ${r.customerId} counts ${id}: ${i ? `${i.state}, established=${i.established}, trusted=${i.trusted}, opened by ${i.openedBy}, customer ${i.customerId}` : 'missing'}`);
        }
      }
    }
    // A deadline the scheduler should have processed (it fires 1 ms after the due time).
    for (const r of await h.store.db.all<{ id: string; state: string; next_due_at: number }>('SELECT id, state, next_due_at FROM incidents WHERE next_due_at < ?', [now - 1])) {
      if (!stale.has(r.id)) tally.finding('deadline due but never processed', `${r.id} (${r.state}) due ${new Date(r.next_due_at).toISOString()}, now ${new Date(now).toISOString()}`);
      stale.add(r.id);
    }
  };

  let steps = 0;
  try {
    steps = await loop();
    tally.count('steps', steps);
    await checkStore({ s, h, policy, customers, history, tally });
  } finally {
    await h.close();
  }
  return { tally, steps, simulatedDays: (s.end - s.t0) / 86_400_000, wallMs: performance.now() - started };

  async function loop(): Promise<number> {
    let n = 0;
    for (;;) {
      const planned = agenda.peek();
      const wake = await h.nextWakeup();
      const t = Math.min(planned ?? Infinity, wake ?? Infinity);
      if (!Number.isFinite(t) || t > s.end) return n;
      h.clock.set(new Date(t));
      n++;
      await h.pump(n);
      if (planned === t) {
        const item = agenda.pop();
        await item.run();
        await h.pump(n);
      }
      await observe(n);
    }
  }
}
