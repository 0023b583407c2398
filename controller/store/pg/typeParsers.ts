import pg from 'pg';

/** Type OIDs from PostgreSQL's pg_type catalogue. */
const BOOL = 16;
const INT8 = 20;
const NUMERIC = 1700;

/**
 * How PgDatabase reads column values, so rows hold the same SqlValues as
 * SQLite's: BIGINT (epoch milliseconds, ids, COUNT(*)) and NUMERIC (SUM of a
 * BIGINT) as numbers instead of pg's strings, and booleans (EXISTS, a
 * comparison) as 1/0, as SQLite gives them. Cordon's integers stay far below
 * 2^53, where a double is exact. Everything else is pg's default (text as
 * strings, bytea as Buffers, INTEGER and DOUBLE PRECISION as numbers).
 *
 * Given to the pool, not set on pg's global `types`, so other pg users in
 * the process are not affected.
 */
export const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === INT8 || oid === NUMERIC) return (value: string) => Number(value);
      if (oid === BOOL) return (value: string) => (value === 't' ? 1 : 0);
    }
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};
