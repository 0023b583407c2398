import { CordonError } from '../../proto/runtime/CordonError.js';
import { CATEGORIES, REPORTER_KINDS, type Complaint } from '../incidents/model.js';
import type { Database } from './Database.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export const COMPLAINT_STATUSES = ['linked', 'rejected', 'needs_info'] as const;
/** linked: part of an incident; rejected: not ours or unusable; needs_info: waits for an operator. */
export type ComplaintStatus = (typeof COMPLAINT_STATUSES)[number];

/** Where a complaint went. `incidentId` is set exactly when `status` is linked; the others need a reason. */
export interface ComplaintLink {
  incidentId: string | null;
  status: ComplaintStatus;
  reason?: string | undefined;
}

export interface StoredComplaint extends Complaint {
  incidentId: string | undefined;
  status: ComplaintStatus;
  reason: string | undefined;
}

interface ComplaintRow {
  id: string;
  received_at: number;
  event_time: number | null;
  ip: string;
  category: string;
  reporter: string;
  reporter_kind: string;
  raw: string;
  evidence: string;
  incident_id: string | null;
  status: string;
  reason: string | null;
}

const COLUMNS = 'id, received_at, event_time, ip, category, reporter, reporter_kind, raw, evidence, incident_id, status, reason';

/**
 * Received complaints. `raw` is stored as TEXT exactly as given (line
 * endings, trailing spaces, any Unicode) and a trigger forbids changing it.
 * Being a JS string, it is already decoded: intake must decode the bytes it
 * received (or keep a binary report base64-encoded) before it gets here.
 */
export class ComplaintsRepo {
  constructor(private readonly db: Database) {}

  /** Stores a complaint. `conflict` for a known id, `not_found` for a missing incident, `invalid` names a bad field. */
  async insert(complaint: Complaint, link: ComplaintLink): Promise<void> {
    const status = oneOf(link.status, COMPLAINT_STATUSES, 'status');
    if ((status === 'linked') !== (link.incidentId !== null)) {
      throw new CordonError('invalid', status === 'linked' ? 'a linked complaint names its incident' : `a ${status} complaint has no incident`, {
        field: 'incidentId',
      });
    }
    if (status !== 'linked') nonEmpty(link.reason, 'reason');
    if (typeof complaint.raw !== 'string') throw new CordonError('invalid', 'must be a string', { field: 'raw' });
    const params = [
      nonEmpty(complaint.id, 'id'),
      toEpochMs(complaint.receivedAt, 'receivedAt'),
      toEpochMs(complaint.eventTime, 'eventTime'),
      nonEmpty(complaint.ip, 'ip'),
      oneOf(complaint.category, CATEGORIES, 'category'),
      String(complaint.reporter),
      oneOf(complaint.reporterKind, REPORTER_KINDS, 'reporterKind'),
      complaint.raw,
      String(complaint.evidence),
      link.incidentId,
      status,
      link.reason ?? null,
    ];
    await this.db.transaction(async () => {
      if (await this.db.get('SELECT 1 FROM complaints WHERE id = ?', [complaint.id])) {
        throw new CordonError('conflict', `complaint ${complaint.id} already exists`, { field: 'id' });
      }
      if (link.incidentId !== null && !(await this.db.get('SELECT 1 FROM incidents WHERE id = ?', [link.incidentId]))) {
        throw new CordonError('not_found', `no incident ${link.incidentId}`, { field: 'incidentId' });
      }
      await this.db.run(`INSERT INTO complaints (${COLUMNS}) VALUES (${params.map(() => '?').join(', ')})`, params);
    });
  }

  async get(id: string): Promise<StoredComplaint | undefined> {
    const row = await this.db.get<ComplaintRow>(`SELECT ${COLUMNS} FROM complaints WHERE id = ?`, [id]);
    return row && fromRow(row);
  }

  /** The incident's complaints, oldest first. */
  async listByIncident(incidentId: string): Promise<StoredComplaint[]> {
    const rows = await this.db.all<ComplaintRow>(`SELECT ${COLUMNS} FROM complaints WHERE incident_id = ? ORDER BY received_at, id`, [incidentId]);
    return rows.map(fromRow);
  }
}

function fromRow(r: ComplaintRow): StoredComplaint {
  const where = (column: string) => `complaints[${r.id}].${column}`;
  return {
    id: r.id,
    receivedAt: new Date(r.received_at),
    eventTime: fromEpochMs(r.event_time),
    ip: r.ip,
    category: oneOf(r.category, CATEGORIES, where('category'), 'internal'),
    reporter: r.reporter,
    reporterKind: oneOf(r.reporter_kind, REPORTER_KINDS, where('reporter_kind'), 'internal'),
    raw: r.raw,
    evidence: r.evidence,
    incidentId: r.incident_id ?? undefined,
    status: oneOf(r.status, COMPLAINT_STATUSES, where('status'), 'internal'),
    reason: r.reason ?? undefined,
  };
}
