import { createHash, randomUUID } from 'node:crypto';
import type { Logger } from '../../../proto/runtime/logger.js';
import type { IncidentService } from '../../services/IncidentService.js';
import { TERMINAL_STATES, type Incident } from '../../incidents/model.js';
import { parseOutboxMessageId } from '../../mail/MailSender.js';
import { Blobs } from '../../store/Blobs.js';
import type { Store } from '../../store/Store.js';
import { checkMimeShape } from '../checkMimeShape.js';
import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from '../limits.js';
import { classifyCustomerMail, namedIn, type CustomerMailClass, type KnownMail, type MailContext } from './classifyCustomerMail.js';
import { readCustomerMail, type CustomerMailFacts } from './readCustomerMail.js';

/** The customer's words kept inline; the whole mail is in blobs (raw_sha256). */
export const MAX_BODY_CHARS = 20_000;

export interface ThreadedMail {
  incidentId: string;
  kind: 'reply' | 'auto_reply' | 'bounce';
  /** For the desk's answer: what happened, naming the incident. */
  reason: string;
  /** false: the same mail (same Message-ID) was threaded before, nothing new recorded. */
  recorded: boolean;
  /** A bounce that paused the incident's deadlines (notice_bounced). */
  paused: boolean;
}

export interface CustomerMailThreaderDeps {
  store: Store;
  service: IncidentService;
  clock: () => Date;
  log: Logger;
  limits?: IntakeLimits | undefined;
}

/** The mail as text for blobs: byte for byte when it is UTF-8, else base64 (as complaints keep raw reports). */
function rawText(raw: Buffer): string {
  const text = raw.toString('utf8');
  return Buffer.from(text, 'utf8').equals(raw) ? text : `base64:${raw.toString('base64')}`;
}

/**
 * Cheap test on the bytes before any parsing: customer mail names one of our
 * Message-IDs or carries our subject tag. Everything else (nearly all of the
 * abuse mailbox) goes to report intake without a second MIME parse.
 */
export function mayBeCustomerMail(raw: Buffer): boolean {
  return raw.includes('@cordon>') || raw.includes('@CORDON>') || raw.subarray(0, 64 * 1024).includes('[Cordon #');
}

/** "550 5.1.1 User unknown": the diagnostic, led by the status code unless it already says it. */
function bounceReason(c: { status: string; diagnostic: string }): string {
  return c.diagnostic.includes(c.status) ? c.diagnostic : `${c.status} ${c.diagnostic}`.trim();
}

const isOpen = (i: Incident) => !TERMINAL_STATES.includes(i.state) && i.state !== 'released';

/**
 * Threads the customer's side of the mailbox onto incidents: replies to our
 * mail, auto-replies, and bounces of it (classifyCustomerMail decides). A
 * threaded mail is never a complaint and never an answer: it is recorded as
 * a customer message (channel `mail`) with an incident event and an audit
 * entry, in one transaction, for an operator to read. A failed notice to the
 * customer's own address pauses the incident's deadlines through the
 * lifecycle (`notice_bounced`, which raises an alert) — unless the incident
 * is closed, a newer notice was delivered since, or the customer has
 * already answered or written (then the bounce is only recorded). The same
 * mail (same Message-ID, or the same bytes when it has none) threads once.
 */
export class CustomerMailThreader {
  private readonly blobs: Blobs;

  constructor(private readonly deps: CustomerMailThreaderDeps) {
    this.blobs = new Blobs(deps.store.db);
  }

