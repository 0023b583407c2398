import type { Category } from '../../incidents/model.js';
import { declineWith } from '../declineWith.js';
import { DEFAULT_INTAKE_LIMITS, isIntakeLimitError, type IntakeLimits } from '../limits.js';
import { setSharedExcerpt } from '../sharedExcerpt.js';
import type { FormatParser, ParsedComplaint, ParsedMessage } from '../types.js';
import { feedCategory } from './feedCategory.js';
import { hasOffenderColumn, roleColumns, type FeedKey, type RoleColumns } from './feedColumns.js';
import { feedFiles, type FeedFile } from './feedFiles.js';
import { readJsonFeed } from './feedJson.js';
import { csvRecord, excerptHeads, feedIp } from './feedRows.js';
import { addressOutsideTable, readFeedTable } from './feedTable.js';
import { feedTime } from './feedTime.js';

/**
 * Structured feeds of any provider — CSV with any of four delimiters, JSON,
 * JSON Lines, pipe- or tab-separated text with a (commented) header — read
 * by their column names (feedColumns), one complaint per row that names a
 * readable offender address:
 * - the offender: the best offender column of the row that holds one IP
 *   address; a row whose only address is under a destination, victim,
 *   sinkhole, C&C, server, honeypot, sensor or reporter name has none;
 *   failing any address column, the host of a URL column when it is an IP
 *   literal;
 * - the category: the row's type columns (feedCategory), else a malware
 *   family named in the row (an infected host: botnet), else the report's
 *   own (the feed's name, the file's name, the mail's subject), else
 *   'other' — no ladder, an operator decides;
 * - the event time: the row's time columns (feedTime), UTC unless the row
 *   has a zone column; none when the row states none (parseReport then
 *   takes the mail's Date: and marks it as the receipt time).
 * Undefined when no file of the message is such a feed; [] when one is but
 * no row names an offender. Throws nothing but IntakeLimitError.
 */

type Row = { keys: readonly FeedKey[]; values: readonly string[] };

/** Roles per key list: a CSV's header once, JSON records by their key sets. */
class RoleCache {
  private readonly byHeader = new WeakMap<readonly FeedKey[], RoleColumns>();
  private readonly bySignature = new Map<string, RoleColumns>();

  of(keys: readonly FeedKey[], shared: boolean): RoleColumns {
    if (shared) {
      let r = this.byHeader.get(keys);
      if (!r) this.byHeader.set(keys, (r = roleColumns(keys)));
      return r;
    }
    const signature = keys.map((k) => k.norm.join('.')).join('\u0000');
    let r = this.bySignature.get(signature);
    if (!r) {
      r = roleColumns(keys);
      if (this.bySignature.size < 1000) this.bySignature.set(signature, r);
    }
    return r;
  }
}

function first(row: Row, columns: readonly number[]): { at: number; value: string } | undefined {
  for (const at of columns) {
    const value = row.values[at]?.trim();
    if (value) return { at, value };
  }
  return undefined;
}

/** The offender of a row: its first offender column holding one IP, else an IP literal as a URL's host. */
function offenderOf(row: Row, roles: RoleColumns): string | undefined {
  for (const at of roles.offender) {
    const ip = feedIp(row.values[at] ?? '');
    if (ip) return ip;
  }
  for (const at of roles.url) {
    const host = URL_HOST.exec(row.values[at]?.trim() ?? '')?.[1];
    const ip = host ? feedIp(host) : undefined;
    if (ip) return ip;
  }
  return undefined;
}

function categoryOf(row: Row, roles: RoleColumns, reportCategory: Category | undefined): Category {
  for (const at of roles.type) {
    const c = feedCategory(row.values[at] ?? '');
    if (c) return c;
  }
  for (const at of roles.family) {
    const value = row.values[at]?.trim() ?? '';
    if (!value) continue;
    const c = feedCategory(value);
    if (c) return c;
    // A malware family named for a host (CERT-Bund's `malware`, Shadowserver's `infection`) is an infected host; a bare tag is not.
    if (!/^tags?$/.test(row.keys[at]!.norm.at(-1)!)) return 'botnet';
  }
  return reportCategory ?? 'other';
}

const DATE_ONLY = /^\d{4}[-/]\d{2}[-/]\d{2}$/;
const TIME_ONLY = /^\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?:Z|[+-]\d{2}:?\d{2}|[A-Za-z]{1,5}))?$/;

/** The row's event time: its best time column that reads as one, or a date column and a time-of-day column together. */
function timeOf(row: Row, roles: RoleColumns): Date | undefined {
  const zone = first(row, roles.zone)?.value;
  let day: string | undefined;
  let clock: string | undefined;
  for (const at of roles.time) {
    const value = row.values[at]?.trim() ?? '';
    if (DATE_ONLY.test(value)) day ??= value;
    else if (TIME_ONLY.test(value)) clock ??= value;
    else {
      const t = feedTime(value, zone);
      if (t) return t;
    }
    if (day && clock) return feedTime(`${day.replace(/\//g, '-')} ${clock}`, zone);
  }
  return day ? feedTime(day, zone) : undefined;
}

