import { unzipSync } from 'fflate';
import { parseIp } from '../../../proto/runtime/cidr.js';
import { parseReportDate } from '../parseReportDate.js';
import type { FormatParser, MessagePart, ParsedComplaint, ParsedMessage } from '../types.js';
import { readCsv } from './shadowserverCsv.js';
import { categoryOf, isVictimReport, offenderColumn, reportTypeFromFilename, reportTypeFromSubject } from './shadowserverReportType.js';

/** A zip member larger than this is not a report but a zip bomb: skip it. */
const MAX_UNZIPPED_BYTES = 512 * 1024 * 1024;
/** Columns worth quoting as evidence, when the report has them (never addresses). */
const EVIDENCE_COLUMNS = ['protocol', 'port', 'src_port', 'dst_port', 'tag', 'infection', 'asn', 'src_asn', 'hostname', 'src_hostname'];

interface CsvFile {
  filename: string | undefined;
  text: string;
}

function isZip(part: MessagePart): boolean {
  return part.contentType === 'application/zip' || /\.zip$/i.test(part.filename ?? '') || (part.content[0] === 0x50 && part.content[1] === 0x4b);
}

/** The CSV files of a message: CSV parts as they are, and the .csv members of zip parts. */
function csvFiles(message: ParsedMessage): CsvFile[] {
  const files: CsvFile[] = [];
  for (const part of message.parts) {
    if (isZip(part)) {
      try {
        const members = unzipSync(new Uint8Array(part.content), { filter: (f) => f.originalSize <= MAX_UNZIPPED_BYTES && !/\/$/.test(f.name) });
        for (const [name, bytes] of Object.entries(members)) files.push({ filename: name, text: Buffer.from(bytes).toString('utf8') });
      } catch {
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

/** A header row is Shadowserver's when it has a `timestamp` column and an offender column. */
function looksLikeShadowserver(text: string): boolean {
  const header = (readCsv(firstLine(text))[0] ?? []).map((h) => h.trim().toLowerCase());
  return header.includes('timestamp') && offenderColumn(header) !== undefined;
}

function validIp(text: string): string | undefined {
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

function complaintsOf(file: CsvFile, message: ParsedMessage): ParsedComplaint[] {
  const [headerRow, ...rows] = readCsv(file.text);
  const header = (headerRow ?? []).map((h) => h.trim().toLowerCase());
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
  const out: ParsedComplaint[] = [];
  rows.forEach((row, index) => {
    const ip = validIp((row[ipAt] ?? '').trim());
    if (!ip) return; // a row without a readable offender is no complaint
    const keys = evidenceAt.map(([name, at]) => [name, row[at]?.trim() ?? ''] as const).filter(([, v]) => v !== '');
    out.push({
      ip,
      category: categoryOf(type, row[infectionAt] ?? '', row[tagAt] ?? ''),
      eventTime: parseReportDate(row[timeAt]),
      reporter,
      reporterKind: 'cert',
      format: 'shadowserver-csv',
      evidence: `${type ?? 'shadowserver'} ${file.filename ?? 'csv'} row ${index + 1}: ${keys.map(([k, v]) => `${k}=${v}`).join(' ')}`.trim(),
      // A feed lists a whole country's or network's offenders: the customer gets the header and their own row.
      excerpt: `${csvRecord(headerRow ?? [])}\r\n${csvRecord(row)}\r\n`,
    });
  });
  return out;
}

/**
 * Shadowserver CSV reports: a bare CSV, a CSV attachment, or a zipped CSV
 * attachment; one complaint per row. Undefined when no part is a Shadowserver
 * CSV; [] when one is but no row names a readable offender. Never throws.
 */
export const shadowserverParser: FormatParser = {
  name: 'shadowserver-csv',
  parse(message: ParsedMessage): ParsedComplaint[] | undefined {
    let files: CsvFile[];
    try {
      files = csvFiles(message).filter((f) => looksLikeShadowserver(f.text));
    } catch {
      return undefined;
    }
    if (files.length === 0) return undefined;
    const out: ParsedComplaint[] = [];
    for (const file of files) {
      try {
        out.push(...complaintsOf(file, message));
      } catch {
        // One unreadable file does not hide the complaints of the others.
      }
    }
    return out;
  },
};
