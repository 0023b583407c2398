import { CordonError } from '../../proto/runtime/CordonError.js';
import { blocks, bullets, oneLine, paragraph, utc } from './plainText.js';
import type { MailInput, RenderedMail } from './renderMail.js';

export const CONTACT_CHANGED = 'contact_changed';

/**
 * The outbox row of a changed notice address. It belongs to no incident and
 * goes to the OLD address: if the change was not the customer's wish, the
 * one inbox that can say so is the one that no longer gets the notices.
 * The new address is stored masked only, as the mail shows it.
 */
export interface ContactChangedPayload {
  template: typeof CONTACT_CHANGED;
  /** The contact before the change: the mail goes to this address. */
  customer: { id: string; name: string; email: string };
  change: {
    /** Quoted by the customer when objecting; also in the audit entry. */
    reference: string;
    at: Date;
    /** The new notice address as the mail shows it (`j***@example.org`). */
    newEmailMasked: string;
    /** The new contact name, when it changed too. */
    newName?: string | undefined;
  };
}

/** `jane.doe@example.org` → `j***@example.org`: enough to recognise, not enough to write to. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

/**
 * Renders the mail to the old address: that its abuse-notice address was
 * changed, to what (masked), by whom (the provider's abuse desk), and how to
 * object. Pure, like `renderMail`: a resend is the same message.
 */
export function renderContactChanged(input: ContactChangedPayload & { desk: MailInput['desk'] }): RenderedMail {
  const { customer, change, desk } = input;
  const tag = `[Cordon contact ${change.reference}]`;
  return {
    subject: oneLine(`${tag} Your abuse-notice address was changed`),
    text: blocks(
      `Dear ${customer.name},`,
      paragraph(
        `${desk.name} changed the address to which we send abuse notices about the servers of your account ${customer.id}, at ${utc(change.at)} (UTC).`,
      ),
      bullets([`before: ${customer.email} (this address)`, `now: ${change.newEmailMasked}`, ...(change.newName ? [`contact name now: ${change.newName}`] : [])]),
      paragraph(
        `From now on, notices of complaints about your servers, with the deadlines to answer them, go to the new address; this address no longer receives them.`,
      ),
      paragraph(
        `If you did not ask for this change, object now: reply to this mail keeping ${tag} in the subject, or write to ${desk.replyTo}. ` +
          `We then check the change with you and restore the previous address if it was not yours to make.`,
      ),
      `-- \n${desk.name}\n${desk.replyTo}\n${paragraph(`Contact change ${change.reference}, account ${customer.id}.`)}`,
    ),
    attachments: [],
    headers: {
      'X-Cordon-Customer': oneLine(customer.id),
      'X-Cordon-Template': CONTACT_CHANGED,
      // RFC 3834: vacation responders stay quiet; people can still reply.
      'Auto-Submitted': 'auto-generated',
    },
  };
}

/** Reads a stored contact-change row back (dates from ISO strings); `invalid` naming the field, never retried. */
export function parseContactChangedPayload(o: Record<string, unknown>): ContactChangedPayload {
  const invalid = (field: string, what: string) => new CordonError('invalid', `outbox mail payload: ${what}`, { field });
  const obj = (v: unknown, field: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(field, 'not an object');
    return v as Record<string, unknown>;
  };
  const str = (v: Record<string, unknown>, key: string, at: string): string => {
    if (typeof v[key] !== 'string') throw invalid(`${at}${key}`, 'not a string');
    return v[key] as string;
  };
  if (o.template !== CONTACT_CHANGED) throw invalid('template', `not ${CONTACT_CHANGED}`);
  const customer = obj(o.customer, 'customer');
  const change = obj(o.change, 'change');
  const at = change.at instanceof Date ? change.at : typeof change.at === 'string' ? new Date(change.at) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw invalid('change.at', 'not a date');
  const newName = change.newName === undefined || change.newName === null ? undefined : str(change, 'newName', 'change.');
  return {
    template: CONTACT_CHANGED,
    customer: { id: str(customer, 'id', 'customer.'), name: str(customer, 'name', 'customer.'), email: str(customer, 'email', 'customer.') },
    change: { reference: str(change, 'reference', 'change.'), at, newEmailMasked: str(change, 'newEmailMasked', 'change.'), ...(newName ? { newName } : {}) },
  };
}
