import pg from 'pg';
import { inject } from 'vitest';
import { Store } from '../../controller/store/Store.js';

/**
 * Which engine the store and service suites run on: SQLite by default, and
 * PostgreSQL in vitest's `postgresql` project (vitest.config.ts), which
 * runs the same files again with CORDON_TEST_STORE=postgresql against the
 * throw-away cluster its global setup started (pgGlobalSetup.ts).
 */
export const testEngine: 'sqlite' | 'postgresql' = process.env.CORDON_TEST_STORE === 'postgresql' ? 'postgresql' : 'sqlite';

let admin: pg.Pool | undefined;
let made = 0;
const urls = new WeakMap<Store, string>();

/**
 * A fresh, migrated store for one test: on SQLite the file at `sqlitePath`
 * (the caller's temporary folder), or an in-memory database when there is
 * none; on PostgreSQL a new database copied from the migrated template,
 * dropped when the store is closed.
 */
export async function openTestStore(sqlitePath?: string): Promise<Store> {
  if (testEngine === 'sqlite') return sqlitePath === undefined ? Store.openMemory() : Store.open(sqlitePath);
  const base = inject('pgUrl');
  // Idle connections end on their own, so a test file's worker exits without an afterAll here.
  admin ??= new pg.Pool({ connectionString: base, max: 2, idleTimeoutMillis: 500, allowExitOnIdle: true });
  const name = `cordon_t${process.pid}_${++made}`;
  await admin.query(`CREATE DATABASE ${name} TEMPLATE cordon_template`);
  const url = base.replace('/cordon?', `/${name}?`);
  const store = await Store.openUrl(url, { maxConnections: 6 });
  urls.set(store, url);
  const close = store.close.bind(store);
  let closed: Promise<void> | undefined;
  store.close = () =>
    (closed ??= (async () => {
      await close();
      await admin!.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    })());
  return store;
}

/** A second, independent handle on `store`'s database, as another process would open it. */
export async function reopenTestStore(store: Store, sqlitePath: string): Promise<Store> {
  const url = urls.get(store);
  return url === undefined ? Store.open(sqlitePath) : Store.openUrl(url, { maxConnections: 4 });
}
