import type { Category } from '../../incidents/model.js';
import { declineWith } from '../declineWith.js';
import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { readNoticeAddresses, signatureStart } from './plainTextAddresses.js';
import { OFFENDER_LINE, TIME_LINE, categoryFromKeywords, offenderIp, reportRegion } from './plainTextRules.js';
import { readTables } from './plainTextTable.js';
import { findProseTime } from './proseTime.js';

/**
 * Notices written for people, the last resort: SpamCop reports ("Email
 * from <ip> / <date>"), labelled offender lines ("Offending IP:", "Source
 * IP:", "Attacker IP:", "IP address:"), tables whose header names the
 * offender column, and — when the notice claims abuse — addresses its
 * words accuse (plainTextAddresses: prose, the source side of log lines,
 * URLs on an IP literal). An address the notice calls the reporter's,
 * a victim's, a sensor's or the destination of traffic, or that its
 * signature names, is never taken, whatever else says so. A notice that
 * names only host names is declined with them named; nothing is resolved.
 * Never throws.
 */

interface Found {
  ip: string;
  /** Where the offender was named, to find its paragraph and the time line that belongs to it. */
  at: number;
  /** A time written for it alone (SpamCop's "/ date", its table row). */
  time: Date | undefined;
  /** Its own words for the category (a table's type cell). */
  type?: string | undefined;
  line: string;
  kind: 'label' | 'table' | 'prose' | 'log' | 'url';
}

/** Words that accuse without naming a category ("the attacking host", "unauthorised access"). */
const ABUSE_WORDS = /\battack|\babus|\bmalicious|\bhack|\bintrusion|\bexploit|\bcompromis|\bunauthori[sz]ed|\billegal|\bfraud/i;

/** SpamCop's summary line: "Email from 10.0.0.1 / 19 Jun 2003 17:34:13 -0400". */
const SPAMCOP_LINE = /^[ \t]*Email from[ \t]+\[?([0-9A-Fa-f:.]+)\]?[ \t]*\/[ \t]*(.+?)[ \t]*$/gim;

