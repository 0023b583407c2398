import { randomUUID } from 'node:crypto';
import { CordonError } from '../../proto/runtime/CordonError.js';
import { parseIp } from '../../proto/runtime/cidr.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Clock } from '../clock.js';
import type { Store } from '../store/Store.js';
import { nextDueAt, transition, type Context, type Effect, type IncidentEvent } from './lifecycle.js';
import type { MailPayload } from '../mail/OutboxSource.js';
import { parseReport } from '../intake/parseReport.js';
import { CATEGORIES, REPORTER_KINDS, type Action, type Category, type Complaint, type Incident, type ReporterKind } from './model.js';
import { isTrusted, type PolicyConfig } from './policy.js';

export interface ComplaintInput {
  ip: string;
  category: string;
  reporter: string;
  reporterKind: string;
  eventTime: Date | undefined;
  evidence: string;
  raw: string;
}

export interface SubmitResult {
  complaintId: string;
  incidentId: string | undefined;
  outcome: 'opened' | 'merged' | 'rejected' | 'needs_info';
  reason: string;
}

export interface IncidentServiceDeps {
  store: Store;
  policy: PolicyConfig;
  clock: Clock;
  log: Logger;
  /** Called after a commit that changed a host's desired state. */
  onHostChanged: (hostId: string) => void;
  /** Called after a commit that queued mail. */
  onOutbox: () => void;
  /** Called after a commit that may have moved the earliest deadline. */
  onDeadlinesChanged: () => void;
  /** The desk's identity in mail. */
}

const HOUR = 3_600_000;

/** The report as text, byte for byte when it is UTF-8; a binary upload (a bare zip) is kept as base64. */
function rawText(raw: Buffer): string {
  const text = raw.toString('utf8');
  return Buffer.from(text, 'utf8').equals(raw) ? text : `base64:${raw.toString('base64')}`;
}
const DAY = 24 * HOUR;

/**
 * The controller's application layer: every change to an incident goes
 * through `transition` inside one SQLite transaction, together with its event
 * row, its audit row, its outbox rows and the host's new desired state, so a
 * crash loses nothing and repeats nothing. Side effects outside SQLite (push
 * to the agent, sending mail) happen after the commit, from what was stored.
 */
export class IncidentService {
  constructor(private readonly deps: IncidentServiceDeps) {}

