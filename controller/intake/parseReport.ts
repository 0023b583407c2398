import { asCordonError } from '../../proto/runtime/CordonError.js';
import { readCanonicalIp } from './canonicalIp.js';
import { declinedReason } from './declineWith.js';
import { acnsParser } from './formats/acns.js';
import { arfParser } from './formats/arf.js';
import { feedParser } from './formats/feed.js';
import { forwardedOriginalParser } from './formats/forwardedOriginal.js';
import { iodefParser } from './formats/iodef.js';
import { plainTextParser } from './formats/plainText.js';
import { shadowserverParser } from './formats/shadowserver.js';
import { xarfParser } from './formats/xarf.js';
import { DEFAULT_INTAKE_LIMITS, checkLimit, isIntakeLimitError, type IntakeLimits } from './limits.js';
import { sharedParsePool } from './ParsePool.js';
import { readMessage } from './readMessage.js';
import { rawMessageId, readMessageIds } from './readMessageIds.js';
import { readReplyAddress } from './readReplyAddress.js';
import type { FormatParser, ParseResult, ParsedComplaint, ParsedMessage } from './types.js';

/**
 * The formats in the order they are tried. Structured formats first; ARF
 * before X-ARF because an ARF without Source-IP (Netcraft's `Feedback-Type:
 * xarf`) declines and lets X-ARF read the report it wraps; Shadowserver's
 * CSV before the generic feed reader, which reads every other table and
 * JSON feed by its column names; IODEF after ACNS; a
 * complaint that carries the original mail (forwardedOriginal) just before
 * plain text, which comes last and answers only for an offender its words
 * tell apart from the reporter's, victim's and sensor's addresses.
 */
export const PARSERS: readonly FormatParser[] = [arfParser, xarfParser, acnsParser, iodefParser, shadowserverParser, feedParser, forwardedOriginalParser, plainTextParser];

/**
 * Turns a raw report (RFC 822 message or a bare JSON/CSV/XML/ZIP/text file)
 * into complaints, one per offender IP and category, or a needs_info reason
 * for an operator — in a worker thread of the shared ParsePool, so a hostile
 * report costs that worker its time and memory limits, never the caller's
 * event loop or heap. See ParsePool.parse for what it throws (a report over
 * intake.limits.maxReportBytes is refused); a report it reads is never
 * dropped: a parser that fails or a limit it passes is the reason.
 */
export function parseReport(raw: Buffer, filename?: string): Promise<ParseResult> {
  return sharedParsePool().parse(raw, filename);
}

/**
 * parseReport on the calling thread, within `limits`: for the parse worker
 * itself and for tests. Throws only IntakeLimitError for a report over
 * `maxReportBytes` (refused: the caller should not keep it); every other
 * limit passed makes the result needs_info, naming the limit. Also reads the
 * report's Message-ID and that of the original it quotes.
 */
export async function parseReportInProcess(raw: Buffer, filename?: string, limits: IntakeLimits = DEFAULT_INTAKE_LIMITS): Promise<ParseResult> {
  checkLimit(limits, 'maxReportBytes', raw.length, 'the report');
  let message: ParsedMessage;
  try {
    message = await readMessage(raw, filename, limits);
  } catch (err) {
    const why = isIntakeLimitError(err) ? err.message : `cannot read the message: ${asCordonError(err).message}`;
    return { complaints: [], needsInfo: why, messageId: rawMessageId(raw) };
  }
  const ids = idsOf(message);
  const failures: string[] = [];
  for (const parser of PARSERS) {
    let found: ParsedComplaint[] | undefined;
    try {
      found = parser.parse(message);
    } catch (err) {
      if (isIntakeLimitError(err)) return { complaints: [], needsInfo: err.message, ...ids };
      failures.push(`${parser.name}: ${asCordonError(err).message}`);
      continue;
    }
    if (found === undefined) continue;
    // Complaints are completed in place, not copied: a feed's excerpts share their header (sharedExcerpt).
    const refused: string[] = [];
    const valid = found.filter((c) => canonicalise(c, refused));
    for (const c of valid) markEventTime(c, message.date);
    const complaints = dedupe(valid);
    if (complaints.length === 0) {
      const why = declinedReason(found) ?? (refused.length > 0 ? `refused: ${refused.slice(0, 3).join('; ')}` : 'no offender IP could be read with confidence');
      return { complaints: [], needsInfo: `recognised as ${parser.name} but ${why}`, ...ids };
    }
    return { complaints, needsInfo: null, ...ids };
  }
  return {
    complaints: [],
    needsInfo: failures.length > 0 ? `no parser could read it (${failures.join('; ')})` : 'no known report format and no clearly labelled offender IP',
    ...ids,
  };
}

/** The report's Message-IDs; none rather than an exception from a header that cannot be read. */
function idsOf(message: ParsedMessage): { messageId?: string | undefined; originalMessageId?: string | undefined; replyTo?: string | undefined } {
  const replyTo = readReplyAddress(message);
  try {
    return { ...readMessageIds(message), ...(replyTo ? { replyTo } : {}) };
  } catch {
    return replyTo ? { replyTo } : {};
  }
}

/** Rewrites the complaint's address into its canonical form (canonicalIp); false, with the reason kept, when it is none. */
function canonicalise(c: ParsedComplaint, refused: string[]): boolean {
  const reading = readCanonicalIp(c.ip);
  if (reading.ip === undefined) {
    refused.push(reading.refused);
    return false;
  }
  c.ip = reading.ip;
  return true;
}

/** The report's own time when it states none: the Date it was sent, marked as such. */
function markEventTime(c: ParsedComplaint, sent: Date | undefined): void {
  if (c.eventTime) {
    c.eventTimeSource ??= 'report';
    return;
  }
  c.eventTime = sent;
  c.eventTimeSource = sent ? 'receipt' : undefined;
}

/** One complaint per offender IP and category: the earliest event, the first evidence. */
function dedupe(list: ParsedComplaint[]): ParsedComplaint[] {
  const byKey = new Map<string, ParsedComplaint>();
  for (const c of list) {
    const key = `${c.ip}|${c.category}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, c);
    else if (c.eventTime && (!seen.eventTime || betterTime(c, seen))) {
      seen.eventTime = c.eventTime;
      seen.eventTimeSource = c.eventTimeSource;
    }
  }
  return [...byKey.values()];
}

/** A stated time beats a receipt time; between two of a kind, the earlier. */
function betterTime(c: ParsedComplaint, seen: ParsedComplaint): boolean {
  if (c.eventTimeSource !== seen.eventTimeSource) return c.eventTimeSource === 'report';
  return c.eventTime! < seen.eventTime!;
}

/** The dry-run JSON operators see (`cordonctl ingest --dry-run --json`). */
export function toDryRunJson(r: ParseResult): unknown {
  return {
    complaints: r.complaints.map((c) => ({
      ip: c.ip,
      category: c.category,
      eventTime: c.eventTime?.toISOString() ?? null,
      eventTimeSource: c.eventTimeSource ?? null,
      reporter: c.reporter,
      reporterKind: c.reporterKind,
      format: c.format,
      evidence: c.evidence,
    })),
    needsInfo: r.needsInfo,
  };
}
