import type { Category } from '../../incidents/model.js';
import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { firstField, readArfFields } from './arfFields.js';
import { readIp } from './arfIp.js';
import { readArfOriginalHeaders } from './arfOriginal.js';
import { declineWith } from '../declineWith.js';
import { entryHop, parseReceived } from './receivedChain.js';

/**
 * Feedback-Type (RFC 5965 §3.1, IANA "Feedback Report Type Values"; RFC 6591
 * adds auth-failure) → Cordon category. null: the report is not a complaint.
 */
const FEEDBACK_CATEGORY: Readonly<Record<string, Category | null>> = {
  abuse: 'spam', // unsolicited mail or some other kind of email abuse — in practice spam
  'opt-out': 'spam', // pre-RFC drafts: recipient asked to be removed
  fraud: 'phishing', // indicates some kind of fraud or phishing activity
  virus: 'malware', // report of a virus found in the originating message
  'auth-failure': 'auth_failure', // RFC 6591: DKIM/SPF/ADSP failure report
  other: 'other', // any other feedback that does not fit the registered types
  'not-spam': null, // the recipient says the mail was NOT spam: nothing to act on
};

/** The message/feedback-report fields, or undefined when the message is not an ARF report. */
function readFeedbackReport(message: ParsedMessage): Map<string, string[]> | undefined {
  const part = message.parts.find((p) => p.contentType === 'message/feedback-report');
  if (part) return readArfFields(part.content.toString('utf8'));
  // RFC 5965 §2: the outer type is multipart/report; report-type=feedback-report.
  const type = message.headers.get('content-type') ?? '';
  if (/^multipart\/report\b/i.test(type) && /report-type\s*=\s*"?feedback-report/i.test(type)) return new Map();
  return undefined;
}

/** The domain of a From address ("FBL <fbl@mail.example>" → mail.example). */
function addressDomain(from: string | undefined): string | undefined {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from ?? '')?.[1];
}

/** Reporting-MTA's host ("dns; mta.example.net", RFC 5965 §3.2). */
function reportingMta(fields: Map<string, string[]>): string | undefined {
  return /^(?:dns;\s*)?([A-Za-z0-9.-]+)/i.exec(firstField(fields, 'reporting-mta') ?? '')?.[1];
}

/** "\"Zoho FBL\" <fbl@example>" → "Zoho FBL <fbl@example>". */
function cleanFrom(from: string | undefined): string | undefined {
  const text = from?.replace(/"/g, '').replace(/\s+/g, ' ').trim();
  return text || undefined;
}

function parseArf(message: ParsedMessage): ParsedComplaint[] | undefined {
  const fields = readFeedbackReport(message);
  if (!fields) return undefined;
  const feedbackType = (firstField(fields, 'feedback-type') ?? 'abuse').toLowerCase();
  const sourceIp = firstField(fields, 'source-ip');
  // Netcraft's "Feedback-Type: xarf" wrapper carries its data in an X-ARF
  // attachment: decline, so the X-ARF parser reads it.
  if (feedbackType === 'xarf') return undefined;
  const category = FEEDBACK_CATEGORY[feedbackType] === undefined ? 'other' : FEEDBACK_CATEGORY[feedbackType];
  if (category === null) return [];
  const original = readArfOriginalHeaders(message);
  const received = original.get('received') ?? [];

  let ip: string | undefined;
  let arrival: Date | undefined;
  if (sourceIp !== undefined) {
    ip = readIp(sourceIp);
    if (ip === undefined) return [];
    // The reporter's own hop that names the Source-IP says when it arrived.
    arrival = received.map(parseReceived).find((h) => h.fromIp === ip)?.date;
  } else {
    // No Source-IP (RFC 5965 §3.2 makes it optional): the sender is where the
    // reporter's systems received the original (receivedChain.entryHop).
    // A report that carries another machine-readable part may be read by
    // its own parser: decline rather than answer for it.
    const entry = entryHop(received, [addressDomain(message.from), reportingMta(fields)]);
    if (!entry.hop) {
      if (message.parts.some((p) => /json|xml|yaml/.test(p.contentType) || /\.(json|xml|ya?ml)$/i.test(p.filename ?? ''))) return undefined;
      return declineWith(`ARF report without Source-IP: ${entry.reason}`);
    }
    ip = entry.hop.fromIp;
    arrival = entry.hop.date;
  }

  // Event time: Arrival-Date (RFC 5965 §3.2) or Received-Date (the older FBL
  // spelling, e.g. Zoho) of the feedback part itself; else the timestamp of
  // the reporter's own Received hop. Never the original's Date: the sender wrote it.
  const eventTime =
    parseReportDate(firstField(fields, 'arrival-date')) ??
    parseReportDate(firstField(fields, 'received-date')) ??
    arrival;

  const agent = firstField(fields, 'user-agent');
  const reporter = cleanFrom(message.from) ?? firstField(fields, 'reporting-mta') ?? agent ?? 'unknown ARF reporter';
  const pointers = [`ARF ${feedbackType} report${agent ? ` (${agent})` : ''}`];
  if (sourceIp === undefined) pointers.push(`sender from the original's Received chain`);
  const domain = firstField(fields, 'reported-domain');
  if (domain) pointers.push(`Reported-Domain ${domain}`);
  const uri = firstField(fields, 'reported-uri');
  if (uri) pointers.push(`Reported-Uri ${uri}`);
  const messageId = /<[^>\s]+>/.exec(firstField(original, 'message-id') ?? '')?.[0];
  if (messageId) pointers.push(`original Message-ID ${messageId}`);

  return [{ ip, category, eventTime, reporter, reporterKind: 'upstream', format: 'arf', evidence: pointers.join(', ').slice(0, 400) }];
}

/**
 * ARF (RFC 5965) feedback reports, as mailbox providers send them from
 * their feedback loops. One complaint: the Source-IP (§3.2), or, when the
 * report has none, the sender where the reporter's own systems received the
 * attached original (receivedChain.entryHop: never one of the reporter's
 * relays, never a private address, never a hop below the entry). Declines
 * (undefined) Netcraft's `Feedback-Type: xarf` wrapper and a report without
 * Source-IP that carries another machine-readable part, so that part's
 * parser reads it; returns [] for an unusable Source-IP or a not-spam
 * report, and declineWith(reason) when the Received chain names no sender.
 * Never throws.
 */
export const arfParser: FormatParser = {
  name: 'arf',
  parse(message) {
    try {
      return parseArf(message);
    } catch {
      return undefined;
    }
  },
};
