import { randomUUID } from 'node:crypto';
import { asCordonError, CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { parseIp } from '../../proto/runtime/cidr.js';
import type { Logger } from '../../proto/runtime/logger.js';
import type { Clock } from '../clock.js';
import type { Store } from '../store/Store.js';
import { StoreTx } from '../store/StoreTx.js';
import { ipKey } from '../store/addressKey.js';
import { jsonField } from '../store/sqlDialect.js';
import { nextDueAt, transition, type Context, type Effect, type IncidentEvent, type MailTemplate, type RejectedAnswer } from '../incidents/lifecycle.js';
import type { MailPayload } from '../mail/OutboxSource.js';
import type { MailComplaint } from '../mail/renderMail.js';
import { REPORTER_OUTCOME, type ReporterOutcomePayload } from '../mail/renderReporterOutcome.js';
import type { StatementDecision, StatementInput } from '../mail/statementOfReasons.js';
import { parseReport } from '../intake/parseReport.js';
import type { ParsedComplaint } from '../intake/types.js';
import { CATEGORIES, REPORTER_KINDS, type Action, type Category, type Complaint, type EventTimeSource, type Incident, type ReporterKind } from '../incidents/model.js';
import { isTrusted, type PolicyConfig } from '../incidents/policy.js';
import { unauthenticated, type AuthenticateReport, type Authentication, type IntakeChannel } from '../intake/trust/Authentication.js';
import { fingerprintOf } from '../intake/fingerprint.js';
import type { DuplicateRef } from '../store/ComplaintsRepo.js';
import type { TerminationReview } from '../store/TerminationReviewsRepo.js';
import type { CustomerLinks } from '../customer/CustomerLinks.js';

export interface ComplaintInput {
  ip: string;
  category: string;
  reporter: string;
  reporterKind: string;
  eventTime: Date | undefined;
  /** See Complaint.eventTimeSource; absent reads 'report' (an operator's hand-entered time is their statement from the report). */
  eventTimeSource?: EventTimeSource | undefined;
  evidence: string;
  raw: string;
  /** See Complaint.excerpt. */
  excerpt?: string | undefined;
  /** How the report was authenticated; decides trust. Absent for an operator's hand-entered complaint. */
  authentication?: Authentication | undefined;
  messageId?: string | undefined;
  originalMessageId?: string | undefined;
  /**
   * Where the reporter wants answers (the report's Reply-To, else From), for
   * the outcome mail. Set only for a report whose sender's domain was
   * verified (aligned DKIM, a trusted forwarder's ARC) or that came over a
   * feed's certificate: a forged sender must never receive mail from us.
   */
  replyTo?: string | undefined;
}

export interface SubmitResult {
  complaintId: string;
  incidentId: string | undefined;
  /** duplicate: a re-sent copy of an earlier complaint; held: about an event older than the last resolution, for an operator. */
  outcome: 'opened' | 'merged' | 'rejected' | 'needs_info' | 'duplicate' | 'held';
  reason: string;
  /** Whether the complaint counts as from a trusted, authenticated reporter. */
  trusted?: boolean;
  authentication?: Authentication | undefined;
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
  /** Authenticates a raw report against the reporter registry; without it every raw report is untrusted. */
  authenticate?: AuthenticateReport;
  /** A registered reporter by id (an operator's hand-entered complaint is trusted only as one). */
  findReporter?: (id: string) => Promise<{ id: string; name: string; kind: ReporterKind } | undefined>;
  /** Links to the customer page, for the mails that carry one; absent when the page is off. */
  links?: CustomerLinks | undefined;
  /** `outcome.*`: which reporters are told how an incident ended (by the kind of their registration); the defaults when absent. */
  outcome?: { mailReporters: boolean; feedReporters: boolean } | undefined;
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

  /**
   * Routes a complaint an operator entered by hand to its host's open
   * incident of that category, or opens one. The operator's mutual-TLS
   * certificate is the authenticated channel: the operator vouches for the
   * reporter kind they state, and the complaint records who entered it. (A
   * raw report an operator only relays goes through `ingestReport`, where
   * the report's own authentication decides.)
   */
  async submitComplaint(input: ComplaintInput, actor: string): Promise<SubmitResult> {
    const now = this.deps.clock.now();
    const withAuth = input.authentication ? input : { ...input, authentication: await this.manualAuthentication(input, actor) };
    const { complaint, trusted } = this.complaintOf(withAuth, now);
    const touched = new Set<string>();
    const result = await this.deps.store.db.transaction(async () => {
      const tx = new StoreTx(this.deps.store);
      const [duplicate] = await tx.findDuplicates([complaint]);
      const r = await this.routeInTx(tx, complaint, trusted, actor, touched, duplicate);
      await tx.flush();
      return r;
    });
    this.afterCommit(touched);
    return result;
  }

  /**
   * An operator's decision on a held complaint (one about an event older
   * than the host's last resolution): `admit` routes it now, as if it had
   * just arrived (its trust is what its authentication said); `dismiss`
   * rejects it with the reason. Audited with the operator.
   */
  async decideHeld(complaintId: string, decision: 'admit' | 'dismiss', reason: string, operator: string): Promise<SubmitResult> {
    const touched = new Set<string>();
    const result = await this.deps.store.db.transaction(async () => {
      const c = await this.deps.store.complaints.get(complaintId);
      if (!c) throw new CordonError('not_found', `no complaint ${complaintId}`, { field: 'complaintId' });
      if (c.status !== 'held') throw new CordonError('conflict', `complaint ${complaintId} is ${c.status}, not held`, { field: 'complaintId' });
      const now = this.deps.clock.now();
      const auth = c.authentication as Authentication | undefined;
      if (decision === 'dismiss') {
        await this.deps.store.complaints.resolveHeld(c.id, { incidentId: null, status: 'rejected', reason: `dismissed by ${operator}: ${reason}` });
        await this.deps.store.audit.append({ at: now, actor: operator, action: 'complaint.dismissed', subject: c.id, detail: { reason } });
        return { complaintId: c.id, incidentId: undefined, outcome: 'rejected' as const, reason: `dismissed by ${operator}: ${reason}`, trusted: c.trusted ?? false, authentication: auth };
      }
      const tx = new StoreTx(this.deps.store);
      const r = await this.routeInTx(tx, c, c.trusted ?? false, operator, touched, undefined, { operator, reason, now });
      await tx.flush();
      await this.deps.store.audit.append({ at: now, actor: operator, action: 'complaint.admitted', subject: c.id, detail: { reason, incident: r.incidentId ?? null } });
      return r;
    });
    this.afterCommit(touched);
    return result;
  }

  /**
   * An operator's decision on a termination review. Confirming it sends the
   * customer the migration notice (through the outbox, in the same
   * transaction); declining sends nothing. A review is never announced
   * before a person decided it.
   */
  async decideTerminationReview(id: string, confirm: boolean, reason: string, operator: string): Promise<TerminationReview> {
    const touched = new Set<string>();
    const review = await this.deps.store.db.transaction(async () => {
      const now = this.deps.clock.now();
      const r = await this.deps.store.terminationReviews.decide(id, confirm, operator, reason, now);
      await this.deps.store.audit.append({ at: now, actor: operator, action: confirm ? 'customer.termination_confirmed' : 'customer.termination_declined', subject: r.customerId, detail: { review: r.id, reason, incidents: r.incidentIds } });
      if (confirm) {
        const latest = await this.deps.store.incidents.get(r.incidentIds.at(-1)!);
        if (!latest) throw new CordonError('not_found', `review ${id} names no incident`, { field: 'id' });
        const tx = new StoreTx(this.deps.store);
        const review = { id: r.id, incidentIds: r.incidentIds, decidedAt: now };
        await this.effectsInTx(tx, latest, [{ type: 'mail', template: 'termination', terminationReview: true }], operator, now, touched, { eventType: 'termination_confirmed', review });
        await tx.flush();
      }
      return r;
    });
    this.afterCommit(touched);
    return review;
  }

  /**
   * Queues one of the incident's mails now, outside any lifecycle event (an
   * operator re-sends the notice with a fresh link, say), with its audit
   * entry, in one transaction. `within` runs first in it (revoking the old
   * links). The mail is the same snapshot a transition would have written.
   */
  async queueMail(incidentId: string, template: MailTemplate, actor: string, reason: string, opts: { within?: (i: Incident, now: Date) => Promise<void> } = {}): Promise<void> {
    const touched = new Set<string>();
    await this.deps.store.db.transaction(async () => {
      const i = await this.deps.store.incidents.get(incidentId);
      if (!i) throw new CordonError('not_found', `no incident ${incidentId}`, { field: 'incidentId' });
      const now = this.deps.clock.now();
      await opts.within?.(i, now);
      const tx = new StoreTx(this.deps.store);
      await this.effectsInTx(tx, i, [{ type: 'mail', template, terminationReview: false }], actor, now, touched, { eventType: 'mail_resent' });
      tx.appendEvent({ incidentId: i.id, at: now, type: 'mail_resent', fromState: i.state, toState: i.state, actor, detail: { template, reason } });
      tx.appendAudit({ at: now, actor, action: 'incident.mail_resent', subject: i.id, detail: { template, reason } });
      await tx.flush();
    });
    this.afterCommit(touched);
  }

  private async manualAuthentication(input: ComplaintInput, actor: string): Promise<Authentication> {
    const kind = input.reporterKind as ReporterKind;
    const trusted = (REPORTER_KINDS as readonly string[]).includes(kind) && isTrusted(kind, this.deps.policy);
    const registered = input.reporter ? await this.deps.findReporter?.(input.reporter) : undefined;
    return {
      trusted,
      via: 'operator',
      reporterKind: kind,
      ...(registered ? { reporterId: registered.id, reporterName: registered.name } : {}),
      reason: `entered by ${actor} over mutual TLS as ${kind}${trusted ? '' : ', a kind the policy does not trust'}`,
      checks: [{ method: 'channel', result: 'operator', detail: `entered by ${actor}` }],
    };
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
  async ingestReport(
    raw: Buffer,
    actor: string,
    filename?: string,
    channel: IntakeChannel = { kind: 'relay', actor },
  ): Promise<{ results: SubmitResult[]; needsInfo: string | null; authentication: Authentication }> {
    const parsed = await parseReport(raw, filename);
    // A bad report never throws here (it ends untrusted); an unreadable registry does, so the report is retried, not mistrusted for good.
    const authentication = this.deps.authenticate ? await this.deps.authenticate(raw, channel) : unauthenticated('no reporter registry on this controller');
    const text = rawText(raw);
    if (parsed.needsInfo !== null) {
      const now = this.deps.clock.now();
      const complaintId = `c-${randomUUID()}`;
      await this.deps.store.db.transaction(async () => {
        await this.deps.store.complaints.insert(
          {
            id: complaintId,
            receivedAt: now,
            eventTime: undefined,
            ip: 'unknown',
            category: 'other',
            reporter: authentication.reporterName ?? '',
            reporterKind: authentication.reporterKind ?? 'anonymous',
            raw: text,
            evidence: filename ?? '',
            trusted: authentication.trusted,
            reporterId: authentication.reporterId,
            authentication,
            messageId: parsed.messageId,
            originalMessageId: parsed.originalMessageId,
          },
          { incidentId: null, status: 'needs_info', reason: parsed.needsInfo! },
        );
        await this.deps.store.audit.append({ at: now, actor, action: 'complaint.needs_info', subject: complaintId, detail: { reason: parsed.needsInfo } });
      });
      return { results: [{ complaintId, incidentId: undefined, outcome: 'needs_info', reason: parsed.needsInfo, trusted: false, authentication }], needsInfo: parsed.needsInfo, authentication };
    }
    const now = this.deps.clock.now();
    // Several addresses in one report may belong to several customers: none may see another's.
    const severalAddresses = new Set(parsed.complaints.map((c) => c.ip)).size > 1;
    // Trust comes from who sent it, never from its format: the format's guess of the reporter's kind stands
    // only until the report is authenticated as a registered reporter, and never makes it trusted.
    const inputs: ComplaintInput[] = parsed.complaints.map((c) => ({
      ip: c.ip,
      category: c.category,
      reporter: authentication.reporterName ? `${authentication.reporterName} (${c.reporter})` : c.reporter,
      reporterKind: authentication.reporterKind ?? c.reporterKind,
      eventTime: c.eventTime,
      eventTimeSource: c.eventTimeSource,
      evidence: `${c.format}: ${c.evidence}`,
      raw: text,
      excerpt: c.excerpt ?? (severalAddresses ? summaryExcerpt(c) : undefined),
      authentication,
      messageId: parsed.messageId,
      originalMessageId: parsed.originalMessageId,
      replyTo: verifiedSender(authentication) ? parsed.replyTo : undefined,
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
    return { results, needsInfo: null, authentication };
  }

  /** Routes complaints received at `now` in one transaction; after the commit, tells the workers. */
  private async routeChunk(inputs: ComplaintInput[], actor: string, now: Date): Promise<SubmitResult[]> {
    const touched = new Set<string>();
    const results = await this.deps.store.db.transaction(async () => {
      const tx = new StoreTx(this.deps.store);
      await tx.prefetch(inputs, new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY));
      const made = inputs.map((input) => this.complaintOf(input, now));
      const duplicates = await tx.findDuplicates(made.map((m) => m.complaint));
      const out: SubmitResult[] = [];
      for (const [k, { complaint, trusted }] of made.entries()) {
        out.push(await this.routeInTx(tx, complaint, trusted, actor, touched, duplicates[k]));
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
    return this.storeNeedsInfo(input, reason, actor, now);
  }

  /**
   * Keeps a complaint whole for an operator as needs_info with `reason`
   * (a detector's alert Cordon has no category for, say): never dropped,
   * never routed by itself; the desk's queue and `cordonctl complaints
   * --status needs_info` list it. An unknown category is stored as other.
   */
  async keepNeedsInfo(input: ComplaintInput, reason: string, actor: string): Promise<SubmitResult> {
    return this.storeNeedsInfo(input, reason, actor, this.deps.clock.now());
  }

  private async storeNeedsInfo(input: ComplaintInput, reason: string, actor: string, now: Date): Promise<SubmitResult> {
    const complaintId = `c-${randomUUID()}`;
    const category = (CATEGORIES as readonly string[]).includes(input.category) ? (input.category as Category) : 'other';
    const reporterKind = (REPORTER_KINDS as readonly string[]).includes(input.reporterKind) ? (input.reporterKind as ReporterKind) : 'anonymous';
    const ip = input.ip || 'unknown';
    let repeats: string | undefined;
    await this.deps.store.db.transaction(async () => {
      repeats = input.messageId ? await this.deps.store.complaints.findNeedsInfoRepeat({ messageId: input.messageId, reporter: input.reporter, ip, trusted: input.authentication?.trusted ?? false }) : undefined;
      const link = repeats
        ? { incidentId: null, status: 'duplicate' as const, duplicateOf: repeats, reason: repeatReason(repeats) }
        : { incidentId: null, status: 'needs_info' as const, reason };
      await this.deps.store.complaints.insert(
        {
          id: complaintId,
          receivedAt: now,
          eventTime: input.eventTime,
          eventTimeSource: input.eventTimeSource,
          ip,
          category,
          reporter: input.reporter,
          reporterKind,
          raw: input.raw,
          evidence: input.evidence,
          trusted: input.authentication?.trusted ?? false,
          authentication: input.authentication,
          messageId: input.messageId,
          originalMessageId: input.originalMessageId,
        },
        link,
      );
      if (repeats) await this.deps.store.audit.append({ at: now, actor, action: 'complaint.duplicate', subject: complaintId, detail: { duplicateOf: repeats, by: 'message_id', incident: null } });
      else await this.deps.store.audit.append({ at: now, actor, action: 'complaint.needs_info', subject: complaintId, detail: { ip: input.ip, reason } });
    });
    if (repeats) return { complaintId, incidentId: undefined, outcome: 'duplicate', reason: repeatReason(repeats) };
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
      eventTimeSource: input.eventTimeSource,
      ip: input.ip,
      category: input.category as Category,
      reporter: input.reporter,
      reporterKind: kind,
      raw: input.raw,
      evidence: input.evidence,
      excerpt: input.excerpt || undefined,
    };
    const auth = input.authentication ?? unauthenticated('no authentication recorded');
    complaint.trusted = auth.trusted;
    complaint.reporterId = auth.reporterId;
    complaint.authentication = auth;
    complaint.messageId = input.messageId;
    complaint.originalMessageId = input.originalMessageId;
    complaint.replyTo = input.replyTo || undefined;
    complaint.fingerprint = fingerprintOf({
      reporter: auth.reporterId ?? input.reporter,
      ip: input.ip,
      category: input.category,
      eventTime: input.eventTime,
      evidence: input.excerpt || input.evidence,
      raw: input.raw,
    });
    return { complaint, trusted: auth.trusted };
  }

  /** One complaint into its host's open incident of its category, or a new one; inside the caller's transaction. */
  private async routeInTx(
    tx: StoreTx,
    complaint: Complaint,
    trusted: boolean,
    actor: string,
    touched: Set<string>,
    duplicate: DuplicateRef | undefined,
    admit?: { operator: string; reason: string; now: Date },
  ): Promise<SubmitResult> {
    const now = admit?.now ?? complaint.receivedAt;
    const { id: complaintId, category } = complaint;
    const said = { trusted, authentication: complaint.authentication as Authentication | undefined };
    if (duplicate) {
      // A re-sent copy (a redelivery, a replay, a forward) of a complaint already counted: it is
      // kept and shown, linked to the first, and opens, merges and restarts nothing.
      const reason = `repeats complaint ${duplicate.id} (same ${duplicate.by.replace(/_/g, '-')})${duplicate.incidentId ? ` of incident ${duplicate.incidentId}` : ''}`;
      tx.insertComplaint(complaint, { incidentId: duplicate.incidentId ?? null, status: 'duplicate', duplicateOf: duplicate.id, reason });
      if (duplicate.incidentId) {
        const state = (await tx.incident(duplicate.incidentId))?.state ?? null;
        tx.appendEvent({ incidentId: duplicate.incidentId, at: now, type: 'duplicate', fromState: state, toState: state, actor, detail: { complaintId, duplicateOf: duplicate.id, by: duplicate.by } });
      }
      tx.appendAudit({ at: now, actor, action: 'complaint.duplicate', subject: complaintId, detail: { duplicateOf: duplicate.id, by: duplicate.by, incident: duplicate.incidentId ?? null } });
      return { complaintId, incidentId: duplicate.incidentId, outcome: 'duplicate', reason, ...said };
    }
    const host = await tx.hosts.match(complaint.ip);
    if (!host) {
      const reason = `${complaint.ip} is not in any of our public prefixes`;
      tx.insertComplaint(complaint, { incidentId: null, status: 'rejected', reason });
      tx.appendAudit({ at: now, actor, action: 'complaint.rejected', subject: complaintId, detail: { ip: complaint.ip, reason } });
      return { complaintId, incidentId: undefined, outcome: 'rejected', reason, ...said };
    }
    if (complaint.eventTime && !admit) {
      // About an event from before the last time this problem was resolved: what it reports was handled
      // (or is a stale copy). An operator decides; nothing opens, merges or restarts a deadline by itself.
      const resolved = await tx.lastResolution(host.hostId, category);
      if (resolved && complaint.eventTime.getTime() < resolved.at.getTime()) {
        const reason = `its event (${complaint.eventTime.toISOString()}) precedes the resolution of ${resolved.incidentId} (${resolved.at.toISOString()}): held for an operator`;
        tx.insertComplaint(complaint, { incidentId: null, status: 'held', reason });
        tx.appendAudit({ at: now, actor, action: 'complaint.held', subject: complaintId, detail: { host: host.hostId, resolved: resolved.incidentId, reason } });
        return { complaintId, incidentId: undefined, outcome: 'held', reason, ...said };
      }
    }
    const open = await tx.findOpen(host.hostId, category);
    // A held complaint an operator admits is already stored: it is linked where it now goes.
    const link = (incidentId: string) =>
      admit ? tx.linkHeld(complaint.id, incidentId, `admitted by ${admit.operator}: ${admit.reason}`) : tx.insertComplaint(complaint, { incidentId, status: 'linked' });
    if (open) {
      link(open.id);
      const merged = await this.applyInTx(tx, open, { type: 'complaint', trusted }, actor, now, touched);
      await this.mailMergedComplaint(tx, merged, complaint, actor, now);
      return { complaintId, incidentId: open.id, outcome: 'merged', reason: `added to open incident ${open.id}`, ...said };
    }
    const incidentId = `inc-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
    const event: IncidentEvent = { type: 'open', id: incidentId, hostId: host.hostId, customerId: host.customerId, category, trusted, openedBy: 'complaint' };
    const t = transition(undefined, event, await this.context(tx, now, host.customerId, host.hostId));
    await tx.insertIncident(t.incident, nextDueAt(t.incident, this.deps.policy));
    link(incidentId);
    tx.appendEvent({ incidentId, at: now, type: 'open', fromState: null, toState: t.incident.state, actor, detail: { complaintId, reporterKind: complaint.reporterKind } });
    await this.effectsInTx(tx, t.incident, t.effects, actor, now, touched, { eventType: 'open', complaint });
    tx.appendAudit({ at: now, actor, action: 'incident.open', subject: incidentId, detail: { host: host.hostId, category, complaintId } });
    return { complaintId, incidentId, outcome: 'opened', reason: `opened incident ${incidentId} for host ${host.hostId}`, ...said };
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
   * The same action on several hosts (an approved mass action), all in ONE
   * transaction: every host or none, so a crash half way leaves the
   * approval pending and the hosts untouched, and a retry starts over.
   * `within` runs first inside that transaction (granting the approval).
   * Rows are read ahead in chunks of ENFORCE_CHUNK hosts; desired states are
   * pushed after the commit.
   */
  async enforceHosts(
    hostIds: readonly string[],
    action: Action,
    reason: string,
    operator: string,
    opts: { approvalId?: string; within?: () => Promise<void> } = {},
  ): Promise<string[]> {
    const touched = new Set<string>();
    const ids = await this.deps.store.db.transaction(async () => {
      await opts.within?.();
      const now = this.deps.clock.now();
      const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
      const out: string[] = [];
      for (let at = 0; at < hostIds.length; at += ENFORCE_CHUNK) {
        const chunk = hostIds.slice(at, at + ENFORCE_CHUNK);
        const tx = new StoreTx(this.deps.store);
        await tx.prefetchHosts(chunk, ['other'], since);
        // What the hosts' open incidents already hold, so their new actions are queued with the rest.
        await tx.desired.prefetchHeld(chunk.flatMap((h) => tx.knownOpen(h, 'other', 'operator') ?? []));
        // Each restriction mail states which of the customer's other servers are restricted.
        await tx.prefetchCustomerHosts([...new Set((await Promise.all(chunk.map((h) => tx.host(h)))).flatMap((h) => (h ? [h.customerId] : [])))]);
        for (const hostId of chunk) out.push(await this.enforceInTx(tx, hostId, action, reason, operator, now, touched, opts.approvalId));
        await tx.flush();
      }
      return out;
    });
    this.afterCommit(touched);
    return ids;
  }

  private async enforceInTx(
    tx: StoreTx,
    hostId: string,
    action: Action,
    reason: string,
    operator: string,
    now: Date,
    touched: Set<string>,
    approvalId: string | undefined,
  ): Promise<string> {
    const host = await tx.host(hostId);
    if (!host) throw new CordonError('not_found', `no host ${hostId}`, { field: 'hostId' });
    // The operator's own incident on this host, never a complaint's: acting on a complaint's incident is `enforce --incident`, under its due process.
    let incident = await tx.findOpen(hostId, 'other', 'operator');
    if (!incident) {
      // No complaint stands behind it: an operator-opened incident is never trusted and never counts toward a termination review.
      const id = `inc-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${randomUUID().slice(0, 8)}`;
      const open: IncidentEvent = { type: 'open', id, hostId, customerId: host.customerId, category: 'other', trusted: false, openedBy: 'operator' };
      const t = transition(undefined, open, await this.context(tx, now, host.customerId, hostId));
      await tx.insertIncident(t.incident, nextDueAt(t.incident, this.deps.policy));
      tx.appendEvent({ incidentId: id, at: now, type: 'open', fromState: null, toState: t.incident.state, actor: operator, detail: { manual: true, reason } });
      await this.effectsInTx(tx, t.incident, t.effects, operator, now, touched, { eventType: 'open', openedBy: { operator, reason } });
      incident = t.incident;
    }
    const after = await this.applyInTx(tx, incident, { type: 'operator_enforce', operator, action, reason, approvalId }, operator, now, touched);
    return after.id;
  }

  /**
   * Distinct hosts this operator acted on by themselves (no approval) since
   * `since`: the four-eyes budget counts what an operator does, however it
   * was asked.
   */
  async operatorHostsSince(operator: string, since: Date): Promise<number> {
    const row = await this.deps.store.db.get<{ n: number }>(
      `SELECT COUNT(DISTINCT i.host_id) AS n FROM incident_events e JOIN incidents i ON i.id = e.incident_id
       WHERE e.type = 'operator_enforce' AND e.actor = ? AND e.at >= ? AND ${jsonField(this.deps.store.db.dialect, 'e.detail_json', 'approvalId')} IS NULL`,
      [operator, since.getTime()],
    );
    return row?.n ?? 0;
  }

  /** Applies one event to one incident; refused events throw and change nothing. `within` runs first in the same transaction (granting an approval). */
  /**
   * `detail` joins the event's and the audit entry's detail (the customer's
   * source address and user agent, say). `then` runs after the transition in
   * the same transaction, with the incident before and after (recording the
   * customer's message with the answer it carried): if it throws, nothing of
   * the event is kept.
   */
  async apply(
    incidentId: string,
    event: IncidentEvent,
    actor: string,
    opts: {
      within?: () => Promise<void>;
      detail?: Record<string, unknown>;
      then?: (before: Incident, after: Incident, now: Date) => Promise<void>;
    } = {},
  ): Promise<Incident> {
    const touched = new Set<string>();
    const incident = await this.deps.store.db.transaction(async () => {
      await opts.within?.();
      const current = await this.deps.store.incidents.get(incidentId);
      if (!current) throw new CordonError('not_found', `no incident ${incidentId}`, { field: 'incidentId' });
      const tx = new StoreTx(this.deps.store);
      const now = this.deps.clock.now();
      const after = await this.applyInTx(tx, current, event, actor, now, touched, opts.detail);
      await tx.flush();
      await opts.then?.(current, after, now);
      return after;
    });
    this.afterCommit(touched);
    return incident;
  }

  /**
   * `apply` for many incidents in one transaction (a page of due deadlines):
   * one commit, one fsync on SQLite, one turn of the write lock on
   * PostgreSQL, instead of one each; and a page's reads and writes in bulk:
   * the incidents, their hosts, customers, BMCs, links and counts read in a
   * few queries, the events, audit entries, links and mail written in
   * multi-row INSERTs (one StoreTx for the page, one `now`).
   *
   * An item's `actor` (an agent's report: `agent web-01`) stands for `actor`.
   * `claim` (PostgreSQL replicas) takes the rows this replica fires; the
   * others are skipped, not failed. When an event fails, the page is rolled
   * back whole and run again one incident at a time, each in a savepoint of
   * its own, so the one that fails is undone alone and the others go on;
   * returns the failure of each that failed. A transient failure of the
   * page (busy, a lost race) is thrown for the caller to retry. Pushes, mail
   * and deadline kicks follow the commit.
   */
  async applyMany(
    items: readonly { incidentId: string; event: IncidentEvent; actor?: string }[],
    actor: string,
    opts: { claim?: (ids: readonly string[]) => Promise<Set<string>> } = {},
  ): Promise<Map<string, unknown>> {
    const touched = new Set<string>();
    const failed = new Map<string, unknown>();
    const claim = opts.claim ?? (async (ids: readonly string[]) => new Set(ids));
    try {
      await this.deps.store.db.transaction(async () => {
        // A rerun (a race lost on PostgreSQL) starts afresh.
        touched.clear();
        failed.clear();
        const claimed = await claim([...new Set(items.map((i) => i.incidentId))]);
        const incidents = await this.deps.store.incidents.getMany([...claimed]);
        const now = this.deps.clock.now();
        const tx = new StoreTx(this.deps.store);
        await this.prefetchFor(tx, [...incidents.values()], now);
        for (const item of items) {
          if (!claimed.has(item.incidentId)) continue;
          const current = incidents.get(item.incidentId);
          if (!current) throw new CordonError('not_found', `no incident ${item.incidentId}`, { field: 'incidentId' });
          incidents.set(current.id, await this.applyInTx(tx, current, item.event, item.actor ?? actor, now, touched));
        }
        await tx.flush();
      });
    } catch (err) {
      if (isCordonError(err, 'transient')) throw err;
      this.deps.log.warn({ err: asCordonError(err).message, events: items.length }, 'a page of events failed together; applying them one by one');
      return this.applyEach(items, actor, claim);
    }
    this.afterCommit(touched);
    return failed;
  }

  /** `applyMany`'s way when the page failed together: each event in a savepoint of its own. */
  private async applyEach(
    items: readonly { incidentId: string; event: IncidentEvent; actor?: string }[],
    actor: string,
    claim: (ids: readonly string[]) => Promise<Set<string>>,
  ): Promise<Map<string, unknown>> {
    const touched = new Set<string>();
    const failed = new Map<string, unknown>();
    await this.deps.store.db.transaction(async () => {
      touched.clear();
      failed.clear();
      for (const item of items) {
        const mine = new Set<string>();
        try {
          await this.deps.store.db.transaction(async () => {
            if (!(await claim([item.incidentId])).has(item.incidentId)) return;
            const current = await this.deps.store.incidents.get(item.incidentId);
            if (!current) throw new CordonError('not_found', `no incident ${item.incidentId}`, { field: 'incidentId' });
            const tx = new StoreTx(this.deps.store);
            await this.applyInTx(tx, current, item.event, item.actor ?? actor, this.deps.clock.now(), mine);
            await tx.flush();
          });
          for (const h of mine) touched.add(h);
        } catch (err) {
          failed.set(item.incidentId, err);
        }
      }
    });
    this.afterCommit(touched);
    return failed;
  }

  /** Reads ahead, in a few queries, what events on these incidents will ask (context, mail, scope, links). */
  private async prefetchFor(tx: StoreTx, incidents: readonly Incident[], now: Date): Promise<void> {
    if (incidents.length === 0) return;
    const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
    await tx.prefetchHosts([...new Set(incidents.map((i) => i.hostId))], [], since);
    await tx.countAutomaticSince(new Date(now.getTime() - HOUR));
    await tx.prefetchCustomerHosts([...new Set(incidents.map((i) => i.customerId))]);
    // A deadline may take the ladder's next step: what each incident holds is read ahead, so the step is queued in bulk.
    await tx.desired.prefetchHeld(incidents);
    if (this.deps.links) await tx.prefetchLinks(incidents.map((i) => i.id));
  }

  private async applyInTx(
    tx: StoreTx,
    current: Incident,
    event: IncidentEvent,
    actor: string,
    now: Date,
    touched: Set<string>,
    extra?: Record<string, unknown>,
  ): Promise<Incident> {
    const t = transition(current, event, await this.context(tx, now, current.customerId, current.hostId));
    if (!t.changed) return current;
    tx.updateIncident(t.incident, nextDueAt(t.incident, this.deps.policy));
    if (t.incident.established !== current.established) tx.noteEstablished(t.incident, t.incident.established ? 1 : -1);
    if (current.established && !t.incident.established) {
      // Dismissed: it no longer counts toward the customer's termination review, so an open one stops listing it.
      const review = await this.deps.store.terminationReviews.withdraw(current.customerId, current.id);
      if (review) tx.appendAudit({ at: now, actor, action: 'customer.termination_review_withdrawn', subject: current.customerId, detail: { review: review.id, incident: current.id, remaining: review.incidentIds } });
    }
    const { type, ...withUndefined } = event as IncidentEvent & Record<string, unknown>;
    const detail = Object.fromEntries(Object.entries({ ...withUndefined, ...extra }).filter(([, v]) => v !== undefined));
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
    cause: {
      eventType: IncidentEvent['type'] | 'termination_confirmed' | 'mail_resent';
      complaint?: Complaint;
      openedBy?: { operator: string; reason: string };
      review?: { id: string; incidentIds: string[]; decidedAt: Date };
    },
  ): Promise<void> {
    const s = this.deps.store;
    for (const e of effects) {
      switch (e.type) {
        case 'mail': {
          await this.queueIncidentMail(tx, i, e.template, e.terminationReview, actor, now, { ...cause, ...(e.actions ? { actions: e.actions } : {}), ...(e.rejected ? { rejected: e.rejected } : {}) });
          // The reporters hear how it ended once, when it ends (not when its mail is re-sent).
          if ((e.template === 'closed' || e.template === 'dismissed') && cause.eventType !== 'mail_resent') {
            await this.queueReporterOutcomes(tx, i, e.template === 'closed' ? 'resolved' : 'dismissed', now);
          }
          break;
        }
        case 'host_actions': {
          // Counted against the hourly cap: actions the policy started, not an operator.
          // Who decided it, as the lifecycle says: an operator's cut released by a BMC check is still the operator's.
          const automatic = e.actions.length > 0 && e.automatic;
          const freshIncident = tx.isNewIncident(i.id) && !tx.hasEnforced(i.id);
          const generation = await tx.desired.setIncidentActions(i.hostId, i.id, e.actions, e.reason, { automatic, at: now, freshIncident });
          tx.noteEnforced(i.id);
          tx.noteEnforcementChanged(automatic);
          // An action taken restricts the host for sure; one lifted may leave others of its incidents in force.
          tx.noteRestrictionChanged(i.customerId, e.actions.length > 0 ? i.hostId : undefined);
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
          tx.enqueue({ kind: 'bmc_check', incidentId: i.id, payload: { hostId: i.hostId, phase: e.phase }, availableAt: now });
          break;
        case 'alert':
          tx.appendEvent({ incidentId: i.id, at: now, type: 'alert', fromState: i.state, toState: i.state, actor: 'policy', detail: { reason: e.reason } });
          tx.appendAudit({ at: now, actor: 'policy', action: 'alert', subject: i.hostId, detail: { incident: i.id, reason: e.reason } });
          this.deps.log.error({ incident: i.id, host: i.hostId, reason: e.reason }, 'ALERT');
          break;
        case 'termination_review': {
          // A flag for an operator, never a message to the customer: the migration notice waits for a confirmation.
          await tx.flush();
          const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
          const established = [...new Set([...(await s.incidents.establishedForCustomerSince(i.customerId, since)), i.id])];
          const review = await s.terminationReviews.flag(`tr-${randomUUID().slice(0, 8)}`, i.customerId, established, now);
          tx.appendEvent({ incidentId: i.id, at: now, type: 'termination_review', fromState: i.state, toState: i.state, actor: 'policy', detail: { customer: i.customerId, review: review.id } });
          tx.appendAudit({ at: now, actor: 'policy', action: 'customer.termination_review', subject: i.customerId, detail: { incident: i.id, review: review.id, incidents: established } });
          break;
        }
      }
    }
  }

  /** What the incident holds on its host now, as the transaction leaves it (a release mail names what it lifts). */
  private async heldActions(tx: StoreTx, i: Incident): Promise<Action[]> {
    await tx.desired.flush();
    return (await this.deps.store.desired.get(i.hostId)).enforcements.filter((x) => x.incidentId === i.id).map((x) => x.action);
  }

  /** The customer's other servers as they stand now, for a mail that must say truthfully whether they are affected. */
  private async scopeOf(tx: StoreTx, i: Incident): Promise<{ otherHosts: number; otherRestricted: string[] }> {
    const others = (await tx.customerHosts(i.customerId)).filter((h) => h.hostId !== i.hostId);
    return { otherHosts: others.length, otherRestricted: others.filter((h) => h.restricted).map((h) => h.hostId) };
  }

  private async approvalOf(id: string): Promise<{ id: string; requestedBy: string; approvedBy: string } | undefined> {
    const a = await this.deps.store.approvals.get(id);
    return a?.decidedBy ? { id: a.id, requestedBy: a.requestedBy, approvedBy: a.decidedBy } : undefined;
  }

  private async context(tx: StoreTx, now: Date, customerId: string, hostId: string): Promise<Context> {
    const automaticInLastHour = await tx.countAutomaticSince(new Date(now.getTime() - HOUR));
    const bmc = await tx.latestBmcCheck(hostId);
    const since = new Date(now.getTime() - this.deps.policy.recidivism.windowDays * DAY);
    const customerEstablishedInWindow = await tx.countEstablishedForCustomerSince(customerId, since);
    return { now, policy: this.deps.policy, automaticInLastHour, customerEstablishedInWindow, bmc };
  }

  private afterCommit(touched: Set<string>): void {
    for (const hostId of touched) this.deps.onHostChanged(hostId);
    this.deps.onOutbox();
    this.deps.onDeadlinesChanged();
  }

  /**
   * Queues one of the incident's customer mails: a snapshot of everything it
   * says, taken now, so a retry sends the same text. A mail that names the
   * page carries the incident's live link id (never the token or the URL:
   * the outbox is in the store).
   */
  private async queueIncidentMail(
    tx: StoreTx,
    i: Incident,
    template: MailTemplate,
    terminationReview: boolean,
    actor: string,
    now: Date,
    cause: {
      eventType: string;
      complaint?: Complaint;
      openedBy?: { operator: string; reason: string };
      review?: { id: string; incidentIds: string[]; decidedAt: Date };
      /** What the mail names when not the incident's own actions (a release names what it lifted). */
      actions?: Action[];
      /** For 'answer_rejected': the answer and the operator's reason. */
      rejected?: RejectedAnswer;
    },
    availableAt: Date = now,
  ): Promise<void> {
    const s = this.deps.store;
    const host = await tx.host(i.hostId);
    const customer = (await tx.customer(i.customerId)) ?? { id: i.customerId, name: i.customerId, email: '' };
    const bmc = await tx.bmc(i.hostId);
    let complaint: MailComplaint | undefined;
    let complaints: MailComplaint[] | undefined;
    let openedBy = template === 'notice' ? cause.openedBy : undefined;
    if (template === 'complaint_digest') {
      complaints = cause.complaint ? [mailComplaint(cause.complaint)] : [];
    } else if (template === 'notice' && cause.complaint) {
      complaint = mailComplaint(cause.complaint);
    } else if (template === 'notice' && !openedBy) {
      // A notice re-sent (after a bounce, with a new link) lists every complaint on the incident by now.
      await tx.flush();
      const [first, ...rest] = (await s.complaints.listByIncident(i.id)).filter((c) => c.status === 'linked').map(mailComplaint);
      complaint = first;
      if (rest.length > 0) complaints = rest;
      if (!first && i.openedBy === 'operator') openedBy = await this.openedByOf(i.id);
    }
    // The notice goes out before the clock starts (notice_sent), or again after
    // one bounced (the clock restarts when it is delivered): it states deadlines
    // counted from now, which the real ones never precede.
    const cat = this.deps.policy.categories[i.category];
    const stated =
      template === 'notice' && (i.ackDueAt === undefined || i.noticeUndeliveredAt !== undefined)
        ? { ...i, ackDueAt: new Date(now.getTime() + cat.ackHours * HOUR), resolveDueAt: new Date(now.getTime() + cat.resolveHours * HOUR) }
        : i;
    const restricts = (template === 'escalated' || template === 'enforced') && i.actions.length > 0;
    let linkId: string | undefined;
    if (this.deps.links && customer.email && PAGE_TEMPLATES.includes(template)) {
      // The incident's row is in the table already (StoreTx inserts new incidents at once); the link is queued with the rest.
      linkId = await this.deps.links.ensure(i, customer.email, actor, now, tx);
    }
    const payload: MailPayload = {
      template,
      incident: stated,
      host: { id: i.hostId, publicPrefixes: host?.publicPrefixes ?? [], bmc: bmc ? { address: bmc.address, protocol: 'IPMI' } : undefined },
      customer,
      ...(openedBy ? { openedBy } : {}),
      complaint,
      ...(complaints ? { complaints } : {}),
      actions: cause.actions ?? (template === 'released' ? await this.heldActions(tx, i) : i.actions),
      terminationReview,
      migrationDays: this.deps.policy.recidivism.migrationDays,
      bmcCheckedAt: i.bmcVerifiedAt,
      ...(template === 'escalated' || template === 'enforced' ? { scope: await this.scopeOf(tx, i) } : {}),
      ...(cause.review ? { review: cause.review } : {}),
      ...(cause.rejected ? { rejected: cause.rejected } : {}),
      ...(template === 'enforced' && i.approvalId ? { approval: await this.approvalOf(i.approvalId) } : {}),
      ...(restricts ? { statement: await this.statementOf(tx, i, template, cause.eventType) } : {}),
      ...(linkId ? { linkId } : {}),
    };
    tx.enqueue({ kind: 'mail', incidentId: i.id, payload, availableAt });
  }

  /**
   * A complaint joined an open incident: the customer hears of it too. Into
   * the notice or digest still waiting to go out when there is one (nothing
   * claimed it yet); otherwise a new digest, due no sooner than an hour after
   * the incident's last notice or digest: one mail an hour at most, however
   * many reports arrive.
   */
  private async mailMergedComplaint(tx: StoreTx, i: Incident, complaint: Complaint, actor: string, now: Date): Promise<void> {
    const s = this.deps.store;
    await tx.outboxVisible();
    if (await s.outbox.appendToPending(i.id, ['notice', 'complaint_digest'], 'complaints', mailComplaint(complaint))) return;
    const last = await s.outbox.lastMailDue(i.id, ['notice', 'complaint_digest']);
    const availableAt = new Date(Math.max(now.getTime(), last ? last.getTime() + HOUR : 0));
    await this.queueIncidentMail(tx, i, 'complaint_digest', false, actor, now, { eventType: 'complaint', complaint }, availableAt);
  }

  /**
   * The facts a restriction mail's statement of reasons states: the
   * complaints (the first STATEMENT_FACTS), and who decided — the policy's
   * ladder (counted as automatic where the store recorded the action's
   * start) or the operator whose action it is.
   */
  private async statementOf(tx: StoreTx, i: Incident, template: MailTemplate, eventType: string): Promise<StatementInput> {
    const linked = await tx.linkedComplaints(i.id);
    const facts = linked.slice(0, STATEMENT_FACTS).map((c) => ({ ip: c.ip, eventTime: c.eventTime, eventTimeSource: c.eventTimeSource, receivedAt: c.receivedAt, reporter: c.reporter, observed: c.evidence }));
    const ladder = this.deps.policy.categories[i.category].ladder;
    const rung = i.step >= 0 ? ladder[i.step] : undefined;
    const policy = (trigger: 'deadline' | 'immediate'): StatementDecision | undefined =>
      rung ? { by: 'policy', step: i.step + 1, action: i.actions.find((a) => a.kind === rung.kind) ?? rung, trigger } : undefined;
    let decision: StatementDecision | undefined;
    if (template === 'escalated') {
      // An escalation with actions is the ladder's own step, at a deadline or at intake.
      decision = policy(eventType === 'deadline' ? 'deadline' : 'immediate');
    } else {
      if ((await tx.desired.lastStartAutomatic(i.id)) === true) decision = policy(i.overdue ? 'deadline' : 'immediate');
      else {
        const ordered = [...(await tx.eventsOf(i.id))].reverse().find((ev) => ev.type === 'operator_enforce');
        const d = (ordered?.detail ?? {}) as { operator?: unknown; reason?: unknown };
        decision = {
          by: 'operator',
          operator: typeof d.operator === 'string' ? d.operator : (ordered?.actor ?? 'an operator'),
          reason: typeof d.reason === 'string' ? d.reason : (i.pendingReason ?? 'not recorded'),
        };
      }
    }
    return { facts, total: linked.length, decision: decision ?? { by: 'operator', operator: 'an operator', reason: 'not recorded' } };
  }

  /** Who opened an operator's incident, and why, from its opening event: for a notice re-sent without the original cause at hand. */
  private async openedByOf(incidentId: string): Promise<{ operator: string; reason: string } | undefined> {
    const open = (await this.deps.store.events.list(incidentId)).find((ev) => ev.type === 'open');
    const reason = (open?.detail as { reason?: unknown } | undefined)?.reason;
    return open && typeof reason === 'string' ? { operator: open.actor, reason } : undefined;
  }

  /**
   * Tells each reporter of the incident's complaints how it ended: one mail
   * per reply address, naming only what they reported (addresses, our
   * reference, the outcome), never the customer. Only to a reply address
   * captured from an authenticated report, of a registered reporter whose
   * kind of registration `outcome.*` allows and whose entry does not opt out.
   */
  private async queueReporterOutcomes(tx: StoreTx, i: Incident, outcome: 'resolved' | 'dismissed', now: Date): Promise<void> {
    const s = this.deps.store;
    const allow = { mail: this.deps.outcome?.mailReporters ?? true, feed: this.deps.outcome?.feedReporters ?? false };
    await tx.flush();
    const byAddress = new Map<string, { name: string; email: string; ips: string[]; first: Date; messageId: string | undefined }>();
    for (const c of await s.complaints.listByIncident(i.id)) {
      if (!c.replyTo || !c.reporterId || (c.status !== 'linked' && c.status !== 'duplicate')) continue;
      const via = (c.authentication as Authentication | undefined)?.via;
      const registration = via === 'dkim' || via === 'arc' ? 'mail' : via === 'feed' ? 'feed' : undefined;
      if (!registration || !allow[registration]) continue;
      const reporter = await s.reporters.get(c.reporterId);
      if (!reporter || reporter.notifyOutcome === false) continue;
      const key = c.replyTo.toLowerCase();
      const seen = byAddress.get(key) ?? { name: reporter.name, email: c.replyTo, ips: [], first: c.receivedAt, messageId: c.messageId };
      if (!seen.ips.includes(c.ip)) seen.ips.push(c.ip);
      if (c.receivedAt < seen.first) seen.first = c.receivedAt;
      byAddress.set(key, seen);
    }
    for (const r of byAddress.values()) {
      const payload: ReporterOutcomePayload = {
        template: REPORTER_OUTCOME,
        to: { name: r.name, email: r.email },
        reference: i.id,
        category: i.category,
        outcome,
        ips: r.ips,
        firstReceivedAt: r.first,
        endedAt: i.closedAt ?? now,
        ...(r.messageId ? { inReplyTo: r.messageId } : {}),
      };
      // No incident id on the row: a bounce of this mail must never count as the customer's notice bouncing.
      tx.enqueue({ kind: 'mail', payload, availableAt: now });
      tx.appendAudit({ at: now, actor: 'policy', action: 'reporter.outcome_queued', subject: i.id, detail: { to: r.email, outcome, ips: r.ips } });
    }
  }
}

/** Templates that carry the incident's page link: those that ask for, or allow, an answer. */
const PAGE_TEMPLATES: readonly MailTemplate[] = ['notice', 'complaint_digest', 'escalated', 'enforced', 'answer_rejected'];
/** Complaints a statement of reasons lists by name; it states the total. */
const STATEMENT_FACTS = 20;

/** A complaint as the customer's mail quotes it: their own part of the report only, and an operator's evidence in words. */
function mailComplaint(c: Complaint): MailComplaint {
  const byOperator = (c.authentication as Authentication | undefined)?.via === 'operator';
  return {
    id: c.id,
    raw: c.excerpt ?? c.raw,
    partial: c.excerpt !== undefined,
    reporter: c.reporter,
    category: c.category,
    receivedAt: c.receivedAt,
    ip: c.ip,
    eventTime: c.eventTime,
    ...(c.eventTime && c.eventTimeSource === 'receipt' ? { eventTimeSource: 'receipt' as const } : {}),
    ...(byOperator && c.evidence ? { operatorEvidence: c.evidence } : {}),
  };
}

/** A report whose sender we may write to: its domain verified (aligned DKIM, a trusted forwarder's ARC), or it came over a feed's certificate. */
function verifiedSender(a: Authentication): boolean {
  return ((a.via === 'dkim' || a.via === 'arc') && a.domain !== undefined) || a.via === 'feed';
}

/** Why a retry of a complaint kept for an operator opens nothing and queues nothing. */
function repeatReason(earlier: string): string {
  return `repeats complaint ${earlier} (same message-id), which waits for an operator`;
}
