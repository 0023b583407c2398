import { declineWith } from '../declineWith.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { readArfOriginalHeaders, readInlineOriginalHeaders } from './arfOriginal.js';
import { OFFENDER_LINE, categoryFromKeywords, reportRegion } from './plainTextRules.js';
import { entryHop } from './receivedChain.js';

/** Words by which a mail says it complains about the message it carries. */
const COMPLAINT = /\b(?:spam|junk|unsolicited|abuse|complain|phish|scam|fraud|malware|virus|report(?:ed|ing)?)\b/i;

function bodyText(message: ParsedMessage): string {
  if (message.text.trim()) return message.text;
  return message.parts.filter((p) => p.contentType.startsWith('text/plain')).map((p) => p.content.toString('utf8')).join('\n');
}

function domainOf(from: string | undefined): string | undefined {
  return /@([A-Za-z0-9.-]+)>?\s*$/.exec(from ?? '')?.[1];
}

function parseForwarded(message: ParsedMessage): ParsedComplaint[] | undefined {
  const text = bodyText(message);
  const region = reportRegion(text);
  // A notice that labels its offender, or SpamCop's, is the plain parser's.
  if (new RegExp(OFFENDER_LINE.source, 'im').test(region) || /\[\s*SpamCop V/i.test(region)) return undefined;
  if (!COMPLAINT.test(`${message.subject}\n${region}`)) return undefined;
  let headers = readArfOriginalHeaders(message);
  let where = 'attached original';
  if (!headers.has('received')) {
    headers = readInlineOriginalHeaders(text);
    where = 'forwarded original';
  }
  const received = headers.get('received');
  if (!received) return undefined;
  const entry = entryHop(received, [domainOf(message.from)]);
  if (!entry.hop) return declineWith(`complaint about a ${where}: ${entry.reason}`);
  const found = categoryFromKeywords(`${message.subject}\n${region}`);
  const messageId = /<[^>\s]+>/.exec(headers.get('message-id')?.[0] ?? '')?.[0];
  return [{
    ip: entry.hop.fromIp,
    // The complaint is about the mail it carries: spam unless its words say phishing, malware….
    category: found === 'other' || found === 'scan' || found === 'brute_force' || found === 'ddos' ? 'spam' : found,
    eventTime: entry.hop.date,
    reporter: message.from?.replace(/"/g, '').trim() || 'unknown reporter',
    reporterKind: 'individual',
    format: 'forwarded-original',
    evidence: [`sender of the ${where}, as the reporter's ${entry.hop.by ?? 'mail host'} received it`, messageId && `Message-ID ${messageId}`].filter(Boolean).join(', ').slice(0, 400),
  }];
}

/**
 * Complaints that are not ARF but carry the message complained about: a
 * mailbox provider's or a recipient's mail with the original attached
 * (message/rfc822) or pasted with its full headers. The offender is the
 * sender where the reporter's mail systems received the original
 * (receivedChain.entryHop, from the reporter's side; never a relay of
 * theirs, never a private address, never a hop below). Undefined when the
 * mail carries no original with Received headers, does not read as a
 * complaint, or labels its offender itself (the plain parser reads those);
 * declineWith(reason) when the chain names no sender. Never throws.
 */
export const forwardedOriginalParser: FormatParser = {
  name: 'forwarded-original',
  parse(message) {
    try {
      return parseForwarded(message);
    } catch {
      return undefined;
    }
  },
};
