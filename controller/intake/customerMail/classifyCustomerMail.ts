import type { CustomerMailFacts } from './readCustomerMail.js';
import type { DsnRecipient } from './readDeliveryStatus.js';

/** One of our mails, as a Message-ID with the right ref names it (OutboxRepo.byMessageId). */
export interface KnownMail {
  outboxId: number;
  /** Absent for mail of no incident: nothing to thread onto. */
  incidentId: string | undefined;
  template: string;
  /** The address it went to. */
  recipient: string | undefined;
  /** Whether it went to the incident's customer (not to a reporter). */
  toCustomer: boolean;
}

/** What the classifier may know beyond the message: the lookups the threader made for the ids and tags the message names. */
export interface MailContext {
  /** Our mails by Message-ID (with angle brackets, as `messageIdsIn` gives them); only ids whose ref matched are here. */
  sent: ReadonlyMap<string, KnownMail>;
  /** For incidents named by a `[Cordon #inc-…]` subject tag: the customer's current registered address. */
  incidents: ReadonlyMap<string, { customerEmail: string | undefined }>;
}

export type CustomerMailClass =
  | {
      kind: 'bounce';
      incidentId: string;
      outboxId: number;
      template: string;
      /** Only a failed notice to the customer's own address stops the clock. */
      ofNotice: boolean;
      recipient: string;
      status: string;
      diagnostic: string;
      /** false: no RFC 3464 report, but a mail system's message quoting our Message-ID. */
      standard: boolean;
      why: string;
    }
  | {
      kind: 'reply' | 'auto_reply';
      incidentId: string;
      /** The mail it answers, when it named one by Message-ID. */
      outboxId: number | undefined;
      matchedBy: 'message-id' | 'subject-tag' | 'delivery-status';
      /** For an auto-reply: the marker that told (`auto-submitted: auto-replied`, `dsn action: delayed`). */
      marker: string | undefined;
      why: string;
    }
  | { kind: 'none'; why: string };

