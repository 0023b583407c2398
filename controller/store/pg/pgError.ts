import pg from 'pg';
import { CordonError, type ErrorKind } from '../../../proto/runtime/CordonError.js';

/**
 * A PostgreSQL SQLSTATE as a CordonError kind, by the codes' documented
 * classes (Appendix A of the PostgreSQL manual), never by message text:
 *
 * - class 23, integrity constraint violation (unique, foreign key, CHECK,
 *   NOT NULL, exclusion; and triggers raising 23xxx): `conflict`, as SQLite's
 *   SQLITE_CONSTRAINT is in Database.
 * - 40001 serialization failure and 40P01 deadlock: `transient`. Under
 *   SERIALIZABLE these are how PostgreSQL says "another transaction won,
 *   run yours again"; SQLite's busy/locked are the same thing.
 * - 55P03 lock not available, class 08 (connection exception), class 57
 *   (operator intervention: shutdown, cancel, crash recovery) and 53300 (too
 *   many connections): `transient`, the server or the link may heal.
 * - class 22, data exception (a value the column's type refuses): `invalid`.
 *   SQLite's STRICT tables report that as a constraint (`conflict`); the
 *   repositories check values before writing, so neither should be seen.
 * - anything else (syntax, undefined table or column, 25P02…): `internal`.
 */
export function kindOfSqlState(code: string): ErrorKind {
  const cls = code.slice(0, 2);
  if (cls === '23') return 'conflict';
  if (code === '40001' || code === '40P01' || code === '55P03' || code === '53300') return 'transient';
  if (cls === '08' || cls === '57') return 'transient';
  if (cls === '22') return 'invalid';
  return 'internal';
}

/**
 * Any error from a pg query as a CordonError. Errors the server reported
 * carry a SQLSTATE (pg's DatabaseError) and map by kindOfSqlState. Every
 * other error from the driver means the connection failed before an answer
 * came (socket closed, server gone, connect timeout): `transient`. A
 * CordonError (our own parameter checks) passes through.
 *
 * A connection lost during COMMIT leaves it unknown whether the commit
 * happened; the error is still `transient`, so work retried after it must
 * be idempotent, as it already must be across a crash.
 */
export function toCordonError(err: unknown, sql: string): CordonError {
  if (err instanceof CordonError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof pg.DatabaseError && typeof err.code === 'string') {
    return new CordonError(kindOfSqlState(err.code), `${message} [${err.code}] (in ${summary(sql)})`, { cause: err });
  }
  return new CordonError('transient', `PostgreSQL connection failed: ${message} (in ${summary(sql)})`, { cause: err });
}

export function summary(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 60 ? `${flat.slice(0, 57)}...` : flat;
}
