import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import { Database } from '../../../controller/store/Database.js';
import { migrate } from '../../../controller/store/migrate.js';
import { MIGRATIONS } from '../../../controller/store/migrations.js';
import { tempDir } from './storeFixtures.js';
import { sqlEngines } from '../../helpers/sqlEngines.js';
import type { SqlDatabase } from '../../../controller/store/SqlDatabase.js';

async function openFile(path = join(tempDir(), 'cordon.db'), migrations = MIGRATIONS): Promise<Database> {
  const db = await Database.open(path, migrations);
  onTestFinished(() => db.close());
  return db;
}

const readCounter = async (db: SqlDatabase) => (await db.get<{ n: number }>('SELECT n FROM counter WHERE id = 1'))!.n;
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Database.open', () => {
  it('runs a real file in WAL with foreign keys, a busy timeout and synchronous FULL (a commit is fsynced before it resolves)', async () => {
    const path = join(tempDir(), 'cordon.db');
    const db = await openFile(path);
    expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' });
    expect(await db.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 });
    expect(await db.get('PRAGMA busy_timeout')).toEqual({ timeout: 5000 });
    expect(await db.get('PRAGMA synchronous')).toEqual({ synchronous: 2 });
    await db.run("INSERT INTO customers VALUES ('c', 'C', 'c@example.net')");
    expect(existsSync(`${path}-wal`)).toBe(true);
  });

  it('applies migrations once: reopening and migrating again change nothing', async () => {
    const path = join(tempDir(), 'cordon.db');
    const first = await Database.open(path);
    await first.run("INSERT INTO customers VALUES ('c', 'C', 'c@example.net')");
    const schema = await first.all("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
    await first.close();

    const again = await openFile(path);
    expect(await migrate(again, MIGRATIONS)).toEqual([]);
    expect(await again.all('SELECT version, name FROM schema_migrations')).toEqual(MIGRATIONS.map(({ version, name }) => ({ version, name })));
    expect(await again.all("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")).toEqual(schema);
    expect(await again.get('SELECT name FROM customers')).toEqual({ name: 'C' });
  });

  it('refuses a database newer than this build, and a shipped migration that was edited', async () => {
    const path = join(tempDir(), 'cordon.db');
    const next = MIGRATIONS.length + 1;
    const extra = { version: next, name: 'later', sql: 'CREATE TABLE later (x INTEGER) STRICT;' };
    await (await Database.open(path, [...MIGRATIONS, extra])).close();
    await expect(Database.open(path)).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(new RegExp(`schema version ${next}, newer`)) });
    const edited = [{ ...MIGRATIONS[0]!, sql: `${MIGRATIONS[0]!.sql}\n-- edited` }, ...MIGRATIONS.slice(1), extra];
    await expect(Database.open(path, edited)).rejects.toMatchObject({ kind: 'conflict', message: expect.stringMatching(/migration 1 \(init\) differs/) });
  });

  it('says which file it cannot open', async () => {
    const path = join(tempDir(), 'missing', 'cordon.db');
    await expect(Database.open(path)).rejects.toMatchObject({ kind: 'invalid', message: expect.stringContaining(`cannot open ${path}`) });
  });

  it('applies a failing migration not at all', async () => {
    const path = join(tempDir(), 'cordon.db');
    const broken = { version: MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half (x INTEGER); INSERT INTO nowhere VALUES (1);' };
    await expect(Database.open(path, [...MIGRATIONS, broken])).rejects.toMatchObject({ kind: 'internal' });
    const db = await openFile(path);
    expect(await db.get("SELECT name FROM sqlite_schema WHERE name = 'half'")).toBeUndefined();
    expect(await db.all('SELECT version FROM schema_migrations')).toEqual(MIGRATIONS.map(({ version }) => ({ version })));
  });
});

describe('Database errors (SQLite only: the migrated schema and its messages)', () => {
  it('turns SQLite errors into CordonErrors by kind, and refuses work once closed', async () => {
    const db = await Database.openMemory();
    await db.run("INSERT INTO customers VALUES ('c', 'C', 'c@example.net')");
    const dup = await db.run("INSERT INTO customers VALUES ('c', 'D', 'd@example.net')").catch((e: unknown) => e);
    expect(isCordonError(dup, 'conflict')).toBe(true);
    expect(String(dup)).toMatch(/UNIQUE constraint failed: customers.id \(in INSERT INTO customers/);
    const fk = await db.run("INSERT INTO host_prefixes VALUES ('1.2.3.4/32', 'ghost', 0, 128, zeroblob(16), zeroblob(16))").catch((e: unknown) => e);
    expect(isCordonError(fk, 'conflict')).toBe(true);
    await expect(db.get('SELECT nope FROM customers')).rejects.toMatchObject({ kind: 'internal' });
    await db.close();
    await expect(db.get('SELECT 1')).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/closed/) });
  });

});

