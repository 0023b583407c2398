import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { PgDatabase } from '../../../controller/store/pg/PgDatabase.js';
import { kindOfSqlState } from '../../../controller/store/pg/pgError.js';
import type { SqlDatabase } from '../../../controller/store/SqlDatabase.js';
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

/** A table t and a transaction that has inserted a row into it and holds until `release()`. */
async function insertedAndHeld(db: SqlDatabase): Promise<{ release: () => void; tx: Promise<void> }> {
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
  return { release, tx };
}

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
    const { release, tx } = await insertedAndHeld(db);
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

  it('runs a transaction without savepoints; one that caught a failed statement and went on runs again with them, to the same outcome', async () => {
    const db = (await postgresql.open()) as PgDatabase;
    await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)');
    // Nothing fails: one run, no statement savepoints.
    let runs = 0;
    await db.transaction(async () => {
      runs++;
      await db.run('INSERT INTO t VALUES (1, 1)');
      await db.run('INSERT INTO t VALUES (2, 2)');
    });
    expect([runs, db.savepointReruns]).toEqual([1, 0]);
    // A failure that ends the transaction: rolled back once, the caller gets the statement's own error.
    runs = 0;
    await expect(
      db.transaction(async () => {
        runs++;
        await db.run('UPDATE t SET v = 10 WHERE id = 1');
        await db.run('INSERT INTO t VALUES (1, 9)');
      }),
    ).rejects.toMatchObject({ kind: 'conflict' });
    expect([runs, db.savepointReruns]).toEqual([1, 0]);
    // Caught, and the transaction goes on: the first run cannot commit; the second, with savepoints, undoes the statement alone.
    runs = 0;
    await db.transaction(async () => {
      runs++;
      await db.run('UPDATE t SET v = 20 WHERE id = 1');
      await db.run('INSERT INTO t VALUES (1, 9)').catch((err: { kind: string }) => expect(err.kind).toBe('conflict'));
      await db.run('INSERT INTO t VALUES (3, 3)');
    });
    expect([runs, db.savepointReruns]).toEqual([2, 1]);
    // Caught and resolved at once, with no statement after it: the COMMIT would fail, so it runs again too.
    runs = 0;
    const got = await db.transaction(async () => {
      runs++;
      return db.run('INSERT INTO t VALUES (1, 9)').then(() => 'inserted', () => 'refused');
    });
    expect([got, runs, db.savepointReruns]).toEqual(['refused', 2, 2]);
    // A nested transaction that fails is undone alone, without a rerun: its own savepoint recovers the outer one.
    runs = 0;
    await db.transaction(async () => {
      runs++;
      await db.transaction(() => db.run('INSERT INTO t VALUES (1, 9)')).catch(() => undefined);
      await db.run('INSERT INTO t VALUES (4, 4)');
    });
    expect([runs, db.savepointReruns]).toEqual([1, 2]);
    expect(await db.all('SELECT id, v FROM t ORDER BY id')).toEqual([
      { id: 1, v: 20 },
      { id: 2, v: 2 },
      { id: 3, v: 3 },
      { id: 4, v: 4 },
    ]);
  });

  it('runs a read-only transaction beside a writing one, seeing one snapshot, and refuses a write in it', async () => {
    const db = await postgresql.open();
    const { release, tx: writer } = await insertedAndHeld(db);
    // The writer holds this process's turn; a reader does not wait for it.
    const seen = await db.transaction(async () => [await db.get('SELECT COUNT(*) AS n FROM t'), await db.get('SELECT COUNT(*) AS n FROM t')], { readOnly: true });
    expect(seen).toEqual([{ n: 0 }, { n: 0 }]);
    release();
    await writer;
    await expect(db.transaction(() => db.run('INSERT INTO t VALUES (2)'), { readOnly: true })).rejects.toMatchObject({ message: expect.stringMatching(/read-only/) });
    expect(await db.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 1 });
  });
});
