import type { SqlValue } from './Database.js';

/** Ids per query: well under SQLite's limit on bound parameters. */
const CHUNK = 1000;

/**
 * Reads rows for many ids in one query per CHUNK ids: `query` gets the
 * placeholders for an `IN (…)` and their values. The list is padded to a
 * power of two (at least 16) with a repeated id, so a handful of SQL texts
 * serve every size and stay in the Database's prepared-statement cache.
 */
export async function byIdChunks<T>(ids: readonly string[], query: (placeholders: string, params: SqlValue[]) => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const slice = ids.slice(i, i + CHUNK);
    const size = Math.max(16, 2 ** Math.ceil(Math.log2(slice.length)));
    out.push(...(await query(Array<string>(size).fill('?').join(', '), [...slice, ...Array<string>(size - slice.length).fill(slice[0]!)])));
  }
  return out;
}
