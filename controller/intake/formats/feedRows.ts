import { formatIp, parseIp } from '../../../proto/runtime/cidr.js';

/**
 * What every feed reader (Shadowserver's and the generic one) does with a
 * row: read its offender address, and quote the row to its customer.
 */

/** A column name longer than this is cut in excerpts: real ones are a few dozen characters. */
const EXCERPT_COLUMN_CHARS = 200;

/**
 * `text` when it is one IP address; an IPv4 address with a port
 * ("192.0.2.1:443") or a bracketed IPv6 one ("[2001:db8::1]:443") gives
 * its address. IPv6 comes back in its canonical lower-case form (RFC 5952);
 * a range, a zone id or anything else is no address.
 */
export function feedIp(text: string): string | undefined {
  let t = text.trim();
  // Most junk is no address at all: say so without the cost of parseIp's exception (a million-row file has a million).
  if (!t.includes(':') && !/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(t)) return undefined;
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(t);
  const v6port = /^\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?$/.exec(t);
  if (v4port) t = v4port[1]!;
  else if (v6port) t = v6port[1]!;
  if (t.includes('%') || t.includes('/')) return undefined;
  try {
    const { family, value } = parseIp(t);
    return family === 4 ? t : formatIp(6, value);
  } catch {
    return undefined;
  }
}

/** One CSV record (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvRecord(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
}

/**
 * The head of the excerpts of rows with `width` fields: the header line cut to
 * the columns such a row has, long column names shortened. One string per
 * width, shared by every row of that width (sharedExcerpt), so a wide header
 * is not copied once per row.
 */
export function excerptHeads(headerRow: readonly string[]): (width: number) => string {
  const byWidth = new Map<number, string>();
  return (width) => {
    let head = byWidth.get(width);
    if (head === undefined) {
      head = `${csvRecord(headerRow.slice(0, Math.max(width, 1)).map((h) => (h.length > EXCERPT_COLUMN_CHARS ? h.slice(0, EXCERPT_COLUMN_CHARS) : h)))}\r\n`;
      byWidth.set(width, head);
    }
    return head;
  };
}