/**
 * The SqlDatabase contract, on both engines: a fresh empty database per
 * test (SQLite file, or a database in this file's throw-away PostgreSQL
 * cluster). SQL here is the portable subset both accept.
 */
describe.each(sqlEngines('database.test.ts'))('SqlDatabase.transaction on $name', (engine) => {
  // Where the engine is not installed, sqlEngines printed "SKIP <file> on <engine>: <why>", and this suite skips.
  describe.skipIf(engine.missing !== undefined)('where the engine is installed (else skipped, the reason printed as SKIP)', () => {
    engine.setUp();

    async function counterDb(): Promise<SqlDatabase> {
      const db = await engine.open();
      await db.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);');
      return db;
    }

    it('serialises two concurrent transactions that each read-modify-write 100 times', async () => {
      const db = await counterDb();
      const bump100 = () =>
        db.transaction(async (tx) => {
          for (let i = 0; i < 100; i++) {
            const n = await readCounter(tx);
            await tick(); // give the other transaction every chance to interleave
            await tx.run('UPDATE counter SET n = ? WHERE id = 1', [n + 1]);
          }
        });
      await Promise.all([bump100(), bump100()]);
      expect(await readCounter(db)).toBe(200);
    });

    it('serialises 200 concurrent one-step transactions, with repositories using the outer handle', async () => {
      const db = await counterDb();
      await Promise.all(
        Array.from({ length: 200 }, () =>
          db.transaction(async () => {
            const n = await readCounter(db); // the outer object: joins the transaction it is called from
            await tick();
            await db.run('UPDATE counter SET n = ? WHERE id = 1', [n + 1]);
          }),
        ),
      );
      expect(await readCounter(db)).toBe(200);
    });

    it('rolls back on throw and rethrows; a statement issued outside meanwhile survives', async () => {
      const db = await counterDb();
      const failing = db.transaction(async () => {
        await db.run('UPDATE counter SET n = 41 WHERE id = 1');
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error('boom');
      });
      await tick();
      const outside = db.run('INSERT INTO counter VALUES (2, 7)');
      await expect(failing).rejects.toThrow('boom');
      await outside;
      expect(await db.all('SELECT id, n FROM counter ORDER BY id')).toEqual([
        { id: 1, n: 0 },
        { id: 2, n: 7 },
      ]);
    });

    it('rolls back a nested transaction alone when it throws', async () => {
      const db = await counterDb();
      await db.transaction(async () => {
        await db.run('UPDATE counter SET n = 1 WHERE id = 1');
        await db
          .transaction(async () => {
            await db.run('UPDATE counter SET n = 99 WHERE id = 1');
            throw new Error('inner');
          })
          .catch(() => undefined);
        await db.transaction(() => db.run('INSERT INTO counter VALUES (3, 3)'));
      });
      expect(await db.all('SELECT id, n FROM counter ORDER BY id')).toEqual([
        { id: 1, n: 1 },
        { id: 3, n: 3 },
      ]);
    });

    it('keeps a transaction usable after one of its statements fails: the statement alone is undone', async () => {
      const db = await counterDb();
      await db.transaction(async () => {
        await db.run('UPDATE counter SET n = 5 WHERE id = 1');
        await expect(db.run('INSERT INTO counter VALUES (1, 9)')).rejects.toMatchObject({ kind: 'conflict' });
        await db.run('INSERT INTO counter VALUES (2, 2)');
      });
      expect(await db.all('SELECT id, n FROM counter ORDER BY id')).toEqual([
        { id: 1, n: 5 },
        { id: 2, n: 2 },
      ]);
    });

    it('turns constraint violations into conflict and other failures into internal, and refuses work once closed', async () => {
      const db = await engine.open();
      await db.exec(`CREATE TABLE parent (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0));
        CREATE TABLE child (parent_id TEXT NOT NULL REFERENCES parent (id))`);
      await db.run('INSERT INTO parent VALUES (?, ?)', ['p', 1]);
      await expect(db.run('INSERT INTO parent VALUES (?, ?)', ['p', 2])).rejects.toMatchObject({ kind: 'conflict', message: expect.stringContaining('(in INSERT INTO parent') });
      await expect(db.run('INSERT INTO parent VALUES (?, ?)', ['q', -1])).rejects.toMatchObject({ kind: 'conflict' });
      await expect(db.run('INSERT INTO parent VALUES (?, ?)', ['q', null])).rejects.toMatchObject({ kind: 'conflict' });
      await expect(db.run('INSERT INTO child VALUES (?)', ['ghost'])).rejects.toMatchObject({ kind: 'conflict' });
      await expect(db.get('SELECT nope FROM parent')).rejects.toMatchObject({ kind: 'internal' });
      await db.close();
      await expect(db.get('SELECT 1')).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/closed/) });
      await expect(db.transaction(async () => undefined)).rejects.toMatchObject({ kind: 'internal', message: expect.stringMatching(/closed/) });
    });

    it('keeps what a transaction memoised until it ends: a released savepoint hands it up, a rolled-back one drops it', async () => {
      const db = await counterDb();
      expect(db.memo()).toBeUndefined();
      await db.transaction(async () => {
        expect(db.inTransaction).toBe(true);
        db.memo()!.set('outer', 1);
        await db.transaction(async () => db.memo()!.set('kept', 2));
        await db
          .transaction(async () => {
            db.memo()!.set('dropped', 3);
            throw new Error('inner');
          })
          .catch(() => undefined);
        expect([...db.memo()!.keys()].sort()).toEqual(['kept', 'outer']);
      });
      expect(db.inTransaction).toBe(false);
      await db.transaction(async () => expect(db.memo()!.size).toBe(0));
    });

    it('reuses statements across a schema change and after a failed statement', async () => {
      const db = await counterDb();
      const read = () => db.all('SELECT * FROM counter ORDER BY id');
      expect(await read()).toEqual([{ id: 1, n: 0 }]);
      await db.exec('ALTER TABLE counter ADD COLUMN note TEXT');
      expect(await read()).toEqual([{ id: 1, n: 0, note: null }]);
      await expect(db.run('INSERT INTO counter (id, n) VALUES (?, ?)', [1, 5])).rejects.toMatchObject({ kind: 'conflict' });
      await db.run('INSERT INTO counter (id, n) VALUES (?, ?)', [2, 5]);
      expect(await db.get('SELECT n FROM counter WHERE id = ?', [2])).toEqual({ n: 5 });
    });

    it('binds named $name parameters, and reads BIGINT, COUNT and comparisons as numbers', async () => {
      const db = await engine.open();
      await db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, at BIGINT NOT NULL)');
      await db.run('INSERT INTO t (id, at) VALUES ($id, $at)', { $id: 'a', $at: 1_700_000_000_000 });
      expect(await db.get('SELECT at, COUNT(*) AS n, SUM(at) AS total, (at > $at) AS later FROM t WHERE id = $id GROUP BY at', { $id: 'a', $at: 0 })).toEqual({
        at: 1_700_000_000_000,
        n: 1,
        total: 1_700_000_000_000,
        later: 1,
      });
    });

    it('gives lastId as SQLite\'s rowid, but on PostgreSQL only from RETURNING id (reading it otherwise is unsupported)', async () => {
      const db = await engine.open();
      await db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
      const plain = await db.run('INSERT INTO t (id, v) VALUES (?, ?)', [5, 'a']);
      expect(plain.changes).toBe(1);
      if (engine.name === 'sqlite') expect(plain.lastId).toBe(5);
      else expect(() => plain.lastId).toThrow(expect.objectContaining({ kind: 'unsupported', message: expect.stringMatching(/RETURNING id/) }));
      const returning = await db.run('INSERT INTO t (id, v) VALUES (?, ?), (?, ?) RETURNING id', [7, 'b', 8, 'c']);
      expect(returning.lastId).toBe(8);
      // node-sqlite3 reads a RETURNING statement's count before the statement finishes (it reports the previous
      // statement's): on SQLite such a run's `changes`, and so its onCommit, cannot be trusted.
      if (engine.name === 'postgresql') expect(returning.changes).toBe(2);
      expect(await db.all('INSERT INTO t (id, v) VALUES (?, ?) RETURNING id', [9, 'd'])).toEqual([{ id: 9 }]);
      expect(await db.get('SELECT COUNT(*) AS n FROM t')).toEqual({ n: 4 });
    });

    it('lets a second handle (another process) write the same database once the first commits', async () => {
      const a = await counterDb();
      const b = await engine.openAnother(a);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const slow = a.transaction(async () => {
        await a.run('UPDATE counter SET n = n + 1');
        await held;
      });
      await new Promise((resolve) => setTimeout(resolve, 20));
      const waiting = b.transaction(() => b.run('UPDATE counter SET n = n + 10'));
      setTimeout(release, 100);
      await slow;
      // SQLite: one writer per file, b waited (busy timeout) and then ran. PostgreSQL: b waited on the
      // row, lost to a's commit (a serialization failure) and its transaction ran again by itself.
      await waiting;
      expect(await readCounter(b)).toBe(11);
    });

    // PostgreSQL's alone: SQLite's single writer never loses a race, so there is nothing to rerun.
    if (engine.name === 'postgresql') it('runs a transaction that keeps losing races again, six times, and then says transient', async () => {
      const a = await counterDb();
      const b = await engine.openAnother(a);
      let runs = 0;
      // Every run of b reads, then waits while a commits a change to the row it read: it loses each time.
      const losing = b.transaction(async () => {
        runs++;
        await b.get('SELECT n FROM counter');
        await a.run('UPDATE counter SET n = n + 1');
        await b.run('UPDATE counter SET n = n + 10');
      });
      await expect(losing).rejects.toMatchObject({ kind: 'transient' });
      expect(runs).toBe(6);
      expect(await readCounter(a)).toBe(6);
    });
  });
});
