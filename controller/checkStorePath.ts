import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import sqlite3 from 'sqlite3';
import { CordonError } from '../proto/runtime/CordonError.js';

export interface CheckStorePathOptions {
  /** The config key to name (default `store.path`). */
  field?: string;
  /**
   * What a missing directory means. `allow` (for `--check-config`): systemd's
   * StateDirectory= creates /var/lib/cordon before the daemon starts, after
   * an install that did not (a file in the way is still refused).
   * `refuse` (at start): nothing will create it any more.
   */
  missingDirectory?: 'allow' | 'refuse';
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? String(err);

/**
 * Checks that the SQLite store at `path` can be used, without creating or
 * migrating anything (safe on a production path): an existing file must be
 * a readable and writable SQLite database, which is opened read/write
 * (never created) and closed again; a missing one needs a writable
 * directory to be created in (for it and its WAL files).
 * Throws a CordonError of kind `invalid` naming the key.
 */
export async function checkStorePath(path: string, opts: CheckStorePathOptions = {}): Promise<void> {
  const field = opts.field ?? 'store.path';
  const fail = (message: string, cause?: unknown) => new CordonError('invalid', message, { field, ...(cause ? { cause } : {}) });
  if (!path) throw fail('is empty');
  let st: Stats | undefined;
  try {
    st = statSync(path);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw fail(`cannot reach ${path}: ${code(err)}`, err);
  }
  const dir = dirname(path);
  let dirStat: Stats | undefined;
  try {
    dirStat = statSync(dir);
  } catch (err) {
    if (code(err) !== 'ENOENT') throw fail(`cannot reach the directory ${dir}: ${code(err)}`, err);
  }
  if (!dirStat) {
    if (opts.missingDirectory === 'refuse') throw fail(`the directory ${dir} does not exist`);
    return;
  }
  if (!dirStat.isDirectory()) throw fail(`${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw fail(`the directory ${dir} is not writable: ${code(err)}`, err);
  }
  if (!st) return;
  if (!st.isFile()) throw fail(`${path} is not a regular file`);
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    throw fail(`${path} is not readable and writable: ${code(err)}`, err);
  }
  const db = await new Promise<sqlite3.Database>((resolve, reject) => {
    const h = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (err) => (err ? reject(fail(`cannot open ${path}: ${err.message}`, err)) : resolve(h)));
  });
  try {
    // Reading the schema is what tells a database from any other file.
    await new Promise<void>((resolve, reject) =>
      db.get('PRAGMA schema_version', (err) => (err ? reject(fail(`${path} is not a usable SQLite database: ${err.message}`, err)) : resolve())),
    );
  } finally {
    await new Promise<void>((resolve) => db.close(() => resolve()));
  }
}