  /** Routes a complaint to its host's open incident of that category, or opens one. */
  async submitComplaint(input: ComplaintInput, actor: string): Promise<SubmitResult> {
    const category = input.category as Category;
    if (!(CATEGORIES as readonly string[]).includes(input.category)) {
      throw new CordonError('invalid', `unknown category ${JSON.stringify(input.category)}; one of ${CATEGORIES.join(', ')}`, { field: 'category' });
    }
    if (!(REPORTER_KINDS as readonly string[]).includes(input.reporterKind)) {
      throw new CordonError('invalid', `unknown reporter kind ${JSON.stringify(input.reporterKind)}; one of ${REPORTER_KINDS.join(', ')}`, {
        field: 'reporterKind',
      });
    }
    try {
      parseIp(input.ip);
    } catch {
      throw new CordonError('invalid', `${JSON.stringify(input.ip)} is not an IP address`, { field: 'ip' });
    }
    const kind = input.reporterKind as ReporterKind;
    const trusted = isTrusted(kind, this.deps.policy);
    const now = this.deps.clock.now();
    const complaintId = `c-${randomUUID()}`;
    const complaint = { id: complaintId, receivedAt: now, eventTime: input.eventTime, ip: input.ip, category, reporter: input.reporter, reporterKind: kind, raw: input.raw, evidence: input.evidence };
    const touched = new Set<string>();

    const result = await this.deps.store.db.transaction(async () => {
      const s = this.deps.store;
      const host = await s.hosts.findByIp(input.ip);
      if (!host) {
        const reason = `${input.ip} is not in any of our public prefixes`;
        await s.complaints.insert(complaint, { incidentId: null, status: 'rejected', reason });
        await s.audit.append({ at: now, actor, action: 'complaint.rejected', subject: complaintId, detail: { ip: input.ip, reason } });
        return { complaintId, incidentId: undefined, outcome: 'rejected' as const, reason };
      }
      const open = await s.incidents.findOpen(host.id, category);
      if (open) {
        await s.complaints.insert(complaint, { incidentId: open.id, status: 'linked' });
        await this.applyInTx(open, { type: 'complaint', trusted }, actor, now, touched);
        return { complaintId, incidentId: open.id, outcome: 'merged' as const, reason: `added to open incident ${open.id}` };
      }
      const incidentId = `inc-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
      const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
      const previous = await s.incidents.countOpenedForCustomerSince(host.customerId, since);
      const event: IncidentEvent = { type: 'open', id: incidentId, hostId: host.id, customerId: host.customerId, category, trusted };
      const t = transition(undefined, event, await this.context(now, previous + 1, host.id));
      await s.incidents.insert(t.incident, nextDueAt(t.incident, this.deps.policy));
      await s.complaints.insert(complaint, { incidentId, status: 'linked' });
      await s.events.append({ incidentId, at: now, type: 'open', fromState: null, toState: t.incident.state, actor, detail: { complaintId, reporterKind: kind } });
      await this.effectsInTx(t.incident, t.effects, actor, now, touched, { eventType: 'open', complaint });
      await s.audit.append({ at: now, actor, action: 'incident.open', subject: incidentId, detail: { host: host.id, category, complaintId } });
      return { complaintId, incidentId, outcome: 'opened' as const, reason: `opened incident ${incidentId} for host ${host.id}` };
    });
    this.afterCommit(touched);
    return result;
  }

  /**
   * Reads a raw report (any supported format) and submits one complaint per
   * offender IP; a report nobody can read with confidence is kept, whole, as
   * needs_info for an operator — never dropped.
   */
  async ingestReport(raw: Buffer, actor: string, filename?: string): Promise<{ results: SubmitResult[]; needsInfo: string | null }> {
    const parsed = await parseReport(raw, filename);
    const text = rawText(raw);
    if (parsed.needsInfo !== null) {
      const now = this.deps.clock.now();
      const complaintId = `c-${randomUUID()}`;
      await this.deps.store.db.transaction(async () => {
        await this.deps.store.complaints.insert(
          { id: complaintId, receivedAt: now, eventTime: undefined, ip: 'unknown', category: 'other', reporter: '', reporterKind: 'anonymous', raw: text, evidence: filename ?? '' },
          { incidentId: null, status: 'needs_info', reason: parsed.needsInfo! },
        );
        await this.deps.store.audit.append({ at: now, actor, action: 'complaint.needs_info', subject: complaintId, detail: { reason: parsed.needsInfo } });
      });
      return { results: [{ complaintId, incidentId: undefined, outcome: 'needs_info', reason: parsed.needsInfo }], needsInfo: parsed.needsInfo };
    }
    const results: SubmitResult[] = [];
    for (const c of parsed.complaints) {
      results.push(
        await this.submitComplaint(
          { ip: c.ip, category: c.category, reporter: c.reporter, reporterKind: c.reporterKind, eventTime: c.eventTime, evidence: `${c.format}: ${c.evidence}`, raw: text },
          actor,
        ),
      );
    }
    return { results, needsInfo: null };
  }

  /**
   * A manual enforcement on one host that has no incident for it yet: opens
   * an incident (category "other", the operator as trusted reporter) so the
   * action carries an incident and a reason like every other, then enforces.
   */
  async enforceHost(hostId: string, action: Action, reason: string, operator: string): Promise<string> {
    const touched = new Set<string>();
    const incidentId = await this.deps.store.db.transaction(async () => {
      const s = this.deps.store;
      const host = await s.hosts.get(hostId);
      if (!host) throw new CordonError('not_found', `no host ${hostId}`, { field: 'hostId' });
      const now = this.deps.clock.now();
      const existing = await s.incidents.findOpen(hostId, 'other');
      let incident = existing;
      if (!incident) {
        const id = `inc-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
        const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
        const previous = await s.incidents.countOpenedForCustomerSince(host.customerId, since);
        const t = transition(undefined, { type: 'open', id, hostId, customerId: host.customerId, category: 'other', trusted: true }, await this.context(now, previous + 1, hostId));
        await s.incidents.insert(t.incident, nextDueAt(t.incident, this.deps.policy));
        await s.events.append({ incidentId: id, at: now, type: 'open', fromState: null, toState: t.incident.state, actor: operator, detail: { manual: true, reason } });
        await this.effectsInTx(t.incident, t.effects, operator, now, touched, { eventType: 'open' });
        incident = t.incident;
      }
      const after = await this.applyInTx(incident, { type: 'operator_enforce', operator, action, reason }, operator, now, touched);
      return after.id;
    });
    this.afterCommit(touched);
    return incidentId;
  }

  /** Applies one event to one incident; refused events throw and change nothing. */
  async apply(incidentId: string, event: IncidentEvent, actor: string): Promise<Incident> {
    const touched = new Set<string>();
    const incident = await this.deps.store.db.transaction(async () => {
      const current = await this.deps.store.incidents.get(incidentId);
      if (!current) throw new CordonError('not_found', `no incident ${incidentId}`, { field: 'incidentId' });
      return this.applyInTx(current, event, actor, this.deps.clock.now(), touched);
    });
    this.afterCommit(touched);
    return incident;
  }

  private async applyInTx(current: Incident, event: IncidentEvent, actor: string, now: Date, touched: Set<string>): Promise<Incident> {
    const s = this.deps.store;
    const t = transition(current, event, await this.context(now, 0, current.hostId));
    if (!t.changed) return current;
    await s.incidents.update(t.incident, nextDueAt(t.incident, this.deps.policy));
    const { type, ...detail } = event as IncidentEvent & Record<string, unknown>;
    await s.events.append({ incidentId: current.id, at: now, type, fromState: current.state, toState: t.incident.state, actor, detail });
    await this.effectsInTx(t.incident, t.effects, actor, now, touched, { eventType: event.type });
    await s.audit.append({ at: now, actor, action: `incident.${type}`, subject: current.id, detail: { from: current.state, to: t.incident.state, ...detail } });
    return t.incident;
  }

  private async effectsInTx(
    i: Incident,
    effects: Effect[],
    actor: string,
    now: Date,
    touched: Set<string>,
    cause: { eventType: IncidentEvent['type']; complaint?: Complaint },
  ): Promise<void> {
    const s = this.deps.store;
    for (const e of effects) {
      switch (e.type) {
        case 'mail': {
          // A snapshot of everything the mail says, taken now: a retry sends the same text.
          const host = await s.hosts.get(i.hostId);
          const customer = (await s.customers.get(i.customerId)) ?? { id: i.customerId, name: i.customerId, email: '' };
          const bmc = await s.bmcs.get(i.hostId);
          const complaint = cause.complaint ?? (e.template === 'notice' ? (await s.complaints.listByIncident(i.id))[0] : undefined);
          // The notice goes out before the clock starts (notice_sent): it states
          // deadlines counted from now, which the real ones never precede.
          const cat = this.deps.policy.categories[i.category];
          const stated =
            e.template === 'notice' && i.ackDueAt === undefined
              ? { ...i, ackDueAt: new Date(now.getTime() + cat.ackHours * HOUR), resolveDueAt: new Date(now.getTime() + cat.resolveHours * HOUR) }
              : i;
          const payload: MailPayload = {
            template: e.template,
            incident: stated,
            host: { id: i.hostId, publicPrefixes: host?.publicPrefixes ?? [], bmc: bmc ? { address: bmc.address, protocol: 'IPMI' } : undefined },
            customer,
            complaint: complaint ? { id: complaint.id, raw: complaint.raw, reporter: complaint.reporter, category: complaint.category, receivedAt: complaint.receivedAt } : undefined,
            actions: e.template === 'released' ? (await s.desired.get(i.hostId)).enforcements.filter((x) => x.incidentId === i.id).map((x) => x.action) : i.actions,
            terminationReview: e.terminationReview,
            migrationDays: this.deps.policy.recidivism.migrationDays,
            bmcCheckedAt: i.bmcVerifiedAt,
          };
          await s.outbox.enqueue({ kind: 'mail', incidentId: i.id, payload, availableAt: now });
          break;
        }
        case 'host_actions': {
          // Counted against the hourly cap: actions the policy started, not an operator.
          const automatic = e.actions.length > 0 && !cause.eventType.startsWith('operator_');
          const generation = await s.desired.setIncidentActions(i.hostId, i.id, e.actions, e.reason, { automatic, at: now });
          await s.audit.append({ at: now, actor, action: 'host.desired_state', subject: i.hostId, detail: { incident: i.id, generation, actions: e.actions, reason: e.reason } });
          touched.add(i.hostId);
          break;
        }
        case 'operator_queue':
          await s.events.append({ incidentId: i.id, at: now, type: 'held', fromState: i.state, toState: i.state, actor: 'policy', detail: { hold: e.hold, reason: e.reason } });
          this.deps.log.info({ incident: i.id, hold: e.hold, reason: e.reason }, 'incident waits for an operator');
          break;
        case 'bmc_check':
          // Durable like mail: the BMC worker runs it outside the transaction and reports back as bmc_result.
          await s.outbox.enqueue({ kind: 'bmc_check', incidentId: i.id, payload: { hostId: i.hostId, phase: e.phase }, availableAt: now });
          break;
        case 'alert':
          await s.events.append({ incidentId: i.id, at: now, type: 'alert', fromState: i.state, toState: i.state, actor: 'policy', detail: { reason: e.reason } });
          await s.audit.append({ at: now, actor: 'policy', action: 'alert', subject: i.hostId, detail: { incident: i.id, reason: e.reason } });
          this.deps.log.error({ incident: i.id, host: i.hostId, reason: e.reason }, 'ALERT');
          break;
        case 'termination_review':
          await s.events.append({ incidentId: i.id, at: now, type: 'termination_review', fromState: i.state, toState: i.state, actor: 'policy', detail: { customer: i.customerId } });
          await s.audit.append({ at: now, actor: 'policy', action: 'customer.termination_review', subject: i.customerId, detail: { incident: i.id } });
          break;
      }
    }
  }

  private async context(now: Date, customerIncidentsInWindow: number, hostId: string): Promise<Context> {
    const automaticInLastHour = await this.deps.store.desired.countAutomaticSince(new Date(now.getTime() - HOUR));
    const bmc = await this.deps.store.bmcs.latest(hostId);
    return { now, policy: this.deps.policy, automaticInLastHour, customerIncidentsInWindow, bmc };
  }

  private afterCommit(touched: Set<string>): void {
    for (const hostId of touched) this.deps.onHostChanged(hostId);
    this.deps.onOutbox();
    this.deps.onDeadlinesChanged();
  }
}
