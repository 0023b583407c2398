import type { ContactChangedPayload } from './renderContactChanged.js';
import type { MailInput } from './renderMail.js';
import type { ReporterOutcomePayload } from './renderReporterOutcome.js';

/**
 * What one outbox mail row holds: everything `renderMail` needs except the
 * desk's identity (which comes from config at send time, so a changed reply
 * address applies to mail still queued). A snapshot taken in the transaction
 * that decided the mail: a retry renders the same text, whatever the incident
 * did since.
 *
 * Stored as JSON (`JSON.stringify` turns the dates into ISO strings);
 * `parseMailPayload` revives and checks it on the way out.
 */
export type MailPayload = Omit<MailInput, 'desk' | 'pageUrl'> & {
  /**
   * The incident's customer link (CustomerLinks) the mail carries. Only the
   * id is stored: the outbox lives in the store, and a token or URL there
   * would open the page to whoever reads the database.
   */
  linkId?: string | undefined;
};

/**
 * Any mail row of the outbox: an incident's mail, a changed notice address
 * (no incident; `renderContactChanged.ts`), or a reporter's outcome
 * (`renderReporterOutcome.ts`).
 */
export type OutboxMailPayload = MailPayload | ContactChangedPayload | ReporterOutcomePayload;

/** One mail the outbox hands to the worker. */
export interface OutboxItem {
  /** The row id; with `ref`, the mail's Message-ID (`<outbox-ID.REF@cordon>`), so a resend is recognisably the same message. */
  id: number;
  /** The row's random ref (OutboxRepo): makes the Message-ID unguessable, so replies and bounces naming it are not forged from a counter. */
  ref: string;
  kind: 'mail';
  incidentId: string | undefined;
  /**
   * A `MailPayload` as stored, usually JSON-parsed (dates as ISO strings).
   * Typed `unknown` on purpose: the worker validates it, and a row it cannot
   * read is failed for good instead of crashing the loop.
   */
  payload: unknown;
  /**
   * Delivery attempts including this one: 1 the first time. Every claim
   * counts, so a lease that ran out (a crash mid-send) counted as an attempt.
   */
  attempts: number;
}

/**
 * The outbox as the mail worker sees it: the durable queue a state change
 * writes its mail into, in the same transaction. Implemented over SQLite by
 * the store; an in-memory one serves tests.
 *
 * Delivery is at-least-once. The worker sends, then calls `markDone`; a crash
 * in between leaves the row leased, the lease runs out, and the row is claimed
 * and sent again with the same Message-ID, which the receiving side can
 * recognise as a duplicate. A row is never lost: only `markDone` ends it.
 */
export interface OutboxSource {
  /**
   * Leases up to `limit` mail rows that are due (`retryAt <= now`, not done,
   * not under a live lease), oldest first, counts the attempt, and returns
   * them. A leased row is not returned again until its lease expires, so a
   * worker and its own restart do not send the same row at the same time;
   * the lease should outlast a send (the sender's timeouts: about 80 s).
   * Only rows of kind 'mail': another kind's worker must never see them.
   */
  claimDue(now: Date, limit: number): Promise<OutboxItem[]>;
  /** The mail was accepted by the relay: the row is finished and never claimed again. Idempotent. */
  markDone(id: number): Promise<void>;
  /**
   * The attempt failed: record `error`, release the lease, and make the row
   * due again at `retryAt`. The worker passes a far-future `retryAt`
   * (`NEVER`) for a row it gives up on; the row stays, for an operator to
   * inspect or re-queue.
   */
  markFailed(id: number, error: string, retryAt: Date): Promise<void>;
}

/** The `retryAt` of a row the worker gave up on: kept, never due again by itself. */
export const NEVER = new Date('9999-12-31T23:59:59Z');
