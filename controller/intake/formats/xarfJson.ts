import type { ParsedComplaint, ParsedMessage } from '../types.js';
import { declineWith } from '../declineWith.js';
import { readIp, readUrlIp } from './arfIp.js';
import { sourceHost } from './sourceHost.js';
import { xarfCategory } from './xarfCategory.js';
import { readXarfDate } from './xarfDate.js';

type JsonRecord = Record<string, unknown>;

function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function first(...values: unknown[]): unknown {
  return values.find((v) => v !== undefined && v !== null && v !== '');
}

/**
 * Whether a parsed JSON value is one X-ARF report: xarf-spec v4 carries
 * `xarf_version`; abusix v1–v3 (and early v4 drafts) a `Report` object with
 * `ReporterInfo` or `Version`.
 */
export function isXarfJson(value: unknown): value is JsonRecord {
  if (!isRecord(value)) return false;
  if ('xarf_version' in value) return true;
  return isRecord(value.Report) && (isRecord(value.ReporterInfo) || 'Version' in value);
}

/** The X-ARF reports in a JSON document: one object, or an array of them (a batch). */
export function xarfJsonReports(doc: unknown): JsonRecord[] {
  return (Array.isArray(doc) ? doc : [doc]).filter(isXarfJson);
}

/**
 * Offender addresses: only the source fields — v1–v3 `SourceIp` or
 * `Source.IP`, v4 `source_identifier`. Destination/victim (`DestinationIp`,
 * `destination_ip`), C&C and reporter fields, and addresses inside samples or
 * evidence, are never read. A source URL counts only when its host is an IP
 * literal and no source address was given.
 */
function offenderIps(r: JsonRecord): string[] {
  const source = isRecord(r.Source) ? r.Source : undefined;
  const direct = [r.SourceIp, r.SourceIP, r.source_ip, r.source_identifier, source?.IP ?? source?.Ip ?? source?.ip, r.Source, r.source].flat();
  const urls = [r.SourceUrl, r.Url, r.url, r.source_url, source?.URL ?? source?.Url, r.source_identifier].flat();
  const ips: string[] = [];
  for (const ip of direct.map(readIp)) if (ip && !ips.includes(ip)) ips.push(ip);
  if (ips.length > 0) return ips;
  for (const ip of urls.map(readUrlIp)) if (ip && !ips.includes(ip)) ips.push(ip);
  return ips;
}

function reporterOf(doc: JsonRecord, message: ParsedMessage): string {
  const info = isRecord(doc.ReporterInfo) ? doc.ReporterInfo : {};
  const v4 = isRecord(doc.reporter) ? doc.reporter : {};
  const org = str(first(info.ReporterOrg, v4.org));
  const email = str(first(info.ReporterOrgEmail, info.ReporterContactEmail, v4.contact));
  if (org && email) return `${org} <${email}>`;
  return org ?? email ?? message.from?.replace(/"/g, '').trim() ?? 'unknown X-ARF reporter';
}

/** A short pointer: type, URL, the reporter's case/report id, a reference URL, first evidence hash, service/port. */
function evidenceOf(doc: JsonRecord, r: JsonRecord, type: string | undefined): string {
  const pointers = [`X-ARF ${type ?? 'report'}`];
  const url = str(first(r.SourceUrl, r.Url, r.url));
  if (url) pointers.push(url);
  const id = str(first(r.ReporterCaseID, r.ReportId, r.ReportID, doc.report_id));
  if (id) pointers.push(`report ${id}`);
  const notesUrl = /https?:\/\/[^\s"<>]+/.exec(str(r.ReporterNotes) ?? '')?.[0]?.replace(/[.,;)]+$/, '');
  if (notesUrl && notesUrl !== url) pointers.push(notesUrl);
  const samples = first(doc.evidence, r.Evidence, r.Samples, r.Attachment);
  const hash = Array.isArray(samples) ? samples.map((s) => (isRecord(s) ? str(first(s.hash, s.Hash)) : undefined)).find(Boolean) : undefined;
  if (hash) pointers.push(`evidence ${hash}`);
  const service = str(first(r.ServiceName, r.Service, doc.service));
  const port = str(first(r.SourcePort, doc.source_port, doc.service_port));
  if (service || port) pointers.push([service, port && `port ${port}`].filter(Boolean).join(' '));
  return pointers.join('; ').slice(0, 400);
}

/**
 * One complaint per offender address of one X-ARF JSON report (abusix
 * v1–v3: fields under `Report`; xarf-spec v4: flat, snake_case). [] when the
 * report names no source address (e.g. a URL on a host name).
 */
export function readXarfJson(doc: JsonRecord, message: ParsedMessage): ParsedComplaint[] {
  const r = isRecord(doc.Report) ? doc.Report : doc;
  const type = str(first(r.ReportType, doc.type));
  const category = xarfCategory(type, first(r.ReportClass, doc.category, doc.class));
  // v1–v3 Report.Date / v4 timestamp: when the abuse was seen.
  const eventTime = readXarfDate(first(r.Date, doc.timestamp, r.Timestamp, doc.Date));
  const reporter = reporterOf(doc, message);
  const evidence = evidenceOf(doc, r, type);
  const ips = offenderIps(r);
  if (ips.length === 0) {
    const source = isRecord(r.Source) ? r.Source : undefined;
    const host = [r.source_identifier, r.SourceUrl, r.Url, r.url, r.source_url, r.Domain, r.domain, source?.URL ?? source?.Url, r.Source, r.source].flat().map(sourceHost).find(Boolean);
    if (host) return declineWith(`X-ARF report names ${host} and no address: a name is not resolved (it may point elsewhere now, or be shared)`);
  }
  return ips.map((ip) => ({ ip, category, eventTime, reporter, reporterKind: 'cert', format: 'xarf-json', evidence }));
}