function evidenceOf(label: string, index: number, row: Row, roles: RoleColumns): string {
  const pick = (cols: readonly number[]): string[] => {
    const f = first(row, cols);
    return f ? [`${row.keys[f.at]!.name}=${f.value.slice(0, 200)}`] : [];
  };
  const parts = [...pick(roles.type), ...pick(roles.family), ...pick(roles.port), ...pick(roles.asn), ...pick(roles.hostname), ...pick(roles.url)];
  return `${label} row ${index}: ${parts.join(' ')}`.trim();
}

/** The report's own category: a feed name or type around the records, the file's name, the subject. */
function reportCategoryOf(file: FeedFile, message: ParsedMessage): Category | undefined {
  const name = file.filename?.replace(/^.*[\\/]/, '').replace(/(\.(csv|tsv|psv|txt|json|jsonl|ndjson|gz|zip))+$/i, '').replace(/[_.-]+/g, ' ');
  return (name ? feedCategory(name) : undefined) ?? feedCategory(message.subject);
}

interface Context {
  message: ParsedMessage;
  roles: RoleCache;
  reporter: string;
  reporterKind: ParsedComplaint['reporterKind'];
  /** Host names of rows without an address (at most three), to name in the needs_info reason. */
  hosts: Set<string>;
}

const URL_HOST = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]+\]|[^/:?#]+)/i;

/** A row without an address: remember the host it names instead, never resolved. */
function noteHost(ctx: Context, row: Row, roles: RoleColumns): void {
  if (ctx.hosts.size >= 3) return;
  const named = first(row, roles.hostname)?.value ?? URL_HOST.exec(first(row, roles.url)?.value ?? '')?.[1];
  if (named && /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(named)) ctx.hosts.add(named.toLowerCase());
}

function complaint(ctx: Context, row: Row, roles: RoleColumns, ip: string, format: string, evidence: string, reportCategory: Category | undefined): ParsedComplaint {
  return { ip, category: categoryOf(row, roles, reportCategory), eventTime: timeOf(row, roles), reporter: ctx.reporter, reporterKind: ctx.reporterKind, format, evidence };
}

/** Complaints of one file, or undefined when it is no feed. */
function readFile(file: FeedFile, ctx: Context, limits: IntakeLimits): ParsedComplaint[] | undefined {
  const label = file.filename ?? (file.body ? 'body' : 'file');
  const where = `file ${label}`;
  const reportCategory = reportCategoryOf(file, ctx.message);
  const json = readJsonFeed(file.text, limits, where);
  if (json) {
    const out: ParsedComplaint[] = [];
    json.records.forEach((r, i) => {
      const roles = ctx.roles.of(r.keys, false);
      const ip = offenderOf(r, roles);
      if (!ip) return noteHost(ctx, r, roles);
      const c = complaint(ctx, r, roles, ip, `feed-${json.kind}`, evidenceOf(label, i + 1, r, roles), reportCategory);
      c.excerpt = `${r.text}\n`;
      out.push(c);
    });
    // A JSON text none of whose records has an offender or URL key is not a feed (an X-ARF, a config, an API error).
    const isFeed = out.length > 0 || json.records.some((r) => hasOffenderColumn(r.keys));
    return isFeed ? out : undefined;
  }
  const table = readFeedTable(file.text, limits, where);
  if (!table || (file.body && addressOutsideTable(file.text, table))) return undefined;
  const roles = ctx.roles.of(table.keys, true);
  const headOf = excerptHeads(table.header);
  const out: ParsedComplaint[] = [];
  let index = 0;
  for (const values of table.rows) {
    index++;
    const row = { keys: table.keys, values };
    const ip = offenderOf(row, roles);
    if (!ip) {
      noteHost(ctx, row, roles); // a row without a readable offender is no complaint
      continue;
    }
    const c = complaint(ctx, row, roles, ip, 'feed-csv', evidenceOf(label, index, row, roles), reportCategory);
    // A feed lists many networks' offenders: the customer gets the header and their own row.
    out.push(setSharedExcerpt(c, headOf(values.length), `${csvRecord(values)}\r\n`));
  }
  return out;
}

export const feedParser: FormatParser = {
  name: 'feed',
  parse(message: ParsedMessage): ParsedComplaint[] | undefined {
    const limits = message.limits ?? DEFAULT_INTAKE_LIMITS;
    let files: FeedFile[];
    try {
      files = feedFiles(message, limits, true);
    } catch (err) {
      if (isIntakeLimitError(err)) throw err;
      return undefined;
    }
    const ctx: Context = { message, roles: new RoleCache(), reporter: message.from ?? 'unknown feed', reporterKind: message.from ? 'individual' : 'anonymous', hosts: new Set() };
    let found: ParsedComplaint[] | undefined;
    for (const file of files) {
      let complaints: ParsedComplaint[] | undefined;
      try {
        complaints = readFile(file, ctx, limits);
      } catch (err) {
        if (isIntakeLimitError(err)) throw err;
        continue; // one unreadable file does not hide the complaints of the others
      }
      // A mail body whose table names no address is left to the readers after this one (a notice in prose may label its offender).
      if (complaints === undefined || (file.body && complaints.length === 0)) continue;
      found ??= [];
      for (const c of complaints) found.push(c);
    }
    if (found?.length === 0 && ctx.hosts.size > 0) {
      return declineWith(`the feed's rows name ${[...ctx.hosts].join(', ')} and no IP address: a name is not resolved (it may point elsewhere now, or be shared)`);
    }
    return found;
  },
};
