import type { Category } from '../../incidents/model.js';
import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { firstField, readArfFields } from './arfFields.js';
import { readIp } from './arfIp.js';
import { readArfOriginalHeaders } from './arfOriginal.js';

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
  // No Source-IP (RFC 5965 §3.2: optional): e.g. Netcraft's "Feedback-Type: xarf"
  // wrapper carries its data in an X-ARF attachment. Decline, so the X-ARF
  // parser reads it; never guess from the Received: lines of the original.
  if (feedbackType === 'xarf' || sourceIp === undefined) return undefined;
  const ip = readIp(sourceIp);
  const category = FEEDBACK_CATEGORY[feedbackType] === undefined ? 'other' : FEEDBACK_CATEGORY[feedbackType];
  if (ip === undefined || category === null) return [];

  const original = readArfOriginalHeaders(message);
  // Event time: Arrival-Date (RFC 5965 §3.2), Received-Date (the older FBL
  // spelling, e.g. Zoho), the original's Date, then the report's own Date.
  const eventTime =
    parseReportDate(firstField(fields, 'arrival-date')) ??
    parseReportDate(firstField(fields, 'received-date')) ??
    parseReportDate(firstField(original, 'date'));

  const agent = firstField(fields, 'user-agent');
  const reporter = cleanFrom(message.from) ?? firstField(fields, 'reporting-mta') ?? agent ?? 'unknown ARF reporter';
  const pointers = [`ARF ${feedbackType} report${agent ? ` (${agent})` : ''}`];
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
 * their feedback loops. One complaint: the Source-IP, the one field that
 * names the sending host (§3.2). Declines (undefined) reports without a
 * Source-IP so that a wrapped format can be read by its own parser; returns
 * [] for an ARF report with an unusable Source-IP or a not-spam report.
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
