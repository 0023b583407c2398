import { CordonError } from '../../../proto/runtime/CordonError.js';
import { readDeskHealth, type DeskHealth } from '../../desk/deskHealth.js';
import type { AuditEntry, AuditSearch } from '../../store/AuditLog.js';
import type { Store } from '../../store/Store.js';

/** The most audit entries one page shows. */
export const MAX_AUDIT_LIMIT = 500;
/** The default when the form names no limit. */
export const DEFAULT_AUDIT_LIMIT = 100;
/** Actor, action prefix and subject are ids and names: anything longer is not one. */
export const MAX_AUDIT_TEXT = 200;

/**
 * What the desk's pages read that DeskService has no call for: the audit
 * log by filter (DeskService only verifies it) and the desk's health. Both
 * read-only; the routes gate them by a DeskService method's role
 * (VerifyAudit for the log, ListQueue for health), through DeskAccess.
 */
export interface DeskReads {
  listAudit(filter: AuditSearch): Promise<AuditEntry[]>;
  /** readDeskHealth at the incident clock's now (drill aware). */
  health(): Promise<DeskHealth>;
}

export function createDeskReads(store: Store, now: () => Date): DeskReads {
  return {
    listAudit: (filter) => store.audit.search(filter),
    health: () => readDeskHealth(store, now()),
  };
}

/**
 * The audit page's query string as a search, or `invalid` naming the field
 * and its limit. Empty fields mean "any"; times are ISO 8601 (a bare
 * `2026-11-02T09:00` from a datetime-local input reads as UTC, as the desk
 * shows every time in UTC).
 */
export function parseAuditFilter(q: Record<string, unknown>): AuditSearch {
  const text = (name: string): string | undefined => {
    const v = q[name];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') throw new CordonError('invalid', 'give it once', { field: name });
    if (v.length > MAX_AUDIT_TEXT) throw new CordonError('invalid', `at most ${MAX_AUDIT_TEXT} characters, got ${v.length}`, { field: name });
    return v;
  };
  const time = (name: string): Date | undefined => {
    const v = text(name);
    if (v === undefined) return undefined;
    const utc = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/.test(v) ? `${v}Z` : v;
    const d = /^\d{4}-\d\d-\d\d/.test(utc) ? new Date(utc) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw new CordonError('invalid', `not a time: ${JSON.stringify(v)} (ISO 8601, e.g. 2026-11-02T09:00:00Z)`, { field: name });
    return d;
  };
  const limitText = text('limit');
  const limit = limitText === undefined ? DEFAULT_AUDIT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
    throw new CordonError('invalid', `a whole number from 1 to ${MAX_AUDIT_LIMIT}, got ${JSON.stringify(limitText)}`, { field: 'limit' });
  }
  const from = time('from');
  const to = time('to');
  if (from && to && from.getTime() >= to.getTime()) throw new CordonError('invalid', 'must be after from', { field: 'to' });
  const actor = text('actor');
  const actionPrefix = text('action');
  const subject = text('subject');
  return { limit, ...(actor ? { actor } : {}), ...(actionPrefix ? { actionPrefix } : {}), ...(subject ? { subject } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) };
}
