import { parseReportDate } from '../parseReportDate.js';

/**
 * Reads an X-ARF date field (0.2 `Date`, v1–v3 `Report.Date`, v4
 * `timestamp`) through parseReportDate. Two spellings seen from X-ARF tools
 * are first rewritten into ones it reads: epoch milliseconds, and pyxarf's
 * "Feb  3 2014 02:13:35 +0100" (month before day, no weekday).
 */
export function readXarfDate(value: unknown): Date | undefined {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : typeof value === 'string' ? value.trim() : '';
  if (!text) return undefined;
  if (/^\d{13}$/.test(text)) return parseReportDate(String(Math.floor(Number(text) / 1000)));
  const direct = parseReportDate(text);
  if (direct) return direct;
  const md = /^(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2}),?\s+(\d{4})\s+(\d{1,2}:\d{2}(?::\d{2})?)\s*(\S*)$/.exec(text);
  return md ? parseReportDate(`${md[2]} ${md[1]} ${md[3]} ${md[4]} ${md[5]}`.trim()) : undefined;
}
