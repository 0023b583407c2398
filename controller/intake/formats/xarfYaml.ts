import { parseDocument } from 'yaml';
import type { ParsedComplaint, ParsedMessage } from '../types.js';
import { declineWith } from '../declineWith.js';
import { readIp, readUrlIp } from './arfIp.js';
import { sourceHost } from './sourceHost.js';
import { xarfCategory } from './xarfCategory.js';
import { readXarfDate } from './xarfDate.js';

/** X-ARF 0.1/0.2 report fields, lower-cased names → text values. */
export type XarfYamlReport = Map<string, string>;

/** Fields of the 0.1/0.2 report part (x-arf.org schemas); the line reader keeps only these. */
const KNOWN = new Set([
  'reported-from', 'category', 'report-type', 'report-id', 'source', 'source-type', 'port', 'service',
  'date', 'version', 'user-agent', 'schema-url', 'attachment', 'occurrences', 'tlp', 'destination',
  'destination-type', 'domain',
]);

function toReport(entries: Iterable<[string, unknown]>): XarfYamlReport {
  const report: XarfYamlReport = new Map();
  for (const [key, value] of entries) {
    const name = key.toLowerCase();
    if (report.has(name)) continue;
    if (typeof value === 'string' || typeof value === 'number') report.set(name, String(value).trim().replace(/^'(.*)'$|^"(.*)"$/, '$1$2'));
  }
  return report;
}

/** Whether the fields look like an X-ARF report, not any text that happens to have a "Source:" line. */
function isReport(r: XarfYamlReport): boolean {
  return (r.has('source') || r.has('report-type')) && (r.has('reported-from') || r.has('schema-url') || r.has('category'));
}

/**
 * Reads the machine-readable part of an X-ARF 0.1/0.2 mail (the second MIME
 * part, `name="report.txt"`, a YAML document). YAML first; when that fails
 * or yields no map — a report folded into the body text between greeting
 * and evidence (X-XARF: PLAIN senders without a part name) — known
 * "Key: value" lines are read one by one. Never throws.
 */
export function readXarfYamlReport(text: string): XarfYamlReport | undefined {
  let doc: unknown;
  try {
    // parseDocument, not parse: errors are inspected rather than thrown, and
    // warnings (unknown tags in junk text) are not printed to the process.
    const parsed = parseDocument(text, { uniqueKeys: false });
    doc = parsed.errors.length === 0 ? parsed.toJS({ maxAliasCount: 10 }) : undefined;
  } catch {
    doc = undefined;
  }
  if (typeof doc === 'object' && doc !== null && !Array.isArray(doc)) {
    // pyxarf's YAML dump nests the report under machine_readable.
    const nested = (doc as Record<string, unknown>).machine_readable;
    const map = typeof nested === 'object' && nested !== null && !Array.isArray(nested) ? nested : doc;
    const report = toReport(Object.entries(map));
    if (isReport(report)) return report;
  }
  // Line by line, one block at a time: the report is one contiguous block of
  // fields, and a greeting or an evidence log (folded into the same text)
  // must not lend it a "Date:" or "Source:" line.
  for (const block of text.split(/\r?\n(?:\s*|---\s*)\r?\n/)) {
    const lines: [string, string][] = [];
    for (const m of block.matchAll(/^([A-Za-z-]+):[ \t]*(.*?)\s*$/gm)) {
      if (KNOWN.has(m[1]!.toLowerCase())) lines.push([m[1]!, m[2]!]);
    }
    const report = toReport(lines);
    if (isReport(report)) return report;
  }
  return undefined;
}

/**
 * One complaint from an X-ARF 0.1/0.2 report: the offender is `Source`
 * (Source-Type ipv4, ipv6, ip-address; a uri source only when its host is an
 * IP literal). [] when the source is no address.
 */
export function readXarfYaml(report: XarfYamlReport, message: ParsedMessage, evidenceFile: string | undefined): ParsedComplaint[] {
  const source = report.get('source');
  const ip = readIp(source) ?? readUrlIp(source);
  if (!ip) {
    const host = sourceHost(source) ?? sourceHost(report.get('domain'));
    return host ? declineWith(`X-ARF report names ${host} and no address: a name is not resolved (it may point elsewhere now, or be shared)`) : [];
  }
  const type = report.get('report-type');
  const pointers = [`X-ARF ${report.get('category') ?? ''}/${type ?? ''} report`];
  const id = report.get('report-id');
  if (id) pointers.push(`Report-ID ${id}`);
  if (source !== ip) pointers.push(`source ${source}`);
  const service = report.get('service');
  const port = report.get('port');
  if (service || port) pointers.push([service, port && `port ${port}`].filter(Boolean).join(' '));
  if (evidenceFile) pointers.push(`evidence ${evidenceFile}`);
  return [{
    ip,
    category: xarfCategory(type, report.get('category')),
    eventTime: readXarfDate(report.get('date')),
    reporter: report.get('reported-from') ?? message.from?.replace(/"/g, '').trim() ?? 'unknown X-ARF reporter',
    reporterKind: 'cert',
    format: 'xarf-yaml',
    evidence: pointers.join('; ').slice(0, 400),
  }];
}
