import type { IntakeLimits } from '../limits.js';
import { feedIp } from './feedRows.js';
import { csvRecords, readCsv, type CsvDelimiter } from './csvRecords.js';
import { feedKey, hasOffenderColumn, type FeedKey } from './feedColumns.js';

/**
 * Delimited feeds: CSV (RFC 4180, quoted or not) and the same with a
 * semicolon, a tab or a pipe between fields. What makes text a table:
 * a header line whose fields are names (short, a few words each), at least
 * two of them, one an offender name of the vocabulary (feedColumns). The
 * header may be commented (`# ip|time|type`, `#fields ts src …`) and may
 * follow a few lines of prose (a mail body's greeting); comment lines
 * (`#`) are skipped everywhere. The delimiter is the one that splits the
 * header into the most such names.
 */

export interface FeedTable {
  delimiter: CsvDelimiter;
  /** The header's fields as written, for excerpts. */
  header: string[];
  keys: FeedKey[];
  /** The rows after the header, one at a time, within intake.limits.rows and lineLength. */
  rows: Generator<string[]>;
  /** Where the header line starts in the text, and where the rows start. */
  headerAt: number;
  rowsAt: number;
}

const DELIMITERS: readonly CsvDelimiter[] = [',', ';', '\t', '|'];
/** Lines looked at for a header: a mail's greeting and a feed's comment block are shorter than this. */
const HEADER_SEARCH_LINES = 60;

/** A field that can be a column name: a few words, no sentence. */
function isName(field: string): boolean {
  return field.length > 0 && field.length <= 64 && /^[\p{L}\p{N}_ .\-:/()&@[\]]+$/u.test(field) && field.split(/\s+/).length <= 4;
}

/** A line's fields with `d`, trimmed; a pipe table's outer pipes ("| ip | time |") give no empty first and last field. */
function fieldsOf(line: string, d: CsvDelimiter): string[] {
  let text = line;
  if (d === '|') text = text.replace(/^\s*\|/, '').replace(/\|\s*$/, '');
  return (readCsv(text, d)[0] ?? []).map((f) => f.trim());
}

/** The header of `line` when it is one: the delimiter, its fields and their keys. */
function headerOf(line: string): { delimiter: CsvDelimiter; header: string[]; keys: FeedKey[] } | undefined {
  // "#fields ts src" (Zeek-style) and "# ip|time": the comment mark and a "fields" label are no column.
  const text = line.replace(/^\s*#+\s*(?:fields\b[:\s]*)?/i, '');
  let best: { delimiter: CsvDelimiter; header: string[]; keys: FeedKey[] } | undefined;
  for (const d of DELIMITERS) {
    if (!text.includes(d)) continue;
    const header = fieldsOf(text, d);
    if (header.length < 2 || !header.every(isName)) continue;
    const keys = header.map((h) => feedKey([h]));
    if (!hasOffenderColumn(keys)) continue;
    if (!best || header.length > best.header.length) best = { delimiter: d, header, keys };
  }
  return best;
}

/** The records of `text` with `d`, comment lines and markdown rules ("|---|") left out. */
function* rowsOf(text: string, d: CsvDelimiter, limits: IntakeLimits, where: string): Generator<string[]> {
  for (const row of csvRecords(text, { rows: limits.rows, lineLength: limits.lineLength, where }, d)) {
    const first = row[0]?.trimStart() ?? '';
    if (first.startsWith('#')) continue;
    if (d === '|' && row.every((f) => /^\s*:?-*:?\s*$/.test(f))) continue;
    if (d === '|' && row.length > 1 && row[0]!.trim() === '' && row.at(-1)!.trim() === '') yield row.slice(1, -1).map((f) => f.trim());
    else yield row.map((f) => f.trim());
  }
}

/** A delimited feed in `text`, or undefined when no line near its top is a header. */
export function readFeedTable(text: string, limits: IntakeLimits, where: string): FeedTable | undefined {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (let n = 0; n < HEADER_SEARCH_LINES && start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    // Lines are bounded by readMessage (intake.limits.lineLength) before any parser runs; a longer one is no header.
    const found = line.length <= limits.lineLength ? headerOf(line) : undefined;
    if (found) return { ...found, rows: rowsOf(text.slice(end + 1), found.delimiter, limits, where), headerAt: start, rowsAt: end + 1 };
    start = end + 1;
  }
  return undefined;
}

/**
 * Whether text around the table — before its header, or lines after it
 * without the table's delimiter — names an address: then the text is a
 * notice written for people that holds a table, not a feed, and the notice
 * reader reads it whole (its prose may accuse other addresses, or name the
 * reporter's own). Comment lines do not count.
 */
export function addressOutsideTable(text: string, table: FeedTable): boolean {
  const prose = [text.slice(0, table.headerAt), ...text.slice(table.rowsAt).split(/\r?\n|\r/).filter((l) => !l.includes(table.delimiter))];
  for (const block of prose) {
    for (const line of block.split(/\r?\n|\r/)) {
      if (line.trimStart().startsWith('#')) continue;
      for (const token of line.split(/[\s,;()<>"'|]+/)) {
        if ((token.includes('.') || token.includes(':')) && feedIp(token.replace(/^\[|[\].:]+$/g, ''))) return true;
      }
    }
  }
  return false;
}
