import type { IncidentMail } from '../../proto/gen/cordon/v1/desk.js';
import { parseOutboxMail } from '../mail/parseMailPayload.js';
import { renderOutboxMail } from '../mail/renderMail.js';
import type { OutboxMessage } from '../store/OutboxRepo.js';

/** Mails an incident page lists: the newest ones; an incident with more has had a long life, and its history names them all. */
export const INCIDENT_MAILS_SHOWN = 50;

/** An incident event as far as a bounce goes: when, and the detail naming the outbox row (CustomerMailThreader.detail). */
export interface BounceEvent {
  at: Date;
  detail: unknown;
}

/** The subject does not depend on who sends: any identity renders the same one. */
const ANY_DESK = { from: '', replyTo: '', name: '' };

/**
 * The incident's outbox mail rows as the desk shows them, oldest first. The
 * subject is the one the worker renders from the same payload (renderMail is
 * pure), so it is the subject the customer got or will get. The outbox keeps
 * no time of queueing, so `queuedAt` stays unset rather than guessed; the
 * incident's history has the event that queued each mail. `bouncedAt` is the
 * first threaded bounce whose detail names the row.
 */
export function toIncidentMails(rows: readonly OutboxMessage[], events: readonly BounceEvent[]): IncidentMail[] {
  const bounces = new Map<number, Date>();
  for (const e of events) {
    const d = e.detail as { kind?: unknown; outbox?: unknown } | undefined;
    if (d?.kind === 'bounce' && typeof d.outbox === 'number' && !bounces.has(d.outbox)) bounces.set(d.outbox, e.at);
  }
  return [...rows].sort((a, b) => a.id - b.id).map((m) => toIncidentMail(m, bounces.get(m.id)));
}

function toIncidentMail(m: OutboxMessage, bouncedAt: Date | undefined): IncidentMail {
  const p = (m.payload ?? {}) as { template?: unknown; customer?: { email?: unknown }; to?: { email?: unknown } };
  const to = typeof p.customer?.email === 'string' ? p.customer.email : typeof p.to?.email === 'string' ? p.to.email : '';
  return {
    id: String(m.id),
    kind: typeof p.template === 'string' ? p.template : 'unknown',
    to,
    subject: subjectOf(m.payload),
    status: m.status,
    attempts: m.attempts,
    lastError: m.lastError ?? '',
    queuedAt: undefined,
    dueAt: m.dueAt,
    bouncedAt,
  };
}

/** The rendered subject, or why a row cannot be rendered (the worker would give it up for the same reason). */
function subjectOf(payload: unknown): string {
  try {
    return renderOutboxMail(parseOutboxMail(payload), ANY_DESK).subject;
  } catch (err) {
    return `(cannot be rendered: ${err instanceof Error ? err.message : String(err)})`;
  }
}