function isSpamCop(message: ParsedMessage, region: string): boolean {
  return /\[\s*SpamCop V/i.test(region) || /spamcop\.net/i.test(message.from ?? '') || /^\[SpamCop\b/i.test(message.subject);
}

function bodyText(message: ParsedMessage): string {
  if (message.text.trim()) return message.text;
  return message.parts.filter((p) => p.contentType.startsWith('text/plain')).map((p) => p.content.toString('utf8')).join('\n');
}

function labelled(region: string, spamCop: boolean): Found[] {
  const found: Found[] = [];
  if (spamCop) {
    for (const m of region.matchAll(SPAMCOP_LINE)) {
      const ip = offenderIp(m[1]!, undefined);
      if (ip) found.push({ ip, at: m.index, time: parseReportDate(m[2]), line: m[0].trim(), kind: 'label' });
    }
  }
  for (const m of region.matchAll(OFFENDER_LINE)) {
    const ip = offenderIp(m[1]!, m[2]);
    if (ip) found.push({ ip, at: m.index, time: undefined, line: m[0].trim(), kind: 'label' });
  }
  return found;
}

/** The first labelled time in [from, to) of the region that reads as a date. */
function labelledTime(region: string, from: number, to: number, reference: Date | undefined): Date | undefined {
  for (const m of region.slice(from, to).matchAll(TIME_LINE)) {
    const t = parseReportDate(m[1]) ?? findProseTime(m[1]!, reference);
    if (t) return t;
  }
  return undefined;
}

/** Paragraphs (between blank lines) of the region, found once: a notice may name thousands of offenders. */
function paragraphsOf(region: string): (at: number) => { start: number; text: string } {
  const breaks = [0, ...[...region.matchAll(/\n[ \t]*\r?\n/g)].map((m) => m.index + m[0].length)];
  return (at) => {
    let lo = 0;
    let hi = breaks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (breaks[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    const start = breaks[lo]!;
    return { start, text: region.slice(start, breaks[lo + 1] ?? region.length) };
  };
}

/** The notice's own pointers, read once: SpamCop's link, a report/incident/ticket id. */
function pointersOf(region: string): { spamCopLink: string | undefined; reportId: string | undefined } {
  return {
    spamCopLink: /https?:\/\/www\.spamcop\.net\/(?:w3m|sc|mcgi)\?\S+/i.exec(region)?.[0],
    reportId: /^[ \t]*(?:[-*•][ \t]*)?(?:report|incident|ticket|case)[ \t]*(?:id|#|number)[ \t]*:?[ \t]*(\S+)/im.exec(region)?.[1],
  };
}

function evidenceOf({ spamCopLink, reportId }: ReturnType<typeof pointersOf>, found: Found): string {
  const line = found.kind === 'log' ? `log line, source side: ${found.line}` : found.kind === 'url' ? `URL: ${found.line}` : found.line;
  return (spamCopLink ?? (reportId ? `report ${reportId}: ${line}` : line)).slice(0, 400);
}

function parsePlain(message: ParsedMessage): ParsedComplaint[] | undefined {
  const text = bodyText(message);
  if (!text.trim()) return undefined;
  const region = reportRegion(text);
  const signatureAt = signatureStart(region);
  const spamCop = isSpamCop(message, region);
  // An open proxy relays spam: SpamCop reports are spam whatever the body says (INDEX.md dev-07).
  const noticeCategory: Category = spamCop ? 'spam' : categoryFromKeywords(`${message.subject}\n${region.slice(0, signatureAt)}`);
  const table = readTables(region.slice(0, signatureAt));
  const claimsAbuse = noticeCategory !== 'other' || ABUSE_WORDS.test(`${message.subject}\n${region.slice(0, signatureAt)}`);
  const words = readNoticeAddresses(region, signatureAt, claimsAbuse, table.spans);
  for (const ip of table.others) words.vetoed.add(ip);
  const tables: Found[] = table.rows.map((r) => ({
    ip: r.ip, at: r.at, time: r.time ? (parseReportDate(r.time) ?? findProseTime(r.time, message.date)) : undefined, type: r.type, line: r.line, kind: 'table',
  }));
  const all = [...labelled(region, spamCop), ...tables, ...words.mentions.map((m): Found => ({ ...m, time: undefined }))]
    .filter((f) => !words.vetoed.has(f.ip))
    .sort((a, b) => a.at - b.at);
  if (all.length === 0) {
    return words.hosts.length > 0
      ? declineWith(`the notice names ${words.hosts.slice(0, 3).join(', ')} and no IP address: a name is not resolved (it may point elsewhere now, or be shared)`)
      : [];
  }
  const fallbackTime = labelledTime(region, 0, region.length, message.date) ?? findProseTime(region.slice(0, signatureAt), message.date);
  const seen = new Set<string>();
  const out: ParsedComplaint[] = [];
  const paragraphAt = paragraphsOf(region);
  const pointers = pointersOf(region);
  const byParagraph = new Map<number, { category: Category; time: Date | undefined }>();
  const paragraphFacts = (at: number) => {
    const p = paragraphAt(at);
    let facts = byParagraph.get(p.start);
    if (!facts) byParagraph.set(p.start, (facts = { category: categoryFromKeywords(p.text), time: findProseTime(p.text, message.date) }));
    return facts;
  };
  // Where the next other offender is named: the end of the span whose labelled time belongs to this one.
  const nextAt: number[] = [];
  for (let i = all.length - 1, after = region.length; i >= 0; i--) {
    nextAt[i] = i + 1 < all.length && all[i + 1]!.ip !== all[i]!.ip ? all[i + 1]!.at : after;
    after = nextAt[i]!;
  }
  all.forEach((f, i) => {
    if (seen.has(f.ip)) return;
    seen.add(f.ip);
    const own = spamCop ? 'spam' : categoryFromKeywords(`${f.type ?? ''}\n${f.line}`);
    const near = own !== 'other' ? own : spamCop ? 'spam' : paragraphFacts(f.at).category;
    // The time that belongs to an offender: its own, one on its line, the first labelled time after it before the next offender, one in its paragraph.
    out.push({
      ip: f.ip,
      category: near !== 'other' ? near : noticeCategory,
      eventTime: f.time ?? findProseTime(f.line, message.date) ?? labelledTime(region, f.at, nextAt[i]!, message.date) ?? paragraphFacts(f.at).time ?? fallbackTime,
      reporter: message.from ?? 'unknown reporter',
      reporterKind: 'individual',
      format: 'plain',
      evidence: evidenceOf(pointers, f),
    });
  });
  return out;
}

export const plainTextParser: FormatParser = {
  name: 'plain',
  parse(message: ParsedMessage): ParsedComplaint[] | undefined {
    try {
      return parsePlain(message);
    } catch {
      return [];
    }
  },
};
