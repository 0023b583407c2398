import { CordonError, isCordonError } from '../../proto/runtime/CordonError.js';
import { CATEGORIES, EVENT_TIME_SOURCES, REPORTER_KINDS, type Complaint } from '../incidents/model.js';
import { BLOB_MIN_CHARS, Blobs } from './Blobs.js';
import type { SqlDatabase, SqlValue } from './SqlDatabase.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export const COMPLAINT_STATUSES = ['linked', 'rejected', 'needs_info', 'duplicate', 'held'] as const;
/**
 * linked: part of an incident; rejected: not ours or unusable; needs_info: waits for an operator;
 * duplicate: a re-sent copy of an earlier complaint (duplicateOf), which opens nothing;
 * held: about an event older than the host's last closed incident of its category, waits for an operator.
 */
export type ComplaintStatus = (typeof COMPLAINT_STATUSES)[number];

/** Where a complaint went. `incidentId` is set exactly when `status` is linked; the others need a reason. */
export interface ComplaintLink {
  incidentId: string | null;
  status: ComplaintStatus;
  reason?: string | undefined;
  /** For a duplicate: the complaint it repeats (its incident, if any, is incidentId). */
  duplicateOf?: string | undefined;
}

export interface StoredComplaint extends Complaint {
  incidentId: string | undefined;
  status: ComplaintStatus;
  reason: string | undefined;
  duplicateOf: string | undefined;
}

/** The complaint a re-sent one repeats, and what matched. */
export interface DuplicateRef {
  id: string;
  incidentId: string | undefined;
  by: 'message_id' | 'original_message_id' | 'fingerprint';
}

interface DuplicateRow {
  id: string;
  incident_id: string | null;
  ip: string;
  category: string;
  message_id: string | null;
  original_message_id: string | null;
  fingerprint: string | null;
  trusted: number;
}

/** What identifies a re-sent complaint (see IncidentService: any one match is enough). */
export interface DuplicateKey {
  ip: string;
  category: string;
  messageId?: string | undefined;
  originalMessageId?: string | undefined;
  fingerprint?: string | undefined;
  /** A trusted complaint repeats only a trusted one: an unsigned copy sent first must not shelve the signed report. */
  trusted?: boolean | undefined;
}

/** A `complaints` row as SELECT_COLUMNS reads it (`raw` already joined from `blobs`). */
export interface ComplaintRow {
  id: string;
  received_at: number;
  event_time: number | null;
  event_time_source: string;
  ip: string;
  category: string;
  reporter: string;
  reporter_kind: string;
  raw: string;
  evidence: string;
  incident_id: string | null;
  status: string;
  reason: string | null;
  excerpt: string | null;
  trusted: number;
  reporter_id: string | null;
  auth_json: string;
  message_id: string | null;
  original_message_id: string | null;
  fingerprint: string | null;
  duplicate_of: string | null;
  reply_to: string | null;
}

const INSERT_COLUMNS =
  'id, received_at, event_time, ip, category, reporter, reporter_kind, raw, raw_sha256, evidence, incident_id, status, reason, excerpt, ' +
  'trusted, reporter_id, auth_json, message_id, original_message_id, fingerprint, duplicate_of, reply_to, event_time_source';
const INSERT_PARAMS = INSERT_COLUMNS.split(',').length;
/** A raw text stored as a blob reads back through the join. */
const SELECT_COLUMNS =
  'c.id, c.received_at, c.event_time, c.ip, c.category, c.reporter, c.reporter_kind, COALESCE(b.text, c.raw) AS raw, c.evidence, c.incident_id, c.status, c.reason, c.excerpt, ' +
  'c.trusted, c.reporter_id, c.auth_json, c.message_id, c.original_message_id, c.fingerprint, c.duplicate_of, c.reply_to, c.event_time_source';
const FROM = 'complaints c LEFT JOIN blobs b ON b.sha256 = c.raw_sha256';
/** Rows per INSERT statement: 23 parameters each, well under SQLite's 32,766. */
const ROWS_PER_INSERT = 500;

/**
 * Received complaints. `raw` is kept exactly as given (line endings,
 * trailing spaces, any Unicode) and triggers forbid changing it; a raw text
 * of BLOB_MIN_CHARS or more is stored once in `blobs` however many
 * complaints share it (one report, many offenders), and reads back the same.
 * Being a JS string, it is already decoded: intake must decode the bytes it
 * received (or keep a binary report base64-encoded) before it gets here.
 */
