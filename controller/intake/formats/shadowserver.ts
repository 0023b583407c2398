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

/** A header row is Shadowserver's when it has a `timestamp` column and an offender column (and is no longer than a line may be). */
function looksLikeShadowserver(text: string, limits: IntakeLimits): boolean {
  const line = firstLine(text);
  if (line.length > limits.lineLength) return false;
  const header = (readCsv(line)[0] ?? []).map((h) => h.trim().toLowerCase());
  return header.includes('timestamp') && offenderColumn(header) !== undefined;
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
      files = feedFiles(message, limits).filter((f) => looksLikeShadowserver(f.text, limits));
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
