import type { SqlDatabase } from './SqlDatabase.js';

/*
 * The few SQL forms the two engines write differently. Everything else the
 * repositories write is shared: ON CONFLICT … DO UPDATE/NOTHING, RETURNING,
 * IS DISTINCT FROM, partial indexes, COALESCE. JSON is where they part:
 * SQLite's json1 functions against PostgreSQL's jsonb operators.
 */
type Dialect = SqlDatabase['dialect'];

/** A subquery of the strings in the JSON array bound at `?` (one column), for `x IN (…)`. */
export function jsonTextList(dialect: Dialect): string {
  return dialect === 'sqlite' ? 'SELECT value FROM json_each(?)' : 'SELECT jsonb_array_elements_text(CAST(? AS jsonb))';
}

/** A subquery of [a, b] pairs from the JSON array of two-string arrays bound at `?`, for `(x, y) IN (…)`. */
export function jsonTextPairs(dialect: Dialect): string {
  return dialect === 'sqlite'
    ? "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)"
    : 'SELECT p ->> 0, p ->> 1 FROM jsonb_array_elements(CAST(? AS jsonb)) AS p';
}

/**
 * The text at `keys` inside the JSON held by `column` (an object path such
 * as template, or customer.email), NULL when it is absent or JSON null.
 * Keys are Cordon's own names: letters, digits, underscores only.
 */
export function jsonField(dialect: Dialect, column: string, ...keys: string[]): string {
  for (const k of keys) if (!/^\w+$/.test(k)) throw new Error(`jsonField: key ${JSON.stringify(k)} is not a plain name`);
  return dialect === 'sqlite' ? `json_extract(${column}, '$.${keys.join('.')}')` : `(CAST(${column} AS jsonb) #>> '{${keys.join(',')}}')`;
}