export class ComplaintsRepo {
  private readonly blobs: Blobs;

  constructor(private readonly db: SqlDatabase) {
    this.blobs = new Blobs(db);
  }

  /** Stores a complaint. `conflict` for a known id, `not_found` for a missing incident, `invalid` names a bad field. */
  async insert(complaint: Complaint, link: ComplaintLink): Promise<void> {
    await this.insertMany([{ complaint, link }]);
  }

  /**
   * Stores complaints, all or none, with as few statements as it can: the
   * intake path of a report with thousands of offenders. Errors as `insert`,
   * for the first complaint at fault; fields are named as in `insert`.
   */
  async insertMany(list: readonly { complaint: Complaint; link: ComplaintLink }[]): Promise<void> {
    const rows = list.map(({ complaint, link }) => checked(complaint, link));
    if (rows.length === 0) return;
    // One INSERT is atomic by itself; a blob stored for a refused row is harmless (shared, append-only).
    const atomically = rows.length > ROWS_PER_INSERT ? <T>(fn: () => Promise<T>) => this.db.transaction(fn) : <T>(fn: () => Promise<T>) => fn();
    await atomically(async () => {
      for (const row of rows) {
        const raw = row[7] as string;
        if (raw.length >= BLOB_MIN_CHARS) {
          row[8] = await this.blobs.put(raw);
          row[7] = '';
        }
      }
      try {
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          const slice = rows.slice(i, i + ROWS_PER_INSERT);
          const one = `(${Array(INSERT_PARAMS).fill('?').join(', ')})`;
          await this.db.run(`INSERT INTO complaints (${INSERT_COLUMNS}) VALUES ${Array(slice.length).fill(one).join(', ')}`, slice.flat());
        }
      } catch (err) {
        // The constraints refused something: say what, in the words `insert` always used.
        if (!isCordonError(err, 'conflict')) throw err;
        throw (await this.diagnose(list)) ?? err;
      }
    });
  }

  async get(id: string): Promise<StoredComplaint | undefined> {
    const row = await this.db.get<ComplaintRow>(`SELECT ${SELECT_COLUMNS} FROM ${FROM} WHERE c.id = ?`, [id]);
    return row && complaintFromRow(row);
  }

  /** The incident's complaints, oldest first. */
  async listByIncident(incidentId: string): Promise<StoredComplaint[]> {
    const rows = await this.db.all<ComplaintRow>(`SELECT ${SELECT_COLUMNS} FROM ${FROM} WHERE c.incident_id = ? ORDER BY c.received_at, c.id`, [incidentId]);
    return rows.map(complaintFromRow);
  }

  /**
   * The latest `limit` complaints of an incident, oldest first, without the
   * raw report (`raw` is '' and `authentication` {}): what a page listing
   * them needs, at a fraction of the cost of a report that may be megabytes.
   */
  async summariesByIncident(incidentId: string, limit: number): Promise<StoredComplaint[]> {
    const columns = SELECT_COLUMNS.replace('COALESCE(b.text, c.raw) AS raw', "'' AS raw").replace('c.auth_json', "'{}' AS auth_json");
    const rows = await this.db.all<ComplaintRow>(
      `SELECT * FROM (SELECT ${columns} FROM complaints c WHERE c.incident_id = ? ORDER BY c.received_at DESC, c.id DESC LIMIT ?) AS newest ORDER BY received_at, id`,
      [incidentId, limit],
    );
    return rows.map(complaintFromRow);
  }

  /**
   * For each key, the earliest complaint it repeats, if any: the same report
   * (Message-ID) or the same quoted original about the same address and
   * category, or the same fingerprint. Duplicates, rejected and needs_info
   * complaints are never returned: a copy links to the first that counted.
   * One query for the whole list (a report's chunk), reading only keys.
   */
  async findDuplicates(keys: readonly DuplicateKey[]): Promise<(DuplicateRef | undefined)[]> {
    const ids = [...new Set(keys.map((k) => k.messageId).filter((x): x is string => !!x))];
    const originals = [...new Set(keys.map((k) => k.originalMessageId).filter((x): x is string => !!x))];
    const prints = [...new Set(keys.map((k) => k.fingerprint).filter((x): x is string => !!x))];
    const ips = [...new Set(keys.map((k) => k.ip))];
    const or: string[] = [];
    const params: SqlValue[] = [];
    const list = (n: number) => Array(n).fill('?').join(', ');
    if (ids.length) {
      or.push(`(message_id IN (${list(ids.length)}) AND ip IN (${list(ips.length)}))`);
      params.push(...ids, ...ips);
    }
    if (originals.length) {
      or.push(`(original_message_id IN (${list(originals.length)}) AND ip IN (${list(ips.length)}))`);
      params.push(...originals, ...ips);
    }
    if (prints.length) {
      or.push(`fingerprint IN (${list(prints.length)})`);
      params.push(...prints);
    }
    if (or.length === 0) return keys.map(() => undefined);
    const rows = await this.db.all<DuplicateRow>(
      `SELECT id, incident_id, ip, category, message_id, original_message_id, fingerprint, trusted FROM complaints
       WHERE status NOT IN ('duplicate', 'rejected', 'needs_info') AND (${or.join(' OR ')}) ORDER BY received_at, id`,
      params,
    );
    return keys.map((k) => {
      const counts = (r: DuplicateRow) => !k.trusted || r.trusted === 1;
      const same = (r: DuplicateRow) => r.ip === k.ip && r.category === k.category && counts(r);
      const hit =
        (k.messageId && rows.find((r) => r.message_id === k.messageId && same(r))) ||
        (k.originalMessageId && rows.find((r) => r.original_message_id === k.originalMessageId && same(r))) ||
        (k.fingerprint && rows.find((r) => r.fingerprint === k.fingerprint && counts(r)));
      if (!hit) return undefined;
      const by = k.messageId && hit.message_id === k.messageId ? 'message_id' : k.originalMessageId && hit.original_message_id === k.originalMessageId ? 'original_message_id' : 'fingerprint';
      return { id: hit.id, incidentId: hit.incident_id ?? undefined, by };
    });
  }

  /**
   * The first complaint kept for an operator (needs_info) with this
   * Message-ID, from this reporter, about this address: what a detector's
   * retry or a re-delivered mail repeats. findDuplicates never returns
   * needs_info complaints (a copy links to the first that counted); without
   * this, each retry would queue the same question for an operator again.
   * A trusted complaint repeats only a trusted one, as in findDuplicates:
   * a forgery sent first with the same Message-ID and From cannot hide the
   * genuine report behind it.
   */
  async findNeedsInfoRepeat(k: { messageId: string; reporter: string; ip: string; trusted: boolean }): Promise<string | undefined> {
    const row = await this.db.get<{ id: string }>(
      `SELECT id FROM complaints WHERE message_id = ? AND ip = ? AND status = 'needs_info' AND reporter = ?${k.trusted ? ' AND trusted = 1' : ''} ORDER BY received_at, id LIMIT 1`,
      [k.messageId, k.ip, k.reporter],
    );
    return row?.id;
  }

  /** Complaints by status (and host, through its incident or its address's match), newest first. */
  async listByStatus(status: ComplaintStatus, limit = 200): Promise<StoredComplaint[]> {
    oneOf(status, COMPLAINT_STATUSES, 'status');
    const rows = await this.db.all<ComplaintRow>(`SELECT ${SELECT_COLUMNS} FROM ${FROM} WHERE c.status = ? ORDER BY c.received_at DESC, c.id LIMIT ?`, [status, limit]);
    return rows.map(complaintFromRow);
  }

  /** Moves a held complaint on, once an operator decided: linked to an incident, or rejected with the reason. */
  async resolveHeld(id: string, link: { incidentId: string | null; status: 'linked' | 'rejected'; reason?: string }): Promise<void> {
    const done = await this.db.run("UPDATE complaints SET status = ?, incident_id = ?, reason = ? WHERE id = ? AND status = 'held'", [
      link.status,
      link.incidentId,
      link.reason ?? null,
      id,
    ]);
    if (done.changes !== 1) throw new CordonError('conflict', `complaint ${id} is not held`, { field: 'complaintId' });
  }

  /** The first complaint the store refused, as a named error (the batch's own duplicates included); undefined if none explains it. */
  private async diagnose(list: readonly { complaint: Complaint; link: ComplaintLink }[]): Promise<CordonError | undefined> {
    const ids = new Set<string>();
    for (const { complaint, link } of list) {
      if (ids.has(complaint.id) || (await this.db.get('SELECT 1 FROM complaints WHERE id = ?', [complaint.id]))) {
        return new CordonError('conflict', `complaint ${complaint.id} already exists`, { field: 'id' });
      }
      ids.add(complaint.id);
      if (link.incidentId !== null && !(await this.db.get('SELECT 1 FROM incidents WHERE id = ?', [link.incidentId]))) {
        return new CordonError('not_found', `no incident ${link.incidentId}`, { field: 'incidentId' });
      }
    }
    return undefined;
  }

  /** How many complaints have each of these statuses (absent: none); a range of complaints_by_status each. */
  async countByStatus(statuses: readonly ComplaintStatus[]): Promise<Map<ComplaintStatus, number>> {
    const list = statuses.map((s) => oneOf(s, COMPLAINT_STATUSES, 'statuses'));
    if (list.length === 0) return new Map();
    const rows = await this.db.all<{ status: ComplaintStatus; n: number }>(
      `SELECT status, COUNT(*) AS n FROM complaints WHERE status IN (${list.map(() => '?').join(', ')}) GROUP BY status`,
      list,
    );
    return new Map(rows.map((r) => [r.status, r.n]));
  }
}

