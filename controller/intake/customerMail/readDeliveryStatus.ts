import { firstField, readArfFields } from '../formats/arfFields.js';

/** RFC 3464 §2.3.3: what the reporting MTA did for one recipient. */
export const DSN_ACTIONS = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'] as const;
export type DsnAction = (typeof DSN_ACTIONS)[number];

/** One per-recipient block of a delivery status notification. */
export interface DsnRecipient {
  /** Final-Recipient's address (RFC 3464 §2.3.2), without its address type; undefined when absent or of a type we do not read. */
  finalRecipient: string | undefined;
  /** Original-Recipient's address (§2.3.1), when the MTA kept it. */
  originalRecipient: string | undefined;
  /** Lower-cased; undefined when the field is missing or not one of DSN_ACTIONS (read as no verdict at all). */
  action: DsnAction | undefined;
  /** The status code (`5.1.1`), or undefined when missing or malformed. */
  status: string | undefined;
  /** Diagnostic-Code without its type (`550 5.1.1 … User unknown`), unfolded; may be empty. */
  diagnostic: string;
}

export interface DeliveryStatus {
  reportingMta: string | undefined;
  recipients: DsnRecipient[];
}

/** "rfc822; ops@acme.example (comment)" → "ops@acme.example"; RFC 6533's "utf-8;" too; other types give undefined. */
function addressOf(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^\s*(rfc822|utf-8)\s*;\s*(.*)$/i.exec(value);
  if (!m) return undefined;
  const address = m[2]!.replace(/\([^)]*\)/g, '').trim().replace(/^<(.*)>$/, '$1');
  return /^[^\s@<>]+@[^\s@<>]+$/.test(address) ? address : undefined;
}

/**
 * Reads the body of a `message/delivery-status` (RFC 3464 §2.1; RFC 6533's
 * `message/global-delivery-status` has the same shape): a per-message block,
 * then one block per recipient, separated by blank lines, each in header
 * syntax (folded lines are unfolded). Pure and lenient: a block without
 * Final-Recipient or Action is still returned, with those undefined, so the
 * caller decides what an incomplete report is worth (nothing, for a bounce).
 */
export function readDeliveryStatus(text: string): DeliveryStatus {
  const blocks = text
    .replace(/^\s*\r?\n/, '')
    .split(/\r?\n[ \t]*\r?\n/)
    .map((b) => readArfFields(b))
    .filter((f) => f.size > 0);
  // The per-message block comes first; a sloppy MTA that left it out starts with a recipient.
  const hasPerMessage = blocks[0] !== undefined && !blocks[0].has('final-recipient') && !blocks[0].has('action');
  const perMessage = hasPerMessage ? blocks[0] : undefined;
  const perRecipient = hasPerMessage ? blocks.slice(1) : blocks;
  const recipients = perRecipient.map((f): DsnRecipient => {
    const action = firstField(f, 'action')?.toLowerCase().replace(/\s*\(.*$/, '').trim();
    const status = /^\s*([245]\.\d{1,3}\.\d{1,3})\b/.exec(firstField(f, 'status') ?? '')?.[1];
    const diagnostic = (firstField(f, 'diagnostic-code') ?? '').replace(/^[^;]*;\s*/, '').replace(/\s+/g, ' ').trim();
    return {
      finalRecipient: addressOf(firstField(f, 'final-recipient')),
      originalRecipient: addressOf(firstField(f, 'original-recipient')),
      action: (DSN_ACTIONS as readonly string[]).includes(action ?? '') ? (action as DsnAction) : undefined,
      status,
      diagnostic,
    };
  });
  return { reportingMta: firstField(perMessage ?? new Map(), 'reporting-mta'), recipients };
}
