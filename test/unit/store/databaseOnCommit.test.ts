import { beforeEach, describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../../controller/store/SqlDatabase.js';
import { sqlEngines } from '../../helpers/sqlEngines.js';

/**
 * SqlDatabase.onCommit: the "something changed" hook the desk's live updates
 * hang on. It must fire once per commit that changed rows, and never for a
 * rollback, a read, or a savepoint that was rolled back. On both engines.
 */
describe.each(sqlEngines('databaseOnCommit.test.ts'))('SqlDatabase.onCommit on $name', (engine) => {
  // Where the engine is not installed, sqlEngines printed "SKIP <file> on <engine>: <why>", and this suite skips.
  describe.skipIf(engine.missing !== undefined)('where the engine is installed (else skipped, the reason printed as SKIP)', () => {
    engine.setUp();
    let db: SqlDatabase;
    let commits: number;

    // A fresh database per test; closed and removed by the engine when the test ends.
    beforeEach(async () => {
      db = await engine.open();
      await db.exec('CREATE TABLE t (v TEXT NOT NULL)');
      commits = 0;
      db.onCommit(() => (commits += 1));
    });

    it('fires after a standalone write that changed rows, not after one that changed none or a read', async () => {
      await db.run('INSERT INTO t (v) VALUES (?)', ['a']);
      expect(commits).toBe(1);
      await db.run('DELETE FROM t WHERE v = ?', ['nothing']);
      await db.get('SELECT * FROM t');
      await db.all('SELECT * FROM t');
      await db.exec('CREATE TABLE schema_only (x INTEGER)');
      expect(commits).toBe(1);
    });

    it('fires once after the outermost COMMIT of a transaction, however many statements and savepoints it held', async () => {
      await db.transaction(async () => {
        await db.run('INSERT INTO t (v) VALUES (?)', ['a']);
        await db.transaction(async () => {
          await db.run('INSERT INTO t (v) VALUES (?)', ['b']);
        });
        // Nothing is announced before the outer COMMIT: a page reading now would see nothing new.
        expect(commits).toBe(0);
      });
      expect(commits).toBe(1);
    });

    it('announces a write made only in a released savepoint', async () => {
      await db.transaction(async () => {
        await db.get('SELECT 1');
        await db.transaction(async () => {
          await db.run('INSERT INTO t (v) VALUES (?)', ['inner']);
        });
      });
      expect(commits).toBe(1);
    });

    it('does not fire for a rolled-back transaction, nor for a read-only one', async () => {
      await expect(
        db.transaction(async () => {
          await db.run('INSERT INTO t (v) VALUES (?)', ['gone']);
          throw new Error('changed my mind');
        }),
      ).rejects.toThrow('changed my mind');
      await db.transaction(async () => {
        await db.all('SELECT * FROM t');
      });
      expect(commits).toBe(0);
      expect(await db.all('SELECT * FROM t')).toEqual([]);
    });

    it('does not count a rolled-back savepoint\'s writes at the outer commit', async () => {
      await db.transaction(async () => {
        await db.transaction(async () => {
          await db.run('INSERT INTO t (v) VALUES (?)', ['gone']);
          throw new Error('inner fails');
        }).catch(() => undefined);
      });
      expect(commits).toBe(0);
      expect(await db.all('SELECT * FROM t')).toEqual([]);
    });

    it('does not fire when a constraint refuses the write, and survives a listener that throws', async () => {
      await db.exec('CREATE TABLE u (v TEXT NOT NULL UNIQUE)');
      await db.run('INSERT INTO u (v) VALUES (?)', ['x']);
      expect(commits).toBe(1);
      await expect(db.run('INSERT INTO u (v) VALUES (?)', ['x'])).rejects.toMatchObject({ kind: 'conflict' });
      expect(commits).toBe(1);
      db.onCommit(() => {
        throw new Error('a broken listener');
      });
      await expect(db.run('INSERT INTO u (v) VALUES (?)', ['y'])).resolves.toMatchObject({ changes: 1 });
      expect(commits).toBe(2);
    });
  });
});