  /**
   * Threads `raw` when it is customer mail; undefined when it is not (the
   * caller then reads it as a report, unchanged). `relayedBy` is who handed
   * it over (the operator's name), for the audit log. Throws only what the
   * store throws (a busy database: the caller retries the mail).
   */
  async thread(raw: Buffer, relayedBy: string): Promise<ThreadedMail | undefined> {
    if (!mayBeCustomerMail(raw)) return undefined;
    let facts: CustomerMailFacts;
    try {
      checkMimeShape(raw, this.deps.limits ?? DEFAULT_INTAKE_LIMITS);
      facts = await readCustomerMail(raw);
    } catch (err) {
      // Intake refuses it with its own, named limit.
      this.deps.log.info({ err: (err as Error).message }, 'not read as customer mail');
      return undefined;
    }
    const c = classifyCustomerMail(facts, await this.context(facts));
    if (c.kind === 'none') {
      if (namedIn(facts).messageIds.length > 0 || namedIn(facts).taggedIncident) this.deps.log.info({ why: c.why, from: facts.from }, 'names Cordon but is not customer mail; read as a report');
      return undefined;
    }
    const incident = await this.deps.store.incidents.get(c.incidentId);
    if (!incident) return undefined;
    return c.kind === 'bounce' ? this.bounce(c, incident, facts, raw, relayedBy) : this.note(c, incident, facts, raw, relayedBy);
  }

  private async context(f: CustomerMailFacts): Promise<MailContext> {
    const { messageIds, taggedIncident } = namedIn(f);
    const sent = new Map<string, KnownMail>();
    for (const id of messageIds.slice(0, 50)) {
      const parsed = parseOutboxMessageId(id);
      const known = parsed && (await this.deps.store.outbox.byMessageId(parsed.outboxId, parsed.ref));
      if (known) sent.set(id, known);
    }
    const incidents = new Map<string, { customerEmail: string | undefined }>();
    if (taggedIncident) {
      const i = await this.deps.store.incidents.get(taggedIncident);
      if (i) incidents.set(taggedIncident, { customerEmail: (await this.deps.store.customers.get(i.customerId))?.email });
    }
    return { sent, incidents };
  }

  /** The Message-ID that makes a re-delivered mail thread once; a mail without one is known by its bytes. */
  private static dedupKey(facts: CustomerMailFacts, raw: Buffer): string {
    return facts.messageId ?? `sha256:${createHash('sha256').update(raw).digest('hex')}`;
  }

  private async alreadyThreaded(incidentId: string, key: string): Promise<boolean> {
    const row = await this.deps.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM customer_messages WHERE incident_id = ? AND message_id = ?', [incidentId, key]);
    return (row?.n ?? 0) > 0;
  }

  /** Stores the message and its blob; false when this mail was threaded before. Call inside a transaction. */
  private async record(c: Exclude<CustomerMailClass, { kind: 'none' }>, facts: CustomerMailFacts, raw: Buffer, now: Date): Promise<{ id: string; inserted: boolean }> {
    const id = `msg-${randomUUID()}`;
    const rawSha256 = await this.blobs.put(rawText(raw));
    const body = c.kind === 'bounce' ? bounceReason(c) : facts.text.trim();
    const inserted = await this.deps.store.customerMessages.insert({
      id,
      incidentId: c.incidentId,
      at: now,
      channel: 'mail',
      kind: c.kind,
      answer: undefined,
      planDueAt: undefined,
      body: body.length > MAX_BODY_CHARS ? `${body.slice(0, MAX_BODY_CHARS)}\n[… cut at ${MAX_BODY_CHARS} characters; the whole mail is kept]` : body,
      actor: facts.from ?? (c.kind === 'bounce' ? 'mail system' : 'unknown sender'),
      sourceAddress: undefined,
      userAgent: undefined,
      messageId: CustomerMailThreader.dedupKey(facts, raw),
      submissionId: undefined,
      rawSha256,
    });
    return { id, inserted };
  }

  private detail(c: Exclude<CustomerMailClass, { kind: 'none' }>, facts: CustomerMailFacts, messageId: string, relayedBy: string): Record<string, unknown> {
    return {
      kind: c.kind,
      message: messageId,
      mailMessageId: facts.messageId ?? null,
      from: facts.from ?? null,
      subject: facts.subject.slice(0, 200),
      why: c.why,
      relayedBy,
      ...(c.kind === 'bounce' ? { outbox: c.outboxId, template: c.template, status: c.status, diagnostic: c.diagnostic, standard: c.standard } : { matchedBy: c.matchedBy, outbox: c.outboxId ?? null, marker: c.marker ?? null }),
    };
  }

