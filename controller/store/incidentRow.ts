import { CordonError } from '../../proto/runtime/CordonError.js';
import { CATEGORIES, INCIDENT_STATES, type Hold, type Incident } from '../incidents/model.js';
import { checkAction } from './checkAction.js';
import type { SqlValue } from './Database.js';
import { fromEpochMs, toEpochMs } from './epochMs.js';
import { nonEmpty, oneOf } from './validate.js';

export const HOLDS = ['operator_decision', 'untrusted_reporter', 'approval', 'rate_limit', 'bmc_unreachable'] as const satisfies readonly Hold[];
// Fails to compile when model.ts gains a hold this list lacks.
const complete: Hold extends (typeof HOLDS)[number] ? true : never = true;
void complete;

const OPENED_BY = ['complaint', 'operator'] as const;

function parseJson(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CordonError('internal', 'is not JSON', { field });
  }
}

/** An operator's cut waiting for the BMC, as stored: `{ action, reason }`. */
function pendingFromJson(text: string, field: string): { pendingAction: Incident['pendingAction']; pendingReason: string } {
  const v = parseJson(text, field) as { action?: unknown; reason?: unknown } | null;
  if (typeof v !== 'object' || v === null || typeof v.reason !== 'string') throw new CordonError('internal', 'is not { action, reason }', { field });
  return { pendingAction: checkAction(v.action, `${field}.action`, 'internal'), pendingReason: v.reason };
}

/** One row of `incidents`, as node-sqlite3 returns it. */
export interface IncidentRow {
  id: string;
  host_id: string;
  customer_id: string;
  category: string;
  state: string;
  trusted: number;
  opened_at: number;
  notified_at: number | null;
  ack_due_at: number | null;
  resolve_due_at: number | null;
  acknowledged_at: number | null;
  answered_at: number | null;
  escalated_at: number | null;
  step: number;
  actions_json: string;
  hold: string | null;
  closed_at: number | null;
  complaint_count: number;
  next_due_at: number | null;
  bmc_verified_at: number | null;
  established: number;
  overdue: number;
  opened_by: string;
  approval_id: string | null;
  pending_action_json: string | null;
  notice_undelivered_at: number | null;
}

export const INCIDENT_COLUMNS =
  'id, host_id, customer_id, category, state, trusted, opened_at, notified_at, ack_due_at, resolve_due_at, acknowledged_at, ' +
  'answered_at, escalated_at, step, actions_json, hold, closed_at, complaint_count, next_due_at, bmc_verified_at, ' +
  'established, overdue, opened_by, approval_id, pending_action_json, notice_undelivered_at';

/**
 * An Incident (plus the scheduler's next due time) as named parameters
 * (`$host_id`, …) for INSERT and UPDATE. Validates what the types cannot
 * (enums, dates, integers, actions), naming the field, so a bad value is an
 * `invalid` error here rather than a vague constraint failure.
 */
/** The columns that hold numbers (INTEGER on SQLite, BIGINT on PostgreSQL): a multi-row VALUES list types them on PostgreSQL. */
export const INCIDENT_NUMBER_COLUMNS: ReadonlySet<string> = new Set([
  'trusted', 'opened_at', 'notified_at', 'ack_due_at', 'resolve_due_at', 'acknowledged_at', 'answered_at', 'escalated_at', 'step',
  'closed_at', 'complaint_count', 'next_due_at', 'bmc_verified_at', 'established', 'overdue', 'notice_undelivered_at',
] satisfies (keyof IncidentRow)[]);

