import { parseReportDate } from '../parseReportDate.js';

/**
 * A feed's timestamp cell → UTC. Accepted:
 * - epoch seconds (9–10 digits, with a fraction or not) and milliseconds
 *   (12–13 digits), as text or as a JSON number;
 * - everything parseReportDate reads: ISO 8601 / RFC 3339, RFC 2822,
 *   "YYYY-MM-DD HH:MM:SS" with or without a zone;
 * - "YYYY/MM/DD HH:MM:SS" (the same with slashes).
 * A time without a zone is UTC unless the row has a zone column (`timezone`,
 * `tz`, `utc_offset`…): an offset ("+02:00", "-0500", "+2"), a name
 * parseReportDate knows (CET, PDT, UTC) or an IANA zone ("Europe/Berlin").
 * Day-first or month-first dates ("03/07/2021") are ambiguous and are not
 * read: undefined, never a guess.
 */

/** Epochs before 2000 or after 2100 are not event times (a count, a port, an id). */
const MIN_MS = Date.UTC(2000, 0, 1);
const MAX_MS = Date.UTC(2100, 0, 1);

function epoch(text: string): Date | undefined {
  const m = /^(\d{9,13})(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const digits = m[1]!.length;
  const ms = digits >= 12 ? Number(m[1]) : Number(`${m[1]}.${m[2] ?? '0'}`) * 1000;
  if (digits === 11 || ms < MIN_MS || ms >= MAX_MS) return undefined;
  return new Date(Math.round(ms));
}

/** An offset in minutes east of UTC for an IANA zone at (about) the given UTC time, or undefined. */
function ianaOffset(zone: string, utcGuess: number): number | undefined {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(new Date(utcGuess));
    const name = parts.find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (name === 'GMT') return 0;
    const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : undefined;
  } catch {
    return undefined;
  }
}

/** A zone cell as text parseReportDate appends: "+0200", "CET"; undefined when unreadable. */
function zoneSuffix(zone: string, localAsUtc: Date): string | undefined {
  const z = zone.trim();
  const num = /^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$/i.exec(z);
  if (num) return `${num[1]}${num[2]!.padStart(2, '0')}${num[3] ?? '00'}`;
  if (/^[A-Za-z]{1,5}$/.test(z)) return z.toUpperCase();
  if (/^[A-Za-z_]+\/[A-Za-z_/+-]+$/.test(z)) {
    // The offset at the local time read as if UTC is right except within hours of a change; checked once more at the corrected instant.
    let offset = ianaOffset(z, localAsUtc.getTime());
    if (offset === undefined) return undefined;
    offset = ianaOffset(z, localAsUtc.getTime() - offset * 60_000) ?? offset;
    const sign = offset < 0 ? '-' : '+';
    const abs = Math.abs(offset);
    return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
  }
  return undefined;
}

/** Whether a time text already says its zone (Z, an offset, a zone name after the time). */
function hasZone(text: string): boolean {
  return /(?:\d(?:Z|[+-]\d{2}:?\d{2})|\s[+-]\d{4}|\s[A-Za-z]{1,5}|\))\s*$/.test(text);
}

/** The event time of one cell, with the row's zone cell when it has one; undefined when unreadable. */
export function feedTime(value: string | number | undefined, zone?: string): Date | undefined {
  if (value === undefined) return undefined;
  let text = String(value).trim();
  if (text === '' || text.length > 64) return undefined;
  const e = epoch(text);
  if (e) return e;
  text = text.replace(/^(\d{4})\/(\d{2})\/(\d{2})/, '$1-$2-$3');
  if (zone && zone.trim() !== '' && !hasZone(text)) {
    const local = parseReportDate(text);
    if (!local) return undefined;
    const suffix = zoneSuffix(zone, local);
    return suffix === undefined ? undefined : parseReportDate(`${text} ${suffix}`);
  }
  return parseReportDate(text);
}
