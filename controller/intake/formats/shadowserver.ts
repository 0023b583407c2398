import { parseIp } from '../../../proto/runtime/cidr.js';
import { DEFAULT_INTAKE_LIMITS, isIntakeLimitError, type IntakeLimits } from '../limits.js';
import { parseReportDate } from '../parseReportDate.js';
import { readZip, type DecompressBudget } from '../readZip.js';
import { setSharedExcerpt } from '../sharedExcerpt.js';
import type { FormatParser, MessagePart, ParsedComplaint, ParsedMessage } from '../types.js';
import { csvRecords, readCsv } from './shadowserverCsv.js';
import { categoryOf, isVictimReport, offenderColumn, reportTypeFromFilename, reportTypeFromSubject } from './shadowserverReportType.js';

/** A column name longer than this is cut in excerpts: real ones are a few dozen characters. */
const EXCERPT_COLUMN_CHARS = 200;
/** Columns worth quoting as evidence, when the report has them (never addresses). */
const EVIDENCE_COLUMNS = ['protocol', 'port', 'src_port', 'dst_port', 'tag', 'infection', 'asn', 'src_asn', 'hostname', 'src_hostname'];

interface CsvFile {
  filename: string | undefined;
  text: string;
}

function isZip(part: MessagePart): boolean {
  return part.contentType === 'application/zip' || /\.zip$/i.test(part.filename ?? '') || (part.content[0] === 0x50 && part.content[1] === 0x4b);
}

/**
 * The CSV files of a message: CSV parts as they are, and the members of zip
 * parts, unzipped within the limits (IntakeLimitError past one).
 */
function csvFiles(message: ParsedMessage, limits: IntakeLimits): CsvFile[] {
  const files: CsvFile[] = [];
  const budget: DecompressBudget = { used: 0 };
  for (const part of message.parts) {
    if (isZip(part)) {
      try {
        for (const m of readZip(part.content, limits, budget, `zip ${part.filename ?? 'attachment'}`)) {
          files.push({ filename: m.name, text: Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength).toString('utf8') });
        }
      } catch (err) {
        if (isIntakeLimitError(err)) throw err;
        // A corrupt zip is not a report we can read; other parts may still be.
      }
    } else if (/^(text\/|application\/(csv|octet-stream|vnd\.ms-excel))/.test(part.contentType) || /\.csv$/i.test(part.filename ?? '')) {
      files.push({ filename: part.filename, text: part.content.toString('utf8') });
    }
  }
  return files;
}

function firstLine(text: string): string {
  const end = text.search(/\r|\n/);
  return end < 0 ? text : text.slice(0, end);
}

/** A header row is Shadowserver's when it has a `timestamp` column and an offender column (and is no longer than a line may be). */
function looksLikeShadowserver(text: string, limits: IntakeLimits): boolean {
  const line = firstLine(text);
  if (line.length > limits.lineLength) return false;
  const header = (readCsv(line)[0] ?? []).map((h) => h.trim().toLowerCase());
  return header.includes('timestamp') && offenderColumn(header) !== undefined;
}

function validIp(text: string): string | undefined {
  // Most junk is no address at all: say so without the cost of parseIp's exception (a million-row file has a million).
  if (!text.includes(':') && !/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(text)) return undefined;
  try {
    parseIp(text);
    return text;
  } catch {
    return undefined;
  }
}

/** One CSV record (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled. */
function csvRecord(fields: readonly string[]): string {
  return fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replace(/"/g, '""')}"` : f)).join(',');
}

/**
 * The head of the excerpts of rows with `width` fields: the header line cut to
 * the columns such a row has, long column names shortened. One string per
 * width, shared by every row of that width (sharedExcerpt), so a wide header
 * is not copied once per row.
 */
function excerptHeads(headerRow: readonly string[]): (width: number) => string {
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

function complaintsOf(file: CsvFile, message: ParsedMessage, limits: IntakeLimits): ParsedComplaint[] {
  const records = csvRecords(file.text, { rows: limits.rows, lineLength: limits.lineLength, where: `file ${file.filename ?? 'csv'}` });
  const first = records.next();
  const headerRow: string[] = first.done ? [] : first.value;
  const header = headerRow.map((h) => h.trim().toLowerCase());
  const ipColumn = offenderColumn(header);
  const type = reportTypeFromFilename(file.filename) ?? reportTypeFromSubject(message.subject);
  if (!ipColumn || isVictimReport(type)) return [];
  const col = (name: string): number => header.indexOf(name);
  const ipAt = col(ipColumn);
  const timeAt = col('timestamp');
  const infectionAt = col('infection');
  const tagAt = col('tag');
  const evidenceAt = EVIDENCE_COLUMNS.map((name) => [name, col(name)] as const).filter(([, at]) => at >= 0);
  const reporter = message.from ?? 'Shadowserver Foundation';
  const headOf = excerptHeads(headerRow);
  const out: ParsedComplaint[] = [];
  let index = 0;
  for (const row of records) {
    index++;
    const ip = validIp((row[ipAt] ?? '').trim());
    if (!ip) continue; // a row without a readable offender is no complaint
    const keys = evidenceAt.map(([name, at]) => [name, row[at]?.trim() ?? ''] as const).filter(([, v]) => v !== '');
    const complaint: ParsedComplaint = {
      ip,
      category: categoryOf(type, row[infectionAt] ?? '', row[tagAt] ?? ''),
      eventTime: parseReportDate(row[timeAt]),
      reporter,
      reporterKind: 'cert',
      format: 'shadowserver-csv',
      evidence: `${type ?? 'shadowserver'} ${file.filename ?? 'csv'} row ${index}: ${keys.map(([k, v]) => `${k}=${v}`).join(' ')}`.trim(),
    };
    // A feed lists a whole country's or network's offenders: the customer gets the header and their own row.
    out.push(setSharedExcerpt(complaint, headOf(row.length), `${csvRecord(row)}\r\n`));
  }
  return out;
}

/**
 * Shadowserver CSV reports: a bare CSV, a CSV attachment, or a zipped CSV
 * attachment; one complaint per row. Undefined when no part is a Shadowserver
 * CSV; [] when one is but no row names a readable offender. Throws nothing
 * but IntakeLimitError (a zip, a file or a record over `message.limits`).
 */
export const shadowserverParser: FormatParser = {
  name: 'shadowserver-csv',
  parse(message: ParsedMessage): ParsedComplaint[] | undefined {
    const limits = message.limits ?? DEFAULT_INTAKE_LIMITS;
    let files: CsvFile[];
    try {
      files = csvFiles(message, limits).filter((f) => looksLikeShadowserver(f.text, limits));
    } catch (err) {
      if (isIntakeLimitError(err)) throw err;
      return undefined;
    }
    if (files.length === 0) return undefined;
    const out: ParsedComplaint[] = [];
    for (const file of files) {
      try {
        for (const c of complaintsOf(file, message, limits)) out.push(c);
      } catch (err) {
        if (isIntakeLimitError(err)) throw err;
        // One unreadable file does not hide the complaints of the others.
      }
    }
    return out;
  },
};
