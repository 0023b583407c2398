import { asCordonError } from '../../proto/runtime/CordonError.js';
import { parseIp } from '../../proto/runtime/cidr.js';
import { acnsParser } from './formats/acns.js';
import { arfParser } from './formats/arf.js';
import { plainTextParser } from './formats/plainText.js';
import { shadowserverParser } from './formats/shadowserver.js';
import { xarfParser } from './formats/xarf.js';
import { readMessage } from './readMessage.js';
import type { FormatParser, ParseResult, ParsedComplaint } from './types.js';

/**
 * The formats in the order they are tried. Structured formats first; ARF
 * before X-ARF because an ARF without Source-IP (Netcraft's `Feedback-Type:
 * xarf`) declines and lets X-ARF read the report it wraps; plain text last,
 * and it only answers for a clearly labelled offender.
 */
export const PARSERS: readonly FormatParser[] = [arfParser, xarfParser, acnsParser, shadowserverParser, plainTextParser];

/**
 * Turns a raw report (RFC 822 message or a bare JSON/CSV/XML/ZIP/text file)
 * into complaints, one per offender IP and category, or a needs_info reason
 * for an operator. Never throws: a parser that fails is reported as the
 * reason, the message is never dropped.
 */
export async function parseReport(raw: Buffer, filename?: string): Promise<ParseResult> {
  let message;
  try {
    message = await readMessage(raw, filename);
  } catch (err) {
    return { complaints: [], needsInfo: `cannot read the message: ${asCordonError(err).message}` };
  }
  const failures: string[] = [];
  for (const parser of PARSERS) {
    let found: ParsedComplaint[] | undefined;
    try {
      found = parser.parse(message);
    } catch (err) {
      failures.push(`${parser.name}: ${asCordonError(err).message}`);
      continue;
    }
    if (found === undefined) continue;
    const complaints = dedupe(found.filter((c) => validIp(c.ip)).map((c) => ({ ...c, eventTime: c.eventTime ?? message.date })));
    if (complaints.length === 0) {
      return { complaints: [], needsInfo: `recognised as ${parser.name} but no offender IP could be read with confidence` };
    }
    return { complaints, needsInfo: null };
  }
  return {
    complaints: [],
    needsInfo: failures.length > 0 ? `no parser could read it (${failures.join('; ')})` : 'no known report format and no clearly labelled offender IP',
  };
}

function validIp(ip: string): boolean {
  try {
    parseIp(ip);
    return true;
  } catch {
    return false;
  }
}

/** One complaint per offender IP and category: the earliest event, the first evidence. */
function dedupe(list: ParsedComplaint[]): ParsedComplaint[] {
  const byKey = new Map<string, ParsedComplaint>();
  for (const c of list) {
    const key = `${c.ip}|${c.category}`;
    const seen = byKey.get(key);
    if (!seen) byKey.set(key, c);
    else if (c.eventTime && (!seen.eventTime || c.eventTime < seen.eventTime)) byKey.set(key, { ...seen, eventTime: c.eventTime });
  }
  return [...byKey.values()];
}

/** The dry-run JSON operators see (`cordonctl ingest --dry-run --json`). */
export function toDryRunJson(r: ParseResult): unknown {
  return {
    complaints: r.complaints.map((c) => ({
      ip: c.ip,
      category: c.category,
      eventTime: c.eventTime?.toISOString() ?? null,
      reporter: c.reporter,
      reporterKind: c.reporterKind,
      format: c.format,
      evidence: c.evidence,
    })),
    needsInfo: r.needsInfo,
  };
}
