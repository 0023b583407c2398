import { CordonError } from '../../proto/runtime/CordonError.js';

/**
 * Dates are stored as INTEGER epoch milliseconds: exact, ordered, indexable,
 * and free of time zones. An invalid Date is refused (`invalid`, naming the
 * field) rather than stored as NULL or NaN.
 */
export function toEpochMs(date: Date, field: string): number;
export function toEpochMs(date: Date | undefined, field: string): number | null;
export function toEpochMs(date: Date | undefined, field: string): number | null {
  if (date === undefined) return null;
  const ms = date instanceof Date ? date.getTime() : NaN;
  if (!Number.isFinite(ms)) throw new CordonError('invalid', 'must be a valid Date', { field });
  return ms;
}

/** NULL reads back as undefined, as the model types expect. */
export function fromEpochMs(ms: number | null): Date | undefined {
  return ms === null ? undefined : new Date(ms);
}
