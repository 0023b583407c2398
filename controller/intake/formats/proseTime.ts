import { parseReportDate } from '../parseReportDate.js';

/**
 * Times as notices for people write them, with their zone, into UTC:
 * "2024-03-05 14:22:10 UTC", "2024-03-05T14:22:10+01:00", "2024/03/05
 * 14:22:10", Apache/nginx "05/Mar/2024:14:22:10 +0100", RFC 5322 "Tue, 5
 * Mar 2024 14:22:10 +0000", "5 March 2024 14:22 CET", "March 5, 2024
 * 14:22:10 UTC", and syslog's "Mar  5 14:22:10" (with a zone when given),
 * whose missing year is taken from `reference` (the report's Date): the
 * latest year that does not put the time after the report. A time without
 * a zone is UTC, as parseReportDate reads it.
 */

const MONTHS = 'jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec';
const ZONE = String.raw`(?:\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT|UT|[ECMP][SD]T|CES?T|MES?T|WES?T|EES?T|BST|MSK|JST|KST|AES?T|AEDT))?`;
const PATTERNS: readonly RegExp[] = [
  new RegExp(String.raw`\b\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?${ZONE}\b`, 'i'),
  new RegExp(String.raw`\b\d{1,2}/(?:${MONTHS})[a-z]*/\d{4}:\d{2}:\d{2}:\d{2}\s[+-]\d{4}`, 'i'),
  new RegExp(String.raw`\b(?:[A-Z][a-z]{2},?\s+)?\d{1,2}\s+(?:${MONTHS})[a-z]*\.?\s+\d{4},?\s+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?${ZONE}`, 'i'),
  new RegExp(String.raw`\b(?:${MONTHS})[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4},?\s+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?${ZONE}`, 'i'),
  new RegExp(String.raw`\b(?:${MONTHS})\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}${ZONE}`, 'i'),
];

function normalise(found: string, reference: Date | undefined): Date | undefined {
  let text = found.trim().replace(/,/g, ' ').replace(/\s+at\s+/i, ' ').replace(/(\d)(st|nd|rd|th)\b/i, '$1').replace(/\s+/g, ' ');
  const slashIso = /^(\d{4})\/(\d{2})\/(\d{2})(.*)$/.exec(text);
  if (slashIso) text = `${slashIso[1]}-${slashIso[2]}-${slashIso[3]}${slashIso[4]}`;
  const clf = /^(\d{1,2})\/([A-Za-z]+)\/(\d{4}):(\d{2}:\d{2}:\d{2}) ([+-]\d{4})$/.exec(text);
  if (clf) return parseReportDate(`${clf[1]} ${clf[2]!.slice(0, 3)} ${clf[3]} ${clf[4]} ${clf[5]}`);
  const monthFirst = /^([A-Za-z]+)\.? (\d{1,2}) (\d{4}) (\d{1,2}:\d{2}(?::\d{2})?)(.*)$/.exec(text);
  if (monthFirst) return parseReportDate(`${monthFirst[2]} ${monthFirst[1]!.slice(0, 3)} ${monthFirst[3]} ${monthFirst[4]}${monthFirst[5]}`);
  const dayFirst = /^(?:[A-Za-z]{3} )?(\d{1,2}) ([A-Za-z]+)\.? (\d{4}) (\d{1,2}:\d{2}(?::\d{2})?)(.*)$/.exec(text);
  if (dayFirst) return parseReportDate(`${dayFirst[1]} ${dayFirst[2]!.slice(0, 3)} ${dayFirst[3]} ${dayFirst[4]}${dayFirst[5]}`);
  const syslog = /^([A-Za-z]{3}) (\d{1,2}) (\d{2}:\d{2}:\d{2})(.*)$/.exec(text);
  if (syslog) {
    const year = (reference ?? new Date()).getUTCFullYear();
    for (const y of [year, year - 1]) {
      const t = parseReportDate(`${syslog[2]} ${syslog[1]} ${y} ${syslog[3]}${syslog[4]}`);
      if (t && (!reference || t.getTime() <= reference.getTime() + 86_400_000)) return t;
    }
    return undefined;
  }
  return parseReportDate(text.replace(/^(\d{4}-\d{2}-\d{2}) (\d)/, '$1T$2').replace(/(\d) (UTC|GMT|Z)$/i, '$1$2').replace(/T(\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?) ?([+-]\d{2}:?\d{2}|[A-Za-z]{1,5})$/, 'T$1$2'));
}

/** The first time written in `text` that reads as a date, in UTC; undefined when none. */
export function findProseTime(text: string, reference?: Date): Date | undefined {
  let best: { at: number; time: Date } | undefined;
  for (const pattern of PATTERNS) {
    const m = pattern.exec(text);
    if (!m || (best && m.index >= best.at)) continue;
    const time = normalise(m[0], reference);
    if (time) best = { at: m.index, time };
  }
  return best?.time;
}
