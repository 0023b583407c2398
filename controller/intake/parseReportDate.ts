/**
 * Dates as reporters write them, read into UTC: RFC 5322 (with obsolete zone
 * names: UT, GMT, EST/EDT, CST/CDT, MST/MDT, PST/PDT, and the European CET,
 * CEST, BST…), ISO 8601 with or without seconds or zone, and Shadowserver's
 * zone-less "YYYY-MM-DD HH:MM:SS" (UTC). A zone-less time is UTC. Returns
 * undefined rather than guessing when nothing matches.
 */
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0,
  EST: -5, EDT: -4, CST: -6, CDT: -5, MST: -7, MDT: -6, PST: -8, PDT: -7,
  AKST: -9, AKDT: -8, HST: -10,
  WET: 0, WEST: 1, BST: 1, IST: 1, CET: 1, CEST: 2, MET: 1, MEST: 2, EET: 2, EEST: 3, MSK: 3,
  JST: 9, KST: 9, AEST: 10, AEDT: 11,
};

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function offsetMinutes(zone: string | undefined): number | undefined {
  if (!zone) return 0;
  const z = zone.replace(/[()]/g, '').trim();
  const num = /^([+-])(\d{2}):?(\d{2})$/.exec(z);
  if (num) return (num[1] === '-' ? -1 : 1) * (Number(num[2]) * 60 + Number(num[3]));
  const named = ZONES[z.toUpperCase()];
  return named === undefined ? undefined : named * 60;
}

function build(y: number, mo: number, d: number, h: number, mi: number, s: number, frac: string | undefined, offset: number): Date | undefined {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return undefined;
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const t = Date.UTC(y, mo - 1, d, h, mi, Math.min(s, 59), ms) - offset * 60_000;
  return Number.isNaN(t) ? undefined : new Date(t);
}

export function parseReportDate(input: string | undefined | null): Date | undefined {
  if (!input) return undefined;
  const text = input.trim();
  if (/^\d{10}(\.\d+)?$/.test(text)) return new Date(Number(text) * 1000); // epoch seconds
  // ISO 8601 / Shadowserver: 2021-03-07 00:00:00, 2025-01-11T15:35:37Z, 2015-09-25 22:14:33-07:00, no seconds.
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2}|[A-Za-z]{1,5})?$/.exec(text);
  if (iso) {
    const offset = offsetMinutes(iso[8]);
    if (offset === undefined) return undefined;
    return build(+iso[1]!, +iso[2]!, +iso[3]!, +(iso[4] ?? 0), +(iso[5] ?? 0), +(iso[6] ?? 0), iso[7], offset);
  }
  // RFC 5322: [Mon, ]7 Sep 2015 08:58:04 -0700 (PDT) | 19 Jun 2003 17:34:13 EDT | seconds optional.
  const rfc = /^(?:[A-Za-z]{3},?\s+)?(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?(?:\s*\([^)]*\))?$/.exec(text);
  if (rfc) {
    const mo = MONTHS.indexOf(rfc[2]!.toLowerCase()) + 1;
    let y = +rfc[3]!;
    if (y < 100) y += y < 50 ? 2000 : 1900; // RFC 5322 §4.3
    const offset = offsetMinutes(rfc[7]);
    if (offset === undefined || mo === 0) return undefined;
    return build(y, mo, +rfc[1]!, +rfc[4]!, +rfc[5]!, +(rfc[6] ?? 0), undefined, offset);
  }
  // "Mon Sep  7 08:58:04 2015" (asctime, UTC).
  const asc = /^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})$/.exec(text);
  if (asc) {
    const mo = MONTHS.indexOf(asc[1]!.toLowerCase()) + 1;
    return mo ? build(+asc[6]!, mo, +asc[2]!, +asc[3]!, +asc[4]!, +asc[5]!, undefined, 0) : undefined;
  }
  return undefined;
}