export function incidentParams(i: Incident, nextDueAt: Date | undefined): Record<string, SqlValue> {
  if (!Number.isInteger(i.step) || i.step < -1) throw new CordonError('invalid', 'must be an integer >= -1', { field: 'step' });
  if (!Number.isInteger(i.complaintCount) || i.complaintCount < 0) {
    throw new CordonError('invalid', 'must be a non-negative integer', { field: 'complaintCount' });
  }
  if (!Array.isArray(i.actions)) throw new CordonError('invalid', 'must be a list', { field: 'actions' });
  const actions = i.actions.map((a, n) => checkAction(a, `actions[${n}]`));
  return {
    $id: nonEmpty(i.id, 'id'),
    $host_id: nonEmpty(i.hostId, 'hostId'),
    $customer_id: nonEmpty(i.customerId, 'customerId'),
    $category: oneOf(i.category, CATEGORIES, 'category'),
    $state: oneOf(i.state, INCIDENT_STATES, 'state'),
    $trusted: i.trusted ? 1 : 0,
    $opened_at: toEpochMs(i.openedAt, 'openedAt'),
    $notified_at: toEpochMs(i.notifiedAt, 'notifiedAt'),
    $ack_due_at: toEpochMs(i.ackDueAt, 'ackDueAt'),
    $resolve_due_at: toEpochMs(i.resolveDueAt, 'resolveDueAt'),
    $acknowledged_at: toEpochMs(i.acknowledgedAt, 'acknowledgedAt'),
    $answered_at: toEpochMs(i.answeredAt, 'answeredAt'),
    $escalated_at: toEpochMs(i.escalatedAt, 'escalatedAt'),
    $step: i.step,
    // Plain JSON.stringify: checkAction built these objects, so key order is fixed.
    $actions_json: JSON.stringify(actions),
    $hold: i.hold === undefined ? null : oneOf(i.hold, HOLDS, 'hold'),
    $closed_at: toEpochMs(i.closedAt, 'closedAt'),
    $complaint_count: i.complaintCount,
    $next_due_at: toEpochMs(nextDueAt, 'nextDueAt'),
    $bmc_verified_at: toEpochMs(i.bmcVerifiedAt, 'bmcVerifiedAt'),
    $established: i.established ? 1 : 0,
    $overdue: i.overdue ? 1 : 0,
    $opened_by: oneOf(i.openedBy, OPENED_BY, 'openedBy'),
    $approval_id: i.approvalId ?? null,
    $pending_action_json:
      i.pendingAction === undefined ? null : JSON.stringify({ action: checkAction(i.pendingAction, 'pendingAction'), reason: String(i.pendingReason ?? '') }),
    $notice_undelivered_at: toEpochMs(i.noticeUndeliveredAt, 'noticeUndeliveredAt'),
  };
}

/** A row back into the model's Incident: NULL → undefined, INTEGER → Date. `internal` if the row holds what this build does not know. */
export function incidentFromRow(r: IncidentRow): Incident {
  const where = (column: string) => `incidents[${r.id}].${column}`;
  let actions: unknown;
  try {
    actions = JSON.parse(r.actions_json);
  } catch {
    throw new CordonError('internal', 'is not JSON', { field: where('actions_json') });
  }
  if (!Array.isArray(actions)) throw new CordonError('internal', 'is not a list', { field: where('actions_json') });
  return {
    id: r.id,
    hostId: r.host_id,
    customerId: r.customer_id,
    category: oneOf(r.category, CATEGORIES, where('category'), 'internal'),
    state: oneOf(r.state, INCIDENT_STATES, where('state'), 'internal'),
    trusted: r.trusted === 1,
    openedAt: new Date(r.opened_at),
    notifiedAt: fromEpochMs(r.notified_at),
    ackDueAt: fromEpochMs(r.ack_due_at),
    resolveDueAt: fromEpochMs(r.resolve_due_at),
    acknowledgedAt: fromEpochMs(r.acknowledged_at),
    answeredAt: fromEpochMs(r.answered_at),
    escalatedAt: fromEpochMs(r.escalated_at),
    step: r.step,
    actions: actions.map((a, n) => checkAction(a, where(`actions_json[${n}]`), 'internal')),
    hold: r.hold === null ? undefined : oneOf(r.hold, HOLDS, where('hold'), 'internal'),
    closedAt: fromEpochMs(r.closed_at),
    complaintCount: r.complaint_count,
    ...(r.bmc_verified_at === null ? {} : { bmcVerifiedAt: new Date(r.bmc_verified_at) }),
    established: r.established === 1,
    overdue: r.overdue === 1,
    openedBy: oneOf(r.opened_by, OPENED_BY, where('opened_by'), 'internal'),
    ...(r.approval_id === null ? {} : { approvalId: r.approval_id }),
    ...(r.pending_action_json === null ? {} : pendingFromJson(r.pending_action_json, where('pending_action_json'))),
    ...(r.notice_undelivered_at === null ? {} : { noticeUndeliveredAt: new Date(r.notice_undelivered_at) }),
  };
}
