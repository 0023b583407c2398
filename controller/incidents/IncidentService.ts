import { randomUUID } from 'node:crypto';
import { asCordonError, CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { parseIp } from '../../proto/runtime/cidr.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Clock } from '../clock.js';
import type { Store } from '../store/Store.js';
import { StoreTx } from '../store/StoreTx.js';
import { ipKey } from '../store/addressKey.js';
import { nextDueAt, transition, type Context, type Effect, type IncidentEvent } from './lifecycle.js';
import type { MailPayload } from '../mail/OutboxSource.js';
import { parseReport } from '../intake/parseReport.js';
import type { ParsedComplaint } from '../intake/types.js';
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
  /** See Complaint.excerpt. */
  excerpt?: string | undefined;
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
/** Complaints of one report per transaction: one fsync each, and the write lock held for a few tens of milliseconds at a time. */
export const INGEST_CHUNK = 500;

/** The report as text, byte for byte when it is UTF-8; a binary upload (a bare zip) is kept as base64. */
/**
 * For a report about several addresses whose format cannot cut out the part
 * about one (a prose list, a multi-address X-ARF): what the parser read about
 * this one, so a customer never receives other networks' addresses.
 */
function summaryExcerpt(c: ParsedComplaint): string {
  return [
    `Reporter: ${c.reporter}`,
    `Format: ${c.format}`,
    `Address: ${c.ip}`,
    `Category: ${c.category}`,
    ...(c.eventTime ? [`Event time (UTC): ${c.eventTime.toISOString()}`] : []),
    `Evidence: ${c.evidence}`,
    '',
    'The report also concerns other addresses; that part is not shown.',
    '',
  ].join('\n');
}

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
/** Hosts per transaction of a mass action: each chunk is pushed as soon as it commits. */
export const ENFORCE_CHUNK = 100;

export class IncidentService {
  constructor(private readonly deps: IncidentServiceDeps) {}

  /** Routes a complaint to its host's open incident of that category, or opens one. */
  async submitComplaint(input: ComplaintInput, actor: string): Promise<SubmitResult> {
    const { complaint, trusted } = this.complaintOf(input, this.deps.clock.now());
    const touched = new Set<string>();
    const result = await this.deps.store.db.transaction(async () => {
      const tx = new StoreTx(this.deps.store);
      const r = await this.routeInTx(tx, complaint, trusted, actor, touched);
      await tx.flush();
      return r;
    });
    this.afterCommit(touched);
    return result;
  }

  /**
   * Reads a raw report (any supported format) and submits one complaint per
   * offender IP; a report nobody can read with confidence is kept, whole, as
   * needs_info for an operator — never dropped.
   *
   * All complaints of the report are received at one instant and routed
   * exactly as `submitComplaint` would, one after another, but committed in
   * transactions of up to INGEST_CHUNK complaints (a commit costs an fsync;
   * a shorter hold of the write lock lets the scheduler and the agents'
   * reports in between chunks). When the promise resolves, every complaint,
   * incident change, event, audit entry and outbox row is on disk. A chunk
   * is all or nothing: if it fails, its complaints are retried one per
   * transaction, and one that still fails is kept as needs_info with the
   * error as its reason (an operator sees it; the others go on), unless the
   * error is transient (the database is busy or failing), which is thrown:
   * the chunks before it stay committed.
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
    const now = this.deps.clock.now();
    // Several addresses in one report may belong to several customers: none may see another's.
    const severalAddresses = new Set(parsed.complaints.map((c) => c.ip)).size > 1;
    const inputs: ComplaintInput[] = parsed.complaints.map((c) => ({
      ip: c.ip,
      category: c.category,
      reporter: c.reporter,
      reporterKind: c.reporterKind,
      eventTime: c.eventTime,
      evidence: `${c.format}: ${c.evidence}`,
      raw: text,
      excerpt: c.excerpt ?? (severalAddresses ? summaryExcerpt(c) : undefined),
    }));
    // Routed in address order, so one host's addresses fall in one chunk and its lookups are made once
    // (StoreTx caches by transaction). The order within one report means nothing: all were received together.
    const keys = inputs.map((c) => {
      try {
        return ipKey(c.ip);
      } catch {
        return Buffer.alloc(0); // routing refuses it, by name
      }
    });
    const order = inputs.map((_, i) => i).sort((a, b) => Buffer.compare(keys[a]!, keys[b]!));
    const sorted = order.map((i) => inputs[i]!);
    const routed: SubmitResult[] = [];
    for (let at = 0; at < sorted.length; at += INGEST_CHUNK) {
      const chunk = sorted.slice(at, at + INGEST_CHUNK);
      try {
        routed.push(...(await this.routeChunk(chunk, actor, now)));
      } catch (err) {
        if (isCordonError(err, 'transient') || chunk.length === 1) throw err;
        this.deps.log.warn({ err: asCordonError(err).message, complaints: chunk.length }, 'intake chunk failed; routing its complaints one by one');
        for (const input of chunk) {
          try {
            routed.push(...(await this.routeChunk([input], actor, now)));
          } catch (one) {
            if (isCordonError(one, 'transient')) throw one;
            routed.push(await this.keepForOperator(input, one, actor, now));
          }
        }
      }
    }
    const results: SubmitResult[] = Array(inputs.length);
    order.forEach((i, k) => (results[i] = routed[k]!));
    return { results, needsInfo: null };
  }

  /** Routes complaints received at `now` in one transaction; after the commit, tells the workers. */
  private async routeChunk(inputs: ComplaintInput[], actor: string, now: Date): Promise<SubmitResult[]> {
    const touched = new Set<string>();
    const results = await this.deps.store.db.transaction(async () => {
      const tx = new StoreTx(this.deps.store);
      await tx.prefetch(inputs, new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY));
      const out: SubmitResult[] = [];
      for (const input of inputs) {
        const { complaint, trusted } = this.complaintOf(input, now);
        out.push(await this.routeInTx(tx, complaint, trusted, actor, touched));
      }
      await tx.flush();
      return out;
    });
    this.afterCommit(touched);
    return results;
  }

  /** A complaint that could not be routed, kept whole as needs_info with the error as its reason. */
  private async keepForOperator(input: ComplaintInput, err: unknown, actor: string, now: Date): Promise<SubmitResult> {
    const reason = `could not be routed: ${asCordonError(err).message}`;
    this.deps.log.error({ ip: input.ip, err: asCordonError(err).message }, 'complaint kept for an operator');
    const complaintId = `c-${randomUUID()}`;
    const category = (CATEGORIES as readonly string[]).includes(input.category) ? (input.category as Category) : 'other';
    const reporterKind = (REPORTER_KINDS as readonly string[]).includes(input.reporterKind) ? (input.reporterKind as ReporterKind) : 'anonymous';
    await this.deps.store.db.transaction(async () => {
      await this.deps.store.complaints.insert(
        { id: complaintId, receivedAt: now, eventTime: input.eventTime, ip: input.ip || 'unknown', category, reporter: input.reporter, reporterKind, raw: input.raw, evidence: input.evidence },
        { incidentId: null, status: 'needs_info', reason },
      );
      await this.deps.store.audit.append({ at: now, actor, action: 'complaint.needs_info', subject: complaintId, detail: { ip: input.ip, reason } });
    });
    return { complaintId, incidentId: undefined, outcome: 'needs_info', reason };
  }

  /** Validates a complaint's fields (`invalid`, naming the field) and gives it an id. */
  private complaintOf(input: ComplaintInput, now: Date): { complaint: Complaint; trusted: boolean } {
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
    const complaint: Complaint = {
      id: `c-${randomUUID()}`,
      receivedAt: now,
      eventTime: input.eventTime,
      ip: input.ip,
      category: input.category as Category,
      reporter: input.reporter,
      reporterKind: kind,
      raw: input.raw,
      evidence: input.evidence,
      excerpt: input.excerpt || undefined,
    };
    return { complaint, trusted: isTrusted(kind, this.deps.policy) };
  }

  /** One complaint into its host's open incident of its category, or a new one; inside the caller's transaction. */
  private async routeInTx(tx: StoreTx, complaint: Complaint, trusted: boolean, actor: string, touched: Set<string>): Promise<SubmitResult> {
    const now = complaint.receivedAt;
    const { id: complaintId, category } = complaint;
    const host = await tx.hosts.match(complaint.ip);
    if (!host) {
      const reason = `${complaint.ip} is not in any of our public prefixes`;
      tx.insertComplaint(complaint, { incidentId: null, status: 'rejected', reason });
      tx.appendAudit({ at: now, actor, action: 'complaint.rejected', subject: complaintId, detail: { ip: complaint.ip, reason } });
      return { complaintId, incidentId: undefined, outcome: 'rejected', reason };
    }
    const open = await tx.findOpen(host.hostId, category);
    if (open) {
      tx.insertComplaint(complaint, { incidentId: open.id, status: 'linked' });
      await this.applyInTx(tx, open, { type: 'complaint', trusted }, actor, now, touched);
      return { complaintId, incidentId: open.id, outcome: 'merged', reason: `added to open incident ${open.id}` };
    }
    const incidentId = `inc-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
    const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
    const previous = await tx.countOpenedForCustomerSince(host.customerId, since);
    const event: IncidentEvent = { type: 'open', id: incidentId, hostId: host.hostId, customerId: host.customerId, category, trusted };
    const t = transition(undefined, event, await this.context(tx, now, previous + 1, host.hostId));
    await tx.insertIncident(t.incident, nextDueAt(t.incident, this.deps.policy), since);
    tx.insertComplaint(complaint, { incidentId, status: 'linked' });
    tx.appendEvent({ incidentId, at: now, type: 'open', fromState: null, toState: t.incident.state, actor, detail: { complaintId, reporterKind: complaint.reporterKind } });
    await this.effectsInTx(tx, t.incident, t.effects, actor, now, touched, { eventType: 'open', complaint });
    tx.appendAudit({ at: now, actor, action: 'incident.open', subject: incidentId, detail: { host: host.hostId, category, complaintId } });
    return { complaintId, incidentId, outcome: 'opened', reason: `opened incident ${incidentId} for host ${host.hostId}` };
  }

  /**
   * A manual enforcement on one host that has no incident for it yet: opens
   * an incident (category "other", the operator as trusted reporter) so the
   * action carries an incident and a reason like every other, then enforces.
   */
  async enforceHost(hostId: string, action: Action, reason: string, operator: string): Promise<string> {
    return (await this.enforceHosts([hostId], action, reason, operator))[0]!;
  }

  /**
   * The same action on several hosts (an approved mass action), in chunks
   * of ENFORCE_CHUNK hosts per transaction with their rows read ahead: each
   * chunk's desired states are pushed as soon as it commits, so the first
   * hosts are enforced while the last are still being written. A failing
   * host fails the call; the chunks before it stay committed.
   */
  async enforceHosts(hostIds: readonly string[], action: Action, reason: string, operator: string): Promise<string[]> {
    const ids: string[] = [];
    for (let at = 0; at < hostIds.length; at += ENFORCE_CHUNK) {
      const chunk = hostIds.slice(at, at + ENFORCE_CHUNK);
      const touched = new Set<string>();
      ids.push(
        ...(await this.deps.store.db.transaction(async () => {
          const tx = new StoreTx(this.deps.store);
          const now = this.deps.clock.now();
          const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
          await tx.prefetchHosts(chunk, ['other'], since);
          const out: string[] = [];
          for (const hostId of chunk) out.push(await this.enforceInTx(tx, hostId, action, reason, operator, now, since, touched));
          await tx.flush();
          return out;
        })),
      );
      this.afterCommit(touched);
    }
    return ids;
  }

  private async enforceInTx(tx: StoreTx, hostId: string, action: Action, reason: string, operator: string, now: Date, since: Date, touched: Set<string>): Promise<string> {
    const host = await tx.host(hostId);
    if (!host) throw new CordonError('not_found', `no host ${hostId}`, { field: 'hostId' });
    let incident = await tx.findOpen(hostId, 'other');
    if (!incident) {
      const id = `inc-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
      const previous = await tx.countOpenedForCustomerSince(host.customerId, since);
      const t = transition(undefined, { type: 'open', id, hostId, customerId: host.customerId, category: 'other', trusted: true }, await this.context(tx, now, previous + 1, hostId));
      await tx.insertIncident(t.incident, nextDueAt(t.incident, this.deps.policy), since);
      tx.appendEvent({ incidentId: id, at: now, type: 'open', fromState: null, toState: t.incident.state, actor: operator, detail: { manual: true, reason } });
      await this.effectsInTx(tx, t.incident, t.effects, operator, now, touched, { eventType: 'open', openedBy: { operator, reason } });
      incident = t.incident;
    }
    const after = await this.applyInTx(tx, incident, { type: 'operator_enforce', operator, action, reason }, operator, now, touched);
    return after.id;
  }

  /** Applies one event to one incident; refused events throw and change nothing. */
  async apply(incidentId: string, event: IncidentEvent, actor: string): Promise<Incident> {
    const touched = new Set<string>();
    const incident = await this.deps.store.db.transaction(async () => {
      const current = await this.deps.store.incidents.get(incidentId);
      if (!current) throw new CordonError('not_found', `no incident ${incidentId}`, { field: 'incidentId' });
      const tx = new StoreTx(this.deps.store);
      const after = await this.applyInTx(tx, current, event, actor, this.deps.clock.now(), touched);
      await tx.flush();
      return after;
    });
    this.afterCommit(touched);
    return incident;
  }

  private async applyInTx(tx: StoreTx, current: Incident, event: IncidentEvent, actor: string, now: Date, touched: Set<string>): Promise<Incident> {
    const t = transition(current, event, await this.context(tx, now, 0, current.hostId));
    if (!t.changed) return current;
    tx.updateIncident(t.incident, nextDueAt(t.incident, this.deps.policy));
    const { type, ...detail } = event as IncidentEvent & Record<string, unknown>;
    tx.appendEvent({ incidentId: current.id, at: now, type, fromState: current.state, toState: t.incident.state, actor, detail });
    await this.effectsInTx(tx, t.incident, t.effects, actor, now, touched, { eventType: event.type });
    tx.appendAudit({ at: now, actor, action: `incident.${type}`, subject: current.id, detail: { from: current.state, to: t.incident.state, ...detail } });
    return t.incident;
  }

  private async effectsInTx(
    tx: StoreTx,
    i: Incident,
    effects: Effect[],
    actor: string,
    now: Date,
    touched: Set<string>,
    cause: { eventType: IncidentEvent['type']; complaint?: Complaint; openedBy?: { operator: string; reason: string } },
  ): Promise<void> {
    const s = this.deps.store;
    for (const e of effects) {
      switch (e.type) {
        case 'mail': {
          // A snapshot of everything the mail says, taken now: a retry sends the same text.
          const host = await tx.host(i.hostId);
          const customer = (await tx.customer(i.customerId)) ?? { id: i.customerId, name: i.customerId, email: '' };
          const bmc = await tx.bmc(i.hostId);
          // An incident an operator opened has no complaint to quote; otherwise its complaints may still be queued.
          const lookUp = !cause.complaint && !cause.openedBy && e.template === 'notice';
          if (lookUp) await tx.flush();
          const complaint = cause.complaint ?? (lookUp ? (await s.complaints.listByIncident(i.id))[0] : undefined);
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
            ...(cause.openedBy && e.template === 'notice' ? { openedBy: cause.openedBy } : {}),
            complaint: complaint
              ? { id: complaint.id, raw: complaint.excerpt ?? complaint.raw, partial: complaint.excerpt !== undefined, reporter: complaint.reporter, category: complaint.category, receivedAt: complaint.receivedAt }
              : undefined,
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
          const freshIncident = tx.isNewIncident(i.id) && !tx.hasEnforced(i.id);
          const generation = await s.desired.setIncidentActions(i.hostId, i.id, e.actions, e.reason, { automatic, at: now, freshIncident });
          tx.noteEnforced(i.id);
          tx.noteEnforcementChanged(automatic);
          tx.appendAudit({ at: now, actor, action: 'host.desired_state', subject: i.hostId, detail: { incident: i.id, generation, actions: e.actions, reason: e.reason } });
          touched.add(i.hostId);
          break;
        }
        case 'operator_queue':
          tx.appendEvent({ incidentId: i.id, at: now, type: 'held', fromState: i.state, toState: i.state, actor: 'policy', detail: { hold: e.hold, reason: e.reason } });
          this.deps.log.info({ incident: i.id, hold: e.hold, reason: e.reason }, 'incident waits for an operator');
          break;
        case 'bmc_check':
          // Durable like mail: the BMC worker runs it outside the transaction and reports back as bmc_result.
          await s.outbox.enqueue({ kind: 'bmc_check', incidentId: i.id, payload: { hostId: i.hostId, phase: e.phase }, availableAt: now });
          break;
        case 'alert':
          tx.appendEvent({ incidentId: i.id, at: now, type: 'alert', fromState: i.state, toState: i.state, actor: 'policy', detail: { reason: e.reason } });
          tx.appendAudit({ at: now, actor: 'policy', action: 'alert', subject: i.hostId, detail: { incident: i.id, reason: e.reason } });
          this.deps.log.error({ incident: i.id, host: i.hostId, reason: e.reason }, 'ALERT');
          break;
        case 'termination_review':
          tx.appendEvent({ incidentId: i.id, at: now, type: 'termination_review', fromState: i.state, toState: i.state, actor: 'policy', detail: { customer: i.customerId } });
          tx.appendAudit({ at: now, actor: 'policy', action: 'customer.termination_review', subject: i.customerId, detail: { incident: i.id } });
          break;
      }
    }
  }

  private async context(tx: StoreTx, now: Date, customerIncidentsInWindow: number, hostId: string): Promise<Context> {
    const automaticInLastHour = await tx.countAutomaticSince(new Date(now.getTime() - HOUR));
    const bmc = await tx.latestBmcCheck(hostId);
    return { now, policy: this.deps.policy, automaticInLastHour, customerIncidentsInWindow, bmc };
  }

  private afterCommit(touched: Set<string>): void {
    for (const hostId of touched) this.deps.onHostChanged(hostId);
    this.deps.onOutbox();
    this.deps.onDeadlinesChanged();
  }
}
