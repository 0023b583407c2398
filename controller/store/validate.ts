import { CordonError, type ErrorKind } from '../../proto/runtime/CordonError.js';

/**
 * Checks that `value` is one of `allowed`. On the way in a bad value is the
 * caller's (`invalid`); on the way out of a row it means the database holds
 * something this build does not know (`internal`), which is worth stopping on.
 */
export function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string, kind: ErrorKind = 'invalid'): T {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new CordonError(kind, `${JSON.stringify(value)} is not one of ${allowed.join(', ')}`, { field });
}

/** A string with at least one non-space character. */
export function nonEmpty(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new CordonError('invalid', 'must be a non-empty string', { field });
  return value;
}