/** `[Cordon #inc-20260302-a1b2c3d4]` as renderMail writes it. */
export const SUBJECT_TAG = /\[Cordon #(inc-\d{8}-[0-9a-f]{8})\]/i;

/** What the threader must look up before classifying: every Message-ID the message names, and the incident of its subject tag. */
export function namedIn(f: CustomerMailFacts): { messageIds: string[]; taggedIncident: string | undefined } {
  const messageIds = [...new Set([...f.returnedMessageIds, ...f.inReplyTo, ...f.references, ...f.quotedMessageIds])];
  return { messageIds, taggedIncident: SUBJECT_TAG.exec(f.subject)?.[1]?.toLowerCase() };
}

/** The same mailbox: the domain case-insensitively (RFC 5321 §2.4), the local part also when `anyCase`. */
export function sameAddress(a: string | undefined, b: string | undefined, anyCase: boolean): boolean {
  if (!a || !b) return false;
  const split = (s: string) => {
    const at = s.trim().lastIndexOf('@');
    return at < 1 ? undefined : { local: s.trim().slice(0, at), domain: s.trim().slice(at + 1).toLowerCase() };
  };
  const x = split(a);
  const y = split(b);
  if (!x || !y || x.domain !== y.domain) return false;
  return anyCase ? x.local.toLowerCase() === y.local.toLowerCase() : x.local === y.local;
}

/** The first of `ids` naming one of our mails to an incident's customer. */
function ourMail(ids: readonly string[], ctx: MailContext): KnownMail | undefined {
  for (const id of ids) {
    const known = ctx.sent.get(id);
    if (known?.incidentId !== undefined && known.toCustomer) return known;
  }
  return undefined;
}

/** RFC 3834 §5 and the responders that predate it. `X-Auto-Response-Suppress` asks others not to answer; it marks nothing. */
function autoMarker(f: CustomerMailFacts): string | undefined {
  if (f.autoSubmitted !== undefined && f.autoSubmitted !== 'no') return `auto-submitted: ${f.autoSubmitted}`;
  return f.autoMarkers[0];
}

function dsnVerdict(f: CustomerMailFacts, mail: KnownMail): { recipient: DsnRecipient; failed: boolean } | undefined {
  const mine = (f.dsn?.recipients ?? []).filter((r) => sameAddress(r.finalRecipient, mail.recipient, false) || sameAddress(r.originalRecipient, mail.recipient, false));
  const failed = mine.find((r) => r.action === 'failed');
  if (failed) return { recipient: failed, failed: true };
  const other = mine.find((r) => r.action !== undefined);
  return other && { recipient: other, failed: false };
}

/** A non-standard bounce saying it will try again: a warning, not a failure. */
const DELAY_WORDS = /\b(delayed|not yet been delivered|will (?:continue to )?(?:re)?try|warning: message still undelivered)\b/i;

/**
 * Decides what a message that reached the abuse mailbox is, given what the
 * threader looked up for the ids and tags it names. Pure.
 *
 * - `bounce`: an RFC 3464 report (multipart/report; report-type=delivery-status)
 *   with `Action: failed` for the address our mail went to (Final- or
 *   Original-Recipient; local part exact, domain any case), whose returned
 *   message (or own In-Reply-To/References) names our mail with the right
 *   ref. Or, marked `standard: false`, a mail system's message
 *   (MAILER-DAEMON, postmaster, null Return-Path, Auto-Submitted) quoting our
 *   Message-ID in a `Message-ID:` line and naming the recipient. `ofNotice`
 *   only for the customer's notice.
 * - `auto_reply`: a reply (below) with an auto-responder marker, or a report
 *   about our mail that says delayed/delivered/relayed: a note at most.
 * - `reply`: In-Reply-To or References names our mail to an incident's
 *   customer; or the subject carries `[Cordon #inc-…]` and the From address
 *   is that incident's customer's current address (any case). A tag from
 *   anyone else is not customer mail: a third party cannot write into an
 *   incident by subject.
 * - `none`: everything else, including a report naming our mail for another
 *   address, a guessed or old-form Message-ID, mail of no incident (a
 *   reporter's outcome): normal intake reads it.
 */
export function classifyCustomerMail(f: CustomerMailFacts, ctx: MailContext): CustomerMailClass {
  const threadIds = [...f.inReplyTo, ...[...f.references].reverse()];

  if (f.dsn) {
    const mail = ourMail([...f.returnedMessageIds, ...threadIds], ctx);
    if (!mail) return { kind: 'none', why: 'a delivery status report that names none of our mails (with a valid ref)' };
    const verdict = dsnVerdict(f, mail);
    if (!verdict) return { kind: 'none', why: `a delivery status report about our mail ${mail.outboxId} but not for the address it went to` };
    const { recipient: r, failed } = verdict;
    if (!failed) {
      return {
        kind: 'auto_reply',
        incidentId: mail.incidentId!,
        outboxId: mail.outboxId,
        matchedBy: 'delivery-status',
        marker: `dsn action: ${r.action}`,
        why: `delivery status "${r.action}" for our ${mail.template} mail: a note, not a bounce`,
      };
    }
    return {
      kind: 'bounce',
      incidentId: mail.incidentId!,
      outboxId: mail.outboxId,
      template: mail.template,
      ofNotice: mail.template === 'notice',
      recipient: mail.recipient!,
      status: r.status ?? '5.0.0',
      diagnostic: r.diagnostic,
      standard: true,
      why: `delivery failed (RFC 3464 report) for our ${mail.template} mail to ${mail.recipient}`,
    };
  }

  if (f.fromMailSystem || (f.autoSubmitted !== undefined && f.autoSubmitted !== 'no')) {
    const mail = ourMail(f.quotedMessageIds, ctx);
    // A mail system quoting our mail's headers: a bounce without a report, if it names the address it could not reach.
    // One that answers our mail by In-Reply-To is a responder quoting it (an out-of-office), handled below.
    if (mail && f.searchable.includes(mail.recipient!.toLowerCase()) && !ourMail(threadIds, ctx)) {
      if (DELAY_WORDS.test(f.subject) || DELAY_WORDS.test(f.text)) {
        return { kind: 'auto_reply', incidentId: mail.incidentId!, outboxId: mail.outboxId, matchedBy: 'delivery-status', marker: 'delay warning (no report)', why: `a mail system's delay warning for our ${mail.template} mail: a note, not a bounce` };
      }
      const status = /\b([45]\.\d{1,3}\.\d{1,3})\b/.exec(f.text)?.[1] ?? '5.0.0';
      const diagnostic = /\b[45]\d\d[ -][^\n]*/.exec(f.text)?.[0].trim() ?? f.subject;
      return {
        kind: 'bounce',
        incidentId: mail.incidentId!,
        outboxId: mail.outboxId,
        template: mail.template,
        ofNotice: mail.template === 'notice',
        recipient: mail.recipient!,
        status,
        diagnostic: diagnostic.slice(0, 300),
        standard: false,
        why: `a non-standard bounce (no RFC 3464 report; ${f.from ?? 'null sender'} quoting our Message-ID) of our ${mail.template} mail to ${mail.recipient}`,
      };
    }
  }

  const replied = ourMail(threadIds, ctx);
  const marker = autoMarker(f);
  const kind = marker ? ('auto_reply' as const) : ('reply' as const);
  if (replied) {
    return { kind, incidentId: replied.incidentId!, outboxId: replied.outboxId, matchedBy: 'message-id', marker, why: `${kind === 'reply' ? 'a reply' : 'an auto-reply'} to our ${replied.template} mail` };
  }
  const tagged = SUBJECT_TAG.exec(f.subject)?.[1]?.toLowerCase();
  if (tagged) {
    const customer = ctx.incidents.get(tagged);
    if (customer && sameAddress(f.from, customer.customerEmail, true)) {
      return { kind, incidentId: tagged, outboxId: undefined, matchedBy: 'subject-tag', marker, why: `${kind === 'reply' ? 'a reply' : 'an auto-reply'} by subject tag from the customer's registered address` };
    }
    return { kind: 'none', why: `subject tag ${tagged} from ${f.from ?? 'no sender'}, not the customer's registered address` };
  }
  return { kind: 'none', why: 'names none of our mails' };
}
