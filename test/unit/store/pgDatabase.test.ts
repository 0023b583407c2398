import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PgDatabase } from '../../../controller/store/pg/PgDatabase.js';
import { kindOfSqlState } from '../../../controller/store/pg/pgError.js';
import { sqlEngines } from '../../helpers/sqlEngines.js';

/** SQLSTATE classes, not message text, decide the kind (PostgreSQL manual, Appendix A). */
describe('kindOfSqlState', () => {
  it.each([
    ['23505', 'conflict'], // unique_violation
    ['23503', 'conflict'], // foreign_key_violation
    ['23514', 'conflict'], // check_violation
    ['23502', 'conflict'], // not_null_violation
    ['40001', 'transient'], // serialization_failure
    ['40P01', 'transient'], // deadlock_detected
    ['55P03', 'transient'], // lock_not_available
    ['57P01', 'transient'], // admin_shutdown
    ['08006', 'transient'], // connection_failure
    ['53300', 'transient'], // too_many_connections
    ['22P02', 'invalid'], // invalid_text_representation
    ['42703', 'internal'], // undefined_column
    ['25P02', 'internal'], // in_failed_sql_transaction
  ] as const)('%s is %s', (code, kind) => expect(kindOfSqlState(code)).toBe(kind));
});

const postgresql = sqlEngines('pgDatabase.test.ts').find((e) => e.name === 'postgresql')!;

/** What only PostgreSQL has: a server that can go away, and connections that can be lost. */
describe.skipIf(postgresql.missing !== undefined)('PgDatabase on a throw-away cluster', () => {
  postgresql.setUp();

  it('fails transient when the server cannot be reached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cordon-nopg-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    await expect(PgDatabase.open(`postgres://cordon@/cordon?host=${encodeURIComponent(dir)}`)).rejects.toMatchObject({ kind: 'transient' });
  });

  it('turns a connection lost inside a transaction into transient, drops that connection and goes on with fresh ones', async () => {
    const db = await postgresql.open();
    const other = await postgresql.openAnother(db);
    await db.exec('CREATE TABLE t (v INTEGER NOT NULL)');
    const lost = db.transaction(async () => {
      await db.run('INSERT INTO t VALUES (1)');
      const { pid } = (await db.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!;
      await other.get('SELECT pg_terminate_backend(?)', [pid]);
      await db.run('INSERT INTO t VALUES (2)');
    });
    await expect(lost).rejects.toMatchObject({ kind: 'transient' });
    await db.transaction(() => db.run('INSERT INTO t VALUES (3)'));
    expect(await db.all('SELECT v FROM t')).toEqual([{ v: 3 }]);
  });

  it('runs a statement outside any transaction at once, on another connection, seeing only what was committed', async () => {
    const db = await postgresql.open();
    await db.exec('CREATE TABLE t (v INTEGER NOT NULL)');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const insertedInside = new Promise<void>((resolve) => (inserted = resolve));
    const tx = db.transaction(async () => {
      await db.run('INSERT INTO t VALUES (1)');
      inserted();
      await held;
    });
    await insertedInside;
    // SQLite would make this wait for the transaction; here it does not.
    expect(await db.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 0 });
    release();
    await tx;
    expect(await db.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 1 });
  });

  it('announces only its own commits: another handle\'s write is not seen by onCommit', async () => {
    const db = await postgresql.open();
    const other = await postgresql.openAnother(db);
    await db.exec('CREATE TABLE t (v INTEGER NOT NULL)');
    let commits = 0;
    db.onCommit(() => (commits += 1));
    await other.run('INSERT INTO t VALUES (1)');
    await db.run('INSERT INTO t VALUES (2)');
    expect(commits).toBe(1);
  });
});
