import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isCordonError } from '../../../proto/runtime/CordonError.js';
import { Database } from '../../../controller/store/Database.js';
import { migrate } from '../../../controller/store/migrate.js';
import { MIGRATIONS } from '../../../controller/store/migrations.js';
import { tempDir } from './storeFixtures.js';

async function openFile(path = join(tempDir(), 'cordon.db'), migrations = MIGRATIONS): Promise<Database> {
  const db = await Database.open(path, migrations);
  onTestFinished(() => db.close());
  return db;
}

async function counterDb(): Promise<Database> {
  const db = await openFile();
  await db.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);');
  return db;
}

const readCounter = async (db: Database) => (await db.get<{ n: number }>('SELECT n FROM counter WHERE id = 1'))!.n;
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

describe('Database.transaction', () => {
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

  it('rolls back on throw and rethrows; a statement issued outside meanwhile waits and survives', async () => {
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

  it('waits out another connection holding the write lock (busy timeout), over one file', async () => {
    const path = join(tempDir(), 'cordon.db');
    const a = await openFile(path);
    const b = await openFile(path);
    await a.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);');
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = a.transaction(async () => {
      await a.run('UPDATE counter SET n = n + 1');
      await held;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waiting = b.transaction(() => b.run('UPDATE counter SET n = n + 10'));
    setTimeout(release, 100);
    await Promise.all([slow, waiting]);
    expect(await readCounter(b)).toBe(11);
  });

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

  it('reuses prepared statements across a schema change and after a failed statement', async () => {
    const db = await counterDb();
    const read = () => db.all('SELECT * FROM counter ORDER BY id');
    expect(await read()).toEqual([{ id: 1, n: 0 }]);
    await db.exec('ALTER TABLE counter ADD COLUMN note TEXT');
    expect(await read()).toEqual([{ id: 1, n: 0, note: null }]);
    await expect(db.run('INSERT INTO counter (id, n) VALUES (?, ?)', [1, 5])).rejects.toMatchObject({ kind: 'conflict' });
    await db.run('INSERT INTO counter (id, n) VALUES (?, ?)', [2, 5]);
    expect(await db.get('SELECT n FROM counter WHERE id = ?', [2])).toEqual({ n: 5 });
  });
});