/** The INSERT parameters of one complaint (raw_sha256 still null), validated. */
function checked(complaint: Complaint, link: ComplaintLink): SqlValue[] {
  const status = oneOf(link.status, COMPLAINT_STATUSES, 'status');
  if (status === 'duplicate') nonEmpty(link.duplicateOf, 'duplicateOf');
  else if ((status === 'linked') !== (link.incidentId !== null)) {
    throw new CordonError('invalid', status === 'linked' ? 'a linked complaint names its incident' : `a ${status} complaint has no incident`, {
      field: 'incidentId',
    });
  }
  if (status !== 'linked') nonEmpty(link.reason, 'reason');
  if (typeof complaint.raw !== 'string') throw new CordonError('invalid', 'must be a string', { field: 'raw' });
  if (complaint.excerpt !== undefined && typeof complaint.excerpt !== 'string') throw new CordonError('invalid', 'must be a string', { field: 'excerpt' });
  return [
    nonEmpty(complaint.id, 'id'),
    toEpochMs(complaint.receivedAt, 'receivedAt'),
    toEpochMs(complaint.eventTime, 'eventTime'),
    nonEmpty(complaint.ip, 'ip'),
    oneOf(complaint.category, CATEGORIES, 'category'),
    String(complaint.reporter),
    oneOf(complaint.reporterKind, REPORTER_KINDS, 'reporterKind'),
    complaint.raw,
    null,
    String(complaint.evidence),
    link.incidentId,
    status,
    link.reason ?? null,
    complaint.excerpt ?? null,
    complaint.trusted ? 1 : 0,
    complaint.reporterId ?? null,
    JSON.stringify(complaint.authentication ?? {}),
    complaint.messageId ?? null,
    complaint.originalMessageId ?? null,
    complaint.fingerprint ?? null,
    status === 'duplicate' ? link.duplicateOf! : null,
    complaint.replyTo ?? null,
    oneOf(complaint.eventTimeSource ?? 'report', EVENT_TIME_SOURCES, 'eventTimeSource'),
  ];
}

