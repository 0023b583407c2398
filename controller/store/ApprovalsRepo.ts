import { CordonError } from '../../proto/runtime/CordonError.js';
import { storeJson, type Json } from './canonicalJson.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected'] as const;
/** The longest reason a rejection keeps, in characters (the schema's CHECK, migration 9). */
export const MAX_DECISION_REASON_CHARS = 2000;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export interface ApprovalRequest {
  id: string;
  requestedBy: string;
  at: Date;
  /** What would be done, as JSON data (e.g. an Action and its parameters). */
  action: unknown;
  /** The hosts it would touch; each must exist. */
  targets: string[];
  reason: string;
  /** When it lapses unless decided. */
  expiresAt?: Date | undefined;
  /** The one incident whose action it allows, when it is for one. */
  incidentId?: string | undefined;
  /** Why a second operator is needed. */
  why?: string | undefined;
}

export interface Approval {
  id: string;
  requestedBy: string;
  requestedAt: Date;
  action: Json;
  /** Sorted. */
  targets: string[];
  reason: string;
  status: ApprovalStatus;
  decidedBy: string | undefined;
  decidedAt: Date | undefined;
  expiresAt: Date | undefined;
  incidentId: string | undefined;
  why: string | undefined;
  /** Why it was rejected (or withdrawn), in the deciding operator's words; undefined unless rejected. */
  decisionReason: string | undefined;
}

interface ApprovalRow {
  id: string;
  requested_by: string;
  requested_at: number;
  action_json: string;
  reason: string;
  status: string;
  decided_by: string | null;
  decided_at: number | null;
  expires_at: number | null;
  incident_id: string | null;
  why: string | null;
  decision_reason: string | null;
}

/** The columns a request is created with; a decision's reason comes later. */
const COLUMNS = 'id, requested_by, requested_at, action_json, reason, status, decided_by, decided_at, expires_at, incident_id, why';
const READ_COLUMNS = `${COLUMNS}, decision_reason`;

/**
 * Actions that need a second operator (more than N hosts, a whole customer).
 * A request is decided once. Four eyes: whoever asked cannot approve, which
 * a CHECK constraint holds even against a caller that skips this class.
 */
export class ApprovalsRepo {
  constructor(private readonly db: SqlDatabase) {}

  /** Stores a pending request. `conflict` for a known id, `not_found` names a missing target host. */
  async create(request: ApprovalRequest): Promise<Approval> {
    const id = nonEmpty(request.id, 'id');
    const params = [
      id,
      nonEmpty(request.requestedBy, 'requestedBy'),
      toEpochMs(request.at, 'at'),
      storeJson(request.action, 'action'),
      nonEmpty(request.reason, 'reason'),
      toEpochMs(request.expiresAt, 'expiresAt'),
      request.incidentId ?? null,
      request.why ?? null,
    ];
    if (!Array.isArray(request.targets) || request.targets.length === 0) throw new CordonError('invalid', 'must name at least one host', { field: 'targets' });
    const targets = [...new Set(request.targets)].sort();
    return this.db.transaction(async () => {
      if (await this.db.get('SELECT 1 FROM approvals WHERE id = ?', [id])) throw new CordonError('conflict', `approval ${id} already exists`, { field: 'id' });
      for (const [i, host] of request.targets.entries()) {
        if (!(await this.db.get('SELECT 1 FROM hosts WHERE id = ?', [host]))) throw new CordonError('not_found', `no host ${host}`, { field: `targets[${i}]` });
      }
      await this.db.run(`INSERT INTO approvals (${COLUMNS}) VALUES (?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, ?, ?)`, params);
      for (const host of targets) await this.db.run('INSERT INTO approval_targets (approval_id, host_id) VALUES (?, ?)', [id, host]);
      return (await this.get(id))!;
    });
  }

  async get(id: string): Promise<Approval | undefined> {
    const row = await this.db.get<ApprovalRow>(`SELECT ${READ_COLUMNS} FROM approvals WHERE id = ?`, [id]);
    return row && this.withTargets(row);
  }