  /** A reply, an auto-reply, or a bounce that stops nothing: message, event and audit entry in one transaction. */
  private async note(c: Exclude<CustomerMailClass, { kind: 'none' }>, incident: Incident, facts: CustomerMailFacts, raw: Buffer, relayedBy: string, why?: string): Promise<ThreadedMail> {
    const store = this.deps.store;
    const recorded = await store.db.transaction(async () => {
      const now = this.deps.clock();
      const current = (await store.incidents.get(incident.id)) ?? incident;
      const { id, inserted } = await this.record(c, facts, raw, now);
      if (!inserted) return false;
      // A closed incident's history ends with its closing: a late bounce is kept as a message only.
      if (c.kind === 'bounce' && !isOpen(current)) return true;
      const detail = { ...this.detail(c, facts, id, relayedBy), ...(why ? { note: why } : {}) };
      await store.events.append({ incidentId: current.id, at: now, type: 'customer_mail', fromState: current.state, toState: current.state, actor: facts.from ?? 'mail', detail });
      await store.audit.append({ at: now, actor: relayedBy, action: 'incident.customer_mail', subject: current.id, detail });
      return true;
    });
    const what = c.kind === 'bounce' ? `bounce of the ${c.template} mail` : c.kind === 'reply' ? 'reply' : 'auto-reply';
    const reason = recorded
      ? `${what} threaded onto ${incident.id} (not a complaint)${why ? `; ${why}` : ''}`
      : `${what} already threaded onto ${incident.id} (same Message-ID): nothing new`;
    this.deps.log.info({ incident: incident.id, kind: c.kind, from: facts.from, recorded }, 'customer mail threaded');
    return { incidentId: incident.id, kind: c.kind, reason, recorded, paused: false };
  }

  private async bounce(c: Extract<CustomerMailClass, { kind: 'bounce' }>, incident: Incident, facts: CustomerMailFacts, raw: Buffer, relayedBy: string): Promise<ThreadedMail> {
    const key = CustomerMailThreader.dedupKey(facts, raw);
    if (await this.alreadyThreaded(incident.id, key)) return this.note(c, incident, facts, raw, relayedBy);
    const keep = await this.whyNotPause(c, incident);
    if (keep) return this.note(c, incident, facts, raw, relayedBy, keep);
    let recorded = false;
    const after = await this.deps.service.apply(incident.id, { type: 'notice_bounced', reason: bounceReason(c).slice(0, 500) }, 'mail', {
      detail: this.detail(c, facts, key, relayedBy),
      then: async (_before, _after, now) => {
        recorded = (await this.record(c, facts, raw, now)).inserted;
      },
    });
    const paused = after.noticeUndeliveredAt !== undefined;
    this.deps.log.warn({ incident: incident.id, recipient: c.recipient, status: c.status, paused }, 'notice bounced');
    return {
      incidentId: incident.id,
      kind: 'bounce',
      reason: recorded
        ? `bounce of the notice threaded onto ${incident.id} (not a complaint): ${c.status} for ${c.recipient}; deadlines wait until a notice is delivered`
        : `bounce of the notice already threaded onto ${incident.id}: nothing new`,
      recorded,
      paused,
    };
  }

  /** Why this bounce must not pause the deadlines (it is only recorded), or undefined when it may. */
  private async whyNotPause(c: Extract<CustomerMailClass, { kind: 'bounce' }>, incident: Incident): Promise<string | undefined> {
    if (!c.ofNotice) return `a bounce of the ${c.template} mail, not of the notice: the deadlines run on`;
    if (!isOpen(incident)) return `the incident is ${incident.state}`;
    const latest = await this.deps.store.outbox.latestMail(incident.id, 'notice');
    if (latest && latest.id !== c.outboxId && latest.status === 'done') return `a newer notice (outbox ${latest.id}) was delivered since: the deadlines run on`;
    // The customer answered or wrote: the notice reached them, whatever a late (or forged) report says.
    const spoke = (await this.deps.store.customerMessages.listByIncident(incident.id)).find((m) => m.kind === 'answer' || m.kind === 'reply');
    if (spoke || incident.acknowledgedAt !== undefined) return 'the customer has answered or written since the notice: the deadlines run on';
    return undefined;
  }
}
