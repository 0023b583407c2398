import { CordonError } from '../../proto/runtime/CordonError.js';
import type { SqlDatabase } from './SqlDatabase.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';
import { jsonTextList } from './sqlDialect.js';

export const REVIEW_STATUSES = ['open', 'confirmed', 'declined'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];

export interface TerminationReview {
  id: string;
  customerId: string;
  flaggedAt: Date;
  /** The established incidents that made it, oldest first. */
  incidentIds: string[];
  status: ReviewStatus;
  decidedBy: string | undefined;
  decidedAt: Date | undefined;
  reason: string | undefined;
}

interface Row {
  id: string;
  customer_id: string;
  flagged_at: number;
  incidents_json: string;
  status: string;
  decided_by: string | null;
  decided_at: number | null;
  reason: string | null;
}

const COLUMNS = 'id, customer_id, flagged_at, incidents_json, status, decided_by, decided_at, reason';

/**
 * Recidivism flags for an operator. A review is a flag, not a verdict: the
 * customer hears of it (the migration notice) only when an operator
 * confirms it. One open review per customer; a further established incident
 * while one is open joins it.
 */
export class TerminationReviewsRepo {
  constructor(private readonly db: SqlDatabase) {}

  /** Opens a review for the customer, or adds the incidents to the one already open. Returns it. */
  async flag(id: string, customerId: string, incidentIds: readonly string[], at: Date): Promise<TerminationReview> {
    nonEmpty(customerId, 'customerId');
    const open = await this.db.get<Row>(`SELECT ${COLUMNS} FROM termination_reviews WHERE customer_id = ? AND status = 'open'`, [customerId]);
    if (open) {
      // What the review counted before and still counts: an incident dismissed since no longer weighs against the customer.
      const before = JSON.parse(open.incidents_json) as string[];
      const still = await this.db.all<{ id: string }>(`SELECT id FROM incidents WHERE established = 1 AND id IN (${jsonTextList(this.db.dialect)})`, [JSON.stringify(before)]);
      const kept = new Set(still.map((r) => r.id));
      const merged = [...new Set([...before.filter((id) => kept.has(id)), ...incidentIds])];
      await this.db.run('UPDATE termination_reviews SET incidents_json = ? WHERE id = ?', [JSON.stringify(merged), open.id]);
      return (await this.get(open.id))!;
    }
    await this.db.run(`INSERT INTO termination_reviews (${COLUMNS}) VALUES (?, ?, ?, ?, 'open', NULL, NULL, NULL)`, [
      nonEmpty(id, 'id'),
      customerId,
      toEpochMs(at, 'at'),
      JSON.stringify([...incidentIds]),
    ]);
    return (await this.get(id))!;
  }

  /**
   * Takes an incident that no longer counts (dismissed) out of its
   * customer's open review; the review stays open for an operator to
   * decline, now listing only what still counts. Returns the review when it
   * listed the incident, undefined otherwise. A decided review is history
   * and is left as it was decided.
   */
  async withdraw(customerId: string, incidentId: string): Promise<TerminationReview | undefined> {
    const open = await this.db.get<Row>(`SELECT ${COLUMNS} FROM termination_reviews WHERE customer_id = ? AND status = 'open'`, [customerId]);
    if (!open) return undefined;
    const before = JSON.parse(open.incidents_json) as string[];
    if (!before.includes(incidentId)) return undefined;
    await this.db.run('UPDATE termination_reviews SET incidents_json = ? WHERE id = ?', [JSON.stringify(before.filter((id) => id !== incidentId)), open.id]);
    return this.get(open.id);
  }

  async get(id: string): Promise<TerminationReview | undefined> {
    const row = await this.db.get<Row>(`SELECT ${COLUMNS} FROM termination_reviews WHERE id = ?`, [id]);
    return row && fromRow(row);
  }

  /** Reviews, newest first; only those of one status when given. */
  async list(status?: ReviewStatus): Promise<TerminationReview[]> {
    const rows = status
      ? await this.db.all<Row>(`SELECT ${COLUMNS} FROM termination_reviews WHERE status = ? ORDER BY flagged_at DESC, id`, [oneOf(status, REVIEW_STATUSES, 'status')])
      : await this.db.all<Row>(`SELECT ${COLUMNS} FROM termination_reviews ORDER BY flagged_at DESC, id`);
    return rows.map(fromRow);
  }

  /** Confirms or declines an open review; `conflict` when it was decided already. */
  async decide(id: string, confirm: boolean, by: string, reason: string, at: Date): Promise<TerminationReview> {
    const done = await this.db.run("UPDATE termination_reviews SET status = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND status = 'open'", [
      confirm ? 'confirmed' : 'declined',
      nonEmpty(by, 'by'),
      toEpochMs(at, 'at'),
      nonEmpty(reason, 'reason'),
      id,
    ]);
    if (done.changes !== 1) {
      const current = await this.get(id);
      if (!current) throw new CordonError('not_found', `no termination review ${id}`, { field: 'id' });
      throw new CordonError('conflict', `termination review ${id} is already ${current.status} by ${current.decidedBy}`, { field: 'id' });
    }
    return (await this.get(id))!;
  }
}

function fromRow(r: Row): TerminationReview {
  return {
    id: r.id,
    customerId: r.customer_id,
    flaggedAt: new Date(r.flagged_at),
    incidentIds: JSON.parse(r.incidents_json) as string[],
    status: oneOf(r.status, REVIEW_STATUSES, `termination_reviews[${r.id}].status`, 'internal'),
    decidedBy: r.decided_by ?? undefined,
    decidedAt: fromEpochMs(r.decided_at),
    reason: r.reason ?? undefined,
  };
}
