import { IntakeLimitError } from '../limits.js';

/**
 * A small RFC 4180 CSV reader, for Shadowserver reports and every other
 * delimited feed: fields separated by commas (or, for the feeds that use
 * them, a semicolon, a tab or a pipe: `delimiter`), records by CRLF (LF and a lone CR are accepted too,
 * since reports pass through tools that rewrite line ends), fields optionally
 * enclosed in double quotes, and a quote inside a quoted field written as two
 * quotes (RFC 4180 §2, rules 5–7). A quoted field may hold commas and line
 * breaks.
 *
 * Lenient where RFC 4180 is silent or the input is broken, because a report
 * must never make intake throw: a missing closing quote takes the rest of the
 * input as the field, characters after a closing quote are kept, a leading
 * UTF-8 BOM is dropped, blank lines are skipped. Never throws, except
 * IntakeLimitError when `bounds` are given and a record or the record count
 * passes them.
 */

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/** The field separators a feed may use (RFC 4180 has only the comma). */
export type CsvDelimiter = ',' | ';' | '\t' | '|';

/** Index of the next separator, CR or LF at or after `from`, or text.length. */
function nextDelimiter(text: string, from: number, sep: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === sep || c === CR || c === LF) return i;
  }
  return text.length;
}

/** Bounds for one file: records (intake.limits.rows) and characters per record (intake.limits.lineLength). */
export interface CsvBounds {
  rows: number;
  lineLength: number;
  /** Named in the error: "file x.csv". */
  where: string;
}

/** The records of `text` one at a time, each its list of field values, so a large file is never held as rows all at once. */
export function* csvRecords(text: string, bounds?: CsvBounds, delimiter: CsvDelimiter = ','): Generator<string[]> {
  const sep = delimiter.charCodeAt(0);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (i >= n) return;
  let row: string[] = [];
  let rowStart = i;
  let count = 0;
  for (;;) {
    let value: string;
    if (text.charCodeAt(i) === QUOTE) {
      value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) {
          value += text.slice(j); // unterminated quote: the rest is the field
          i = n;
          break;
        }
        value += text.slice(j, q);
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += '"'; // RFC 4180 §2.7: "" inside a quoted field is one quote
          j = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const end = nextDelimiter(text, i, sep); // stray text after the closing quote: keep it
      value += text.slice(i, end);
      i = end;
    } else {
      const end = nextDelimiter(text, i, sep);
      value = text.slice(i, end);
      i = end;
    }
    row.push(value);
    if (bounds && i - rowStart > bounds.lineLength) throw new IntakeLimitError('lineLength', i - rowStart, bounds.lineLength, `${bounds.where}, record ${count + 1}`, true);
    const last = i >= n;
    if (!last && text.charCodeAt(i) === sep) {
      i++;
      continue;
    }
    if (!last) i += text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
    // A blank line reads as one empty field: RFC 4180 has no empty records, so drop it.
    if (!(row.length === 1 && row[0] === '')) {
      count++;
      if (bounds && count > bounds.rows) throw new IntakeLimitError('rows', count, bounds.rows, bounds.where, true);
      yield row;
    }
    row = [];
    rowStart = i;
    if (i >= n) return;
  }
}

/** Reads every record of `text`; each record is its list of field values. */
export function readCsv(text: string, delimiter: CsvDelimiter = ','): string[][] {
  return [...csvRecords(text, undefined, delimiter)];
}
