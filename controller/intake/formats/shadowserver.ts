import { DEFAULT_INTAKE_LIMITS, isIntakeLimitError, type IntakeLimits } from '../limits.js';
import { parseReportDate } from '../parseReportDate.js';
import { setSharedExcerpt } from '../sharedExcerpt.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { csvRecords, readCsv } from './csvRecords.js';
import { feedFiles, type FeedFile } from './feedFiles.js';
import { csvRecord, excerptHeads, feedIp } from './feedRows.js';
import { categoryOf, isVictimReport, offenderColumn, reportTypeFromFilename, reportTypeFromSubject } from './shadowserverReportType.js';

/** Columns worth quoting as evidence, when the report has them (never addresses). */
const EVIDENCE_COLUMNS = ['protocol', 'port', 'src_port', 'dst_port', 'tag', 'infection', 'asn', 'src_asn', 'hostname', 'src_hostname'];

function firstLine(text: string): string {
  const end = text.search(/\r|\n/);
  return end < 0 ? text : text.slice(0, end);
}

/** Report families Shadowserver names its files and subjects with. */
const SHADOWSERVER_FAMILY = /^(?:scan6?|event[46]|drone|sinkhole6?|honeypot|compromised|blocklist|device|ddos|amplification|ssl|caida|microsoft|botnet|darknet|open|accessible|vulnerable|cisco|special|population6?)_/;

/** Columns only Shadowserver's reports have (industry codes, its own source field), for a bare file that names no report type. */
const SIGNATURE_COLUMN = /^(?:src_|dst_)?(?:naics|sic|sector)$|^public_source$/;

/**
 * A file is Shadowserver's when its header row has a `timestamp` column and
 * an offender column (and is no longer than a line may be), and something
 * says it is Shadowserver's: its name or the subject names a report type,
 * the sender or subject is Shadowserver, or the header has Shadowserver's
 * own columns. Any other CSV is left to the generic feed reader, which
 * reads its type and category columns.
 */
function looksLikeShadowserver(file: FeedFile, message: ParsedMessage, limits: IntakeLimits): boolean {
  const line = firstLine(file.text);
  if (line.length > limits.lineLength) return false;
  const header = (readCsv(line)[0] ?? []).map((h) => h.trim().toLowerCase());
  if (!header.includes('timestamp') || offenderColumn(header) === undefined) return false;
  const fromName = reportTypeFromFilename(file.filename);
  // A dated name (Shadowserver's YYYY-MM-DD-<type>-…) or a type of its families; "abuse_report.csv" is no report type.
  const named = (fromName !== undefined && (/^(?:.*[\\/])?\d{4}-\d{2}-\d{2}-/.test(file.filename ?? '') || SHADOWSERVER_FAMILY.test(fromName))) || reportTypeFromSubject(message.subject) !== undefined;
  return named || /shadowserver/i.test(`${message.from ?? ''} ${message.subject}`) || header.some((h) => SIGNATURE_COLUMN.test(h));
}

function complaintsOf(file: FeedFile, message: ParsedMessage, limits: IntakeLimits): ParsedComplaint[] {
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
    const ip = feedIp(row[ipAt] ?? '');
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
    let files: FeedFile[];
    try {
      files = feedFiles(message, limits).filter((f) => looksLikeShadowserver(f, message, limits));
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
