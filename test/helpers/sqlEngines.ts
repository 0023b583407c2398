import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import pg from 'pg';
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import { Database } from '../../controller/store/Database.js';
import { PgDatabase } from '../../controller/store/pg/PgDatabase.js';
import type { SqlDatabase } from '../../controller/store/SqlDatabase.js';
import { pgMissing, startPgCluster, type PgCluster } from './pgCluster.js';

/**
 * The engines a SqlDatabase contract test runs on, for
 * `describe.each(sqlEngines('file.test.ts'))('… on $name', (engine) => …)`.
 * Inside the describe, call `engine.setUp()` once; each `engine.open()` in a
 * test gives a fresh, empty database (no Cordon schema: the migrations are
 * SQLite's still), closed and removed when the test ends.
 */
export interface SqlEngine {
  name: 'sqlite' | 'postgresql';
  /** Why this engine cannot run here (the tests skip), or undefined. */
  missing: string | undefined;
  /** Registers the describe's beforeAll/afterAll: PostgreSQL's throw-away cluster, one per test file. */
  setUp(): void;
  open(): Promise<SqlDatabase>;
  /** A second, independent handle on the database `db` came from: another process's connection. */
  openAnother(db: SqlDatabase): Promise<SqlDatabase>;
}

export function sqlEngines(file: string): SqlEngine[] {
  const missing = pgMissing();
  if (missing) console.warn(`SKIP ${file} on postgresql: ${missing}`);
  return [sqliteEngine(), postgresEngine(missing)];
}

function sqliteEngine(): SqlEngine {
  const paths = new WeakMap<SqlDatabase, string>();
  const openFile = async (path: string) => {
    const db = await Database.open(path, []);
    onTestFinished(() => db.close());
    paths.set(db, path);
    return db;
  };
  return {
    name: 'sqlite',
    missing: undefined,
    setUp: () => undefined,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cordon-sql-'));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      return openFile(join(dir, 'cordon.db'));
    },
    openAnother: (db) => openFile(paths.get(db)!),
  };
}

function postgresEngine(missing: string | undefined): SqlEngine {
  let cluster: PgCluster | undefined;
  let admin: pg.Client | undefined;
  let made = 0;
  const urls = new WeakMap<SqlDatabase, string>();
  const openUrl = async (url: string) => {
    const db = await PgDatabase.open(url, { maxConnections: 4 });
    onTestFinished(() => db.close());
    urls.set(db, url);
    return db;
  };
  return {
    name: 'postgresql',
    missing,
    setUp() {
      beforeAll(async () => {
        cluster = await startPgCluster();
        admin = new pg.Client({ connectionString: cluster.url });
        await admin.connect();
      }, 120_000);
      afterAll(async () => {
        await admin?.end();
        await cluster?.stop();
      });
    },
    async open() {
      const name = `cordon_test_${++made}`;
      await admin!.query(`CREATE DATABASE ${name}`);
      // Registered first, so it runs after the handles' close (onTestFinished runs last-registered first).
      onTestFinished(async () => {
        await admin!.query(`DROP DATABASE ${name} WITH (FORCE)`);
      });
      return openUrl(cluster!.url.replace('/cordon?', `/${name}?`));
    },
    openAnother: (db) => openUrl(urls.get(db)!),
  };
}
