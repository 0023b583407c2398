import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { ISO_TIME, OFFENDER_LINE, TIME_LINE, categoryFromKeywords, offenderIp, reportRegion } from './plainTextRules.js';

/**
 * Plain-text reports, the last resort: SpamCop reports ("Email from <ip> /
 * <date>") and reports with a labelled offender line ("Offending IP:",
 * "Source IP:", "Attacker IP:", "IP address:"). An address that merely
 * appears in the text is never taken: without a label the answer is [] and
 * an operator decides. Never throws.
 */

interface Found {
  ip: string;
  /** Where the offender was named, to find the time line that belongs to it. */
  at: number;
  /** A time written on the offender's own line (SpamCop's "/ date"). */
  time: Date | undefined;
  line: string;
}

/** SpamCop's summary line: "Email from 10.0.0.1 / 19 Jun 2003 17:34:13 -0400". */
const SPAMCOP_LINE = /^[ \t]*Email from[ \t]+\[?([0-9A-Fa-f:.]+)\]?[ \t]*\/[ \t]*(.+?)[ \t]*$/gim;

function isSpamCop(message: ParsedMessage, region: string): boolean {
  return /\[\s*SpamCop V/i.test(region) || /spamcop\.net/i.test(message.from ?? '') || /^\[SpamCop\b/i.test(message.subject);
}

function bodyText(message: ParsedMessage): string {
  if (message.text.trim()) return message.text;
  return message.parts.filter((p) => p.contentType.startsWith('text/plain')).map((p) => p.content.toString('utf8')).join('\n');
}

function offenders(region: string, spamCop: boolean): Found[] {
  const found: Found[] = [];
  if (spamCop) {
    for (const m of region.matchAll(SPAMCOP_LINE)) {
      const ip = offenderIp(m[1]!, undefined);
      if (ip) found.push({ ip, at: m.index, time: parseReportDate(m[2]), line: m[0].trim() });
    }
  }
  for (const m of region.matchAll(OFFENDER_LINE)) {
    const ip = offenderIp(m[1]!, m[2]);
    if (ip) found.push({ ip, at: m.index, time: undefined, line: m[0].trim() });
  }
  return found.sort((a, b) => a.at - b.at);
}

/** The first labelled time in [from, to) of the region that reads as a date. */
function labelledTime(region: string, from: number, to: number): Date | undefined {
  for (const m of region.slice(from, to).matchAll(TIME_LINE)) {
    const t = parseReportDate(m[1]);
    if (t) return t;
  }
  return undefined;
}

function evidenceOf(region: string, found: Found): string {
  const spamCopLink = /https?:\/\/www\.spamcop\.net\/(?:w3m|sc|mcgi)\?\S+/i.exec(region)?.[0];
  const reportId = /^[ \t]*(?:[-*•][ \t]*)?(?:report|incident|ticket|case)[ \t]*(?:id|#|number)[ \t]*:?[ \t]*(\S+)/im.exec(region)?.[1];
  return spamCopLink ?? (reportId ? `report ${reportId}: ${found.line}` : found.line);
}

export const plainTextParser: FormatParser = {
  name: 'plain',
  parse(message: ParsedMessage): ParsedComplaint[] | undefined {
    try {
      const text = bodyText(message);
      if (!text.trim()) return undefined;
      const region = reportRegion(text);
      const spamCop = isSpamCop(message, region);
      const found = offenders(region, spamCop);
      // An open proxy relays spam: SpamCop reports are spam whatever the body says (INDEX.md dev-07).
      const category = spamCop ? 'spam' : categoryFromKeywords(`${message.subject}\n${region}`);
      const fallbackTime = labelledTime(region, 0, region.length) ?? parseReportDate(ISO_TIME.exec(region)?.[0]);
      const seen = new Set<string>();
      const out: ParsedComplaint[] = [];
      found.forEach((f, i) => {
        if (seen.has(f.ip)) return;
        seen.add(f.ip);
        // The time that belongs to an offender is the first labelled time after it, before the next offender.
        const next = found[i + 1]?.at ?? region.length;
        out.push({
          ip: f.ip,
          category,
          eventTime: f.time ?? labelledTime(region, f.at, next) ?? fallbackTime,
          reporter: message.from ?? 'unknown reporter',
          reporterKind: 'individual',
          format: 'plain',
          evidence: evidenceOf(region, f),
        });
      });
      return out;
    } catch {
      return [];
    }
  },
};