/** A stored complaint from its row; a value outside its domain is an `internal` error naming the row and column. */
export function complaintFromRow(r: ComplaintRow): StoredComplaint {
  const where = (column: string) => `complaints[${r.id}].${column}`;
  return {
    id: r.id,
    receivedAt: new Date(r.received_at),
    eventTime: fromEpochMs(r.event_time),
    eventTimeSource: oneOf(r.event_time_source, EVENT_TIME_SOURCES, where('event_time_source'), 'internal'),
    ip: r.ip,
    category: oneOf(r.category, CATEGORIES, where('category'), 'internal'),
    reporter: r.reporter,
    reporterKind: oneOf(r.reporter_kind, REPORTER_KINDS, where('reporter_kind'), 'internal'),
    raw: r.raw,
    evidence: r.evidence,
    incidentId: r.incident_id ?? undefined,
    status: oneOf(r.status, COMPLAINT_STATUSES, where('status'), 'internal'),
    reason: r.reason ?? undefined,
    excerpt: r.excerpt ?? undefined,
    trusted: r.trusted === 1,
    reporterId: r.reporter_id ?? undefined,
    authentication: JSON.parse(r.auth_json) as unknown,
    messageId: r.message_id ?? undefined,
    originalMessageId: r.original_message_id ?? undefined,
    fingerprint: r.fingerprint ?? undefined,
    duplicateOf: r.duplicate_of ?? undefined,
    ...(r.reply_to ? { replyTo: r.reply_to } : {}),
  };
}