  /**
   * Approves a pending request. `permission` when `by` is the requester,
   * `conflict` when it is no longer pending, `not_found` for an unknown id.
   */
  approve(id: string, by: string, at: Date): Promise<Approval> {
    return this.decide(id, by, at, 'approved');
  }

  /**
   * Rejects (or, by the requester, withdraws) a pending request, keeping
   * `reason` for the requester and the desk. `invalid` naming `reason` when
   * it is blank or longer than MAX_DECISION_REASON_CHARS characters;
   * `conflict` when no longer pending.
   */
  async reject(id: string, by: string, at: Date, reason: string): Promise<Approval> {
    return this.decide(id, by, at, 'rejected', checkDecisionReason(reason));
  }

  /** Requests oldest first; only pending ones with `{ pending: true }`. */
  async list(filter: { pending?: boolean } = {}): Promise<Approval[]> {
    const rows = await this.db.all<ApprovalRow>(
      `SELECT ${READ_COLUMNS} FROM approvals ${filter.pending ? "WHERE status = 'pending'" : ''} ORDER BY requested_at, id`,
    );
    return Promise.all(rows.map((r) => this.withTargets(r)));
  }

  private decide(id: string, by: string, at: Date, status: 'approved' | 'rejected', reason: string | null = null): Promise<Approval> {
    nonEmpty(by, 'by');
    const when = toEpochMs(at, 'at');
    return this.db.transaction(async () => {
      const current = await this.get(id);
      if (!current) throw new CordonError('not_found', `no approval ${id}`, { field: 'id' });
      if (current.status !== 'pending') {
        throw new CordonError('conflict', `approval ${id} is already ${current.status} by ${current.decidedBy}`, { field: 'id' });
      }
      if (status === 'approved' && current.expiresAt && when >= current.expiresAt.getTime()) {
        throw new CordonError('conflict', `approval ${id} expired at ${current.expiresAt.toISOString()}; ask again`, { field: 'id' });
      }
      if (status === 'approved' && by === current.requestedBy) {
        throw new CordonError('permission', `${by} requested approval ${id} and cannot approve it; a second operator must`, { field: 'by' });
      }
      await this.db.run("UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, decision_reason = ? WHERE id = ? AND status = 'pending'", [status, by, when, reason, id]);
      return (await this.get(id))!;
    });
  }

  private async withTargets(r: ApprovalRow): Promise<Approval> {
    const targets = await this.db.all<{ host_id: string }>('SELECT host_id FROM approval_targets WHERE approval_id = ? ORDER BY host_id', [r.id]);
    return {
      id: r.id,
      requestedBy: r.requested_by,
      requestedAt: new Date(r.requested_at),
      action: JSON.parse(r.action_json) as Json,
      targets: targets.map((t) => t.host_id),
      reason: r.reason,
      status: oneOf(r.status, APPROVAL_STATUSES, `approvals[${r.id}].status`, 'internal'),
      decidedBy: r.decided_by ?? undefined,
      decidedAt: fromEpochMs(r.decided_at),
      expiresAt: fromEpochMs(r.expires_at),
      incidentId: r.incident_id ?? undefined,
      why: r.why ?? undefined,
      decisionReason: r.decision_reason ?? undefined,
    };
  }
}

/**
 * A rejection's reason as kept: trimmed, not blank, at most
 * MAX_DECISION_REASON_CHARS characters. Characters are counted as SQLite's
 * length() counts them (code points), so this check and the schema's CHECK
 * agree and the caller hears the field, never a constraint failure.
 */
export function checkDecisionReason(reason: unknown): string {
  const r = nonEmpty(reason, 'reason').trim();
  const chars = [...r].length;
  if (chars > MAX_DECISION_REASON_CHARS) throw new CordonError('invalid', `at most ${MAX_DECISION_REASON_CHARS} characters, got ${chars}`, { field: 'reason' });
  return r;
}
